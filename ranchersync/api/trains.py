"""The HTTP API's calls for snapshots, restore, locks and schedules (issue 24; DESIGN.md "Snapshots, locks and
schedules").

app.py adds ENDPOINTS to the application and to the OpenAPI document."""

from __future__ import annotations

from typing import Final

from ranchersync.api.spec import Endpoint

__all__ = ["ENDPOINTS"]

ENDPOINTS: Final[tuple[Endpoint, ...]] = ()
