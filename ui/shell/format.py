"""Pure formatting for the screens: times in the user's zone, contrast colours, status colours and cells.

The rules the CLI shares (ages, plurals, token warnings, namespaces, the default target, the status order) live
in the core: ranchersync/kernel/humanize.py, ranchersync/catalogue/rules.py and ranchersync/inventory/compare.py.
"""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ranchersync.kernel.textsafe import markdown_code

# The person's date format (Settings), set by the frame on every run; each browser session runs in its own thread.
DATE_PATTERN: ContextVar[str] = ContextVar("date_pattern", default="%Y-%m-%d")


def literal(text: object) -> str:
    """An identity (an e-mail, a user name) inside a Markdown sentence, shown and copied exactly as written: a code
    span parses nothing, so it needs none of the escaping (the invisible word joiner that stops an autolink would
    ride along in a copy)."""
    value = str(text)
    return markdown_code(value) if value.strip() else ""


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
    return f"{local.strftime(DATE_PATTERN.get())} {local:%H:%M} {abbreviation}"


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


# ---- services ----------------------------------------------------------------------------------------------------

# The status vocabulary of DESIGN.md (its order, worst first, is the core's compare.STATUS_SEVERITY) with a colour
# each: a badge colour (st.badge) and a mid-tone hex that reads on both the light and the dark background (the
# dataframe cannot use the theme's badge colours).
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
