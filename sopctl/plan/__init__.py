"""The plan: a playbook and its groups turned into concrete occurrences in time."""
