"""Rancher Sync Manager core: Rancher calls, database and sync logic, free of any UI import."""

__version__ = "0.1.0"
