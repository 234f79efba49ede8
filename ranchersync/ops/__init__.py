"""Operations: the Prometheus exporter, database backup and restore, the site check for a CronJob, and the demo."""

# What the package offers: its modules, imported by name (`from ranchersync.ops import backup`),
# so that a command loads only what it uses.
__all__ = ["backup", "check", "demo", "demo_history", "exporter"]
