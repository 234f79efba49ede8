"""The catalogue: Rancher sites (with their encrypted tokens), environments in pipeline order, app instances, the
rules about them (rules) and their `--json` payloads."""

# What the package offers: its modules, imported by name (`from ranchersync.catalogue import environments`),
# so that a command loads only what it uses.
__all__ = ["environments", "instances", "payloads", "rules", "sites"]
