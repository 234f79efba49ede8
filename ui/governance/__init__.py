"""Who may do what and what happened: approvals, freezes, the audit log, people and notifications."""
