"""`sopctl simulate`: a member-dynamics forecast built on the plan (docs/simulation.md)."""
