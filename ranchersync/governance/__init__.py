"""Governance of syncs: freeze windows (freeze, freeze_schedule), locks with a message (locks), the four-eyes rule
(four_eyes) and quarantined images (quarantine); the requests themselves are `ranchersync.approvals`, identity and
audit `ranchersync.access`."""

# What the package offers: its modules, imported by name (`from ranchersync.governance import four_eyes`),
# so that a command loads only what it uses.
__all__ = ["four_eyes", "freeze", "freeze_schedule", "locks", "quarantine"]
