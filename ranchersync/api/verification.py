"""The HTTP API's calls for verification gates (issue 23; DESIGN.md "Verification gates, soak and promotion policy").

app.py adds ENDPOINTS to the application and to the OpenAPI document."""

from __future__ import annotations

from typing import Final

from ranchersync.api.spec import Endpoint

__all__ = ["ENDPOINTS"]

ENDPOINTS: Final[tuple[Endpoint, ...]] = ()
