"""Environment snapshots: what every service of an environment ran (per container: image and digest), recorded
immutable by hand or before every sync (store), and compared (entries, pure). Promoting and restoring them is
`ranchersync.trains`; planning from one is the sync's (`ranchersync.sync.plan_snapshot`)."""

# What the package offers: its modules, imported by name (`from ranchersync.snapshots import store`),
# so that a command loads only what it uses.
__all__ = ["entries", "store"]
