"""People: where a person's role comes from, sign-in and the audited role assignments (directory), each person's
preferences, and the API tokens pipelines act with (tokens)."""

# What the package offers: its modules, imported by name (`from ranchersync.people import directory`),
# so that a command loads only what it uses.
__all__ = ["directory", "preferences", "tokens"]
