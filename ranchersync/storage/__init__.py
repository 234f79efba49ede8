"""The database: engine and sessions (db), unique-name and cascade rules of the catalogue tables (store), and
look-ups by name or id (lookup); the models are `ranchersync.models`."""

# What the package offers: its modules, imported by name (`from ranchersync.storage import db`),
# so that a command loads only what it uses.
__all__ = ["db", "lookup", "store"]
