"""Taking returned forms in: guard (untrusted bytes stop here), read (answers by defined name), marks (what
counts as a tick), validate (rules that yield problems) and inbox (the nightly batch: decide, archive,
quarantine, record)."""
