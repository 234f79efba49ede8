"""Pure formatting for the screens: times in the user's zone, ages, token expiry states, contrast colours.

Kept free of Streamlit so it is tested with plain pytest tables.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TOKEN_WARNING_DAYS = 14

TokenLevel = Literal["ok", "warning", "expired", "never", "unknown"]


def zone(name: str | None) -> dt.tzinfo:
    """The user's time zone by IANA name, or UTC when the browser did not tell us or the name is unknown."""
    if not name:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def zone_label(tz: dt.tzinfo) -> str:
    """A short label for a zone: 'UTC', or the zone's own name."""
    if tz is dt.UTC:
        return "UTC"
    return str(getattr(tz, "key", tz))


def when(value: dt.datetime | None, tz: dt.tzinfo, *, empty: str = "—") -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM' in `tz`, with the zone's abbreviation."""
    if value is None:
        return empty
    local = value.astimezone(tz)
    abbreviation = "UTC" if tz is dt.UTC else (local.tzname() or zone_label(tz))
    return f"{local:%Y-%m-%d %H:%M} {abbreviation}"


def ago(value: dt.datetime | None, now: dt.datetime, *, empty: str = "never") -> str:
    """How long ago: 'just now', '5 min ago', '3 h ago', '2 days ago'."""
    if value is None:
        return empty
    seconds = (now - value).total_seconds()
    if seconds < 0:
        return "just now"  # clocks a little apart
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    days = round(seconds / 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


@dataclass(frozen=True)
class TokenState:
    """How close an API token is to its expiry, as a level and a sentence."""

    level: TokenLevel
    text: str


def token_state(
    expires_at: dt.datetime | None, now: dt.datetime, *, tested: bool, tz: dt.tzinfo = dt.UTC
) -> TokenState:
    """The token's expiry as the sites page shows it: a warning from 14 days before, an error once expired.

    `tested` tells apart a token that never expires (a successful test found no expiry) from one whose expiry is
    not known yet (never tested, or replaced since the last test).
    """
    if expires_at is None:
        return TokenState("never", "never expires") if tested else TokenState("unknown", "expiry unknown: test it")
    left = expires_at - now
    if left.total_seconds() <= 0:
        return TokenState("expired", f"expired {ago(expires_at, now)}")
    if left <= dt.timedelta(days=TOKEN_WARNING_DAYS):
        if left < dt.timedelta(days=1):
            soon = f"in {max(math.ceil(left.total_seconds() / 3600), 1)} h"
        else:
            days = math.ceil(left.total_seconds() / 86400)
            soon = f"in {days} days"
        return TokenState("warning", f"expires {soon}")
    return TokenState("ok", f"valid until {expires_at.astimezone(tz):%Y-%m-%d}")


def text_color_for(background: str) -> str:
    """Black or white, whichever reads better on a #RRGGBB background (WCAG relative luminance)."""
    value = background.lstrip("#")
    if len(value) != 6:
        return "#000000"
    try:
        channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    except ValueError:
        return "#000000"
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast against white is (1.05)/(L+0.05), against black (L+0.05)/0.05: pick the larger.
    return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#FFFFFF"


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """'1 site', '3 sites'."""
    return f"{count} {noun if count == 1 else (plural_form or noun + 's')}"


_SYSTEM_NAMESPACE_PREFIXES = ("kube-", "cattle-", "fleet-", "rancher-", "calico-", "tigera-", "ingress-nginx")
_SYSTEM_NAMESPACES = frozenset({"default", "local", "kube-system", "kube-public", "kube-node-lease"})


def is_system_namespace(name: str) -> bool:
    """Whether a namespace belongs to Kubernetes or Rancher rather than to an application."""
    return name in _SYSTEM_NAMESPACES or name.startswith(_SYSTEM_NAMESPACE_PREFIXES)


def namespaces_for_picking(names: list[str]) -> list[str]:
    """Application namespaces first, by name; then the system ones, which are rarely what a user wants."""
    return sorted(names, key=lambda n: (is_system_namespace(n), n))


# ---- services ----------------------------------------------------------------------------------------------------

# The status vocabulary of DESIGN.md, worst first, with a colour each: a badge colour (st.badge) and a mid-tone hex
# that reads on both the light and the dark background (the dataframe cannot use the theme's badge colours).
SERVICE_STATUSES = ("failed", "unknown", "degraded", "updating", "paused", "stopped", "running")
STATUS_BADGE = {
    "running": "green", "updating": "blue", "degraded": "orange", "failed": "red", "stopped": "gray",
    "paused": "violet", "unknown": "gray",
}
STATUS_HEX = {
    "running": "#21A366", "updating": "#3B82F6", "degraded": "#E8890C", "failed": "#E5484D", "stopped": "#8B8D98",
    "paused": "#9D7CE0", "unknown": "#8B8D98",
}
STATUS_MEANING = {
    "running": "rolled out, every replica available",
    "updating": "a rollout is in progress",
    "degraded": "some replicas are not available",
    "failed": "the rollout failed, or no replica is available",
    "stopped": "scaled to zero",
    "paused": "rollouts are paused",
    "unknown": "the state could not be read",
}


def status_text(status: str | None) -> str:
    """A status as a table cell: a dot (coloured by the table's style) and the word."""
    return f"● {status}" if status else ""


def clock(value: dt.datetime, tz: dt.tzinfo) -> str:
    """A time of day in `tz`, to the second: when data was read ('data as of 14:03:22')."""
    return f"{value.astimezone(tz):%H:%M:%S}"


def replicas(available: int, desired: int) -> str:
    """'2/3': available over desired replicas."""
    return f"{available}/{desired}"


def next_in_pipeline(ids: list[int], source: int) -> int | None:
    """The default sync target: the environment after `source` in pipeline order, else the one before it."""
    if source not in ids or len(ids) < 2:
        return None
    index = ids.index(source)
    return ids[index + 1] if index + 1 < len(ids) else ids[index - 1]
