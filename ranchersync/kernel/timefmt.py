"""Timestamps as the API payloads write them."""

from __future__ import annotations

import datetime as dt


def iso(value: dt.datetime | None) -> str | None:
    """A UTC timestamp as RFC 3339 with a Z, as the plan's payloads show it."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
