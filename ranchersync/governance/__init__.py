"""Who may do what, and the record of what they did: identity and roles, the audit chain, freeze windows and
four-eyes approvals (DESIGN.md, "Identity and roles", "Approval", "Freeze window", "Audit event")."""
