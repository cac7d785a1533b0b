"""Members and events: what happens in a group, and what the SOP does about it."""
