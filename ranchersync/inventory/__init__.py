"""What environments run: reading services from Rancher (reading, listing), running
digests and outside changes (digests, sightings), comparing environments (compare), and their payloads."""

# What the package offers: its modules, imported by name (`from ranchersync.inventory import compare`),
# so that a command loads only what it uses.
__all__ = ["compare", "digests", "listing", "payloads", "reading", "sightings", "stored"]
