"""Secrets and reach: the token cipher (crypto), the keys that open it and their rotation (keys), and which hosts a
connection may go to (host_policy)."""

# What the package offers: its modules, imported by name (`from ranchersync.security import crypto`),
# so that a command loads only what it uses.
__all__ = ["cabundle", "crypto", "host_policy", "keys", "pinning"]
