"""`sopctl run`: the ledger, the scheduler loop and the channels that post."""
