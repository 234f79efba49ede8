"""Who acts and what they did: actors, roles and the rule of what each role may do (identity), and the hash-chained
audit log (audit)."""

# What the package offers: its modules, imported by name (`from ranchersync.access import audit`),
# so that a command loads only what it uses.
__all__ = ["audit", "identity"]
