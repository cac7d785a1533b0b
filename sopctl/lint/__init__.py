"""`sopctl lint`: the rule catalogue run over playbooks."""
