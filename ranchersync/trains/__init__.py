"""Release trains: promote an environment snapshot as one unit, restore an environment to one (trains), and
scheduled syncs and promotions fired by the scheduler (schedules) — all through `approvals.promote`."""

# What the package offers: its modules, imported by name (`from ranchersync.trains import schedules`),
# so that a command loads only what it uses.
__all__ = ["schedules", "trains"]
