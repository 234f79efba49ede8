"""The kernel: errors, settings, validation, text safety, formatting, logs — plain pieces every other package
builds on; it imports nothing else of the project."""

# What the package offers: its modules, imported by name (`from ranchersync.kernel import config`),
# so that a command loads only what it uses.
__all__ = [
    "config", "csvexport", "detach", "errors", "humanize", "images", "logs", "roles", "textsafe", "timefmt",
    "validation",
]
