"""The HTTP API's calls for registries, images and quarantine (issue 22; DESIGN.md "Registries and images").

app.py adds ENDPOINTS to the application and to the OpenAPI document."""

from __future__ import annotations

from typing import Final

from ranchersync.api.spec import Endpoint

__all__ = ["ENDPOINTS"]

ENDPOINTS: Final[tuple[Endpoint, ...]] = ()
