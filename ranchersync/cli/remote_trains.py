"""The remote CLI's commands for snapshots, restore, locks and schedules (issue 24): each prints the API's payloads
through the local command's own row and text functions, so output and exit status are the local ones (see
remote.py)."""

from __future__ import annotations

from ranchersync.cli.remote import Remote

# The local handlers ("module.name" of ranchersync.cli, e.g. "locks.cmd_add") and their remote twins.
REMOTE: dict[str, Remote] = {}
