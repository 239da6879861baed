"""Personal data kept only as long as needed: forgetting a leader, retention, the audit trail."""
