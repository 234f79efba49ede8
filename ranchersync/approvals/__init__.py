"""Four-eyes approvals: requests bound to the exact plan (requests, binding), and the one way in for a sync that
applies now or requests (promote); approvals given before a scheduled sync fires (ahead)."""

# What the package offers: its modules, imported by name (`from ranchersync.approvals import binding`),
# so that a command loads only what it uses.
__all__ = ["ahead", "binding", "promote", "requests"]
