"""The live inventory's collector (`python -m ranchersync collect`): per (site, cluster) and kind one list, then a
watch, kept in memory and written to the database as it changes, so every reader answers without asking Rancher.
One collector is active at a time (a lease row); the others stand by and take over when its lease lapses."""

# Its modules, imported by name.
__all__ = ["clusterstate", "lease", "run", "watcher", "writer"]
