"""Durations, ages and statuses in the words the dashboard and the CLI print. Pure functions."""

from __future__ import annotations

import datetime as dt


def ago(value: dt.datetime | None, now: dt.datetime, *, empty: str = "never") -> str:
    """How long ago: 'just now', '5 min ago', '3 h ago', '2 days ago'."""
    if value is None:
        return empty
    seconds = (now - value).total_seconds()
    if seconds < 45:  # also a moment in the future: clocks a little apart
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    days = round(seconds / 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


def duration_text(seconds: float | None, *, empty: str = "—") -> str:
    """'4.2 s', '45 s', '2 min 5 s', '1 h 3 min', '3 days 5 h' (a lead time of days reads in days, not in dozens of
    hours); `empty` while it runs."""
    if seconds is None:
        return empty
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours + (minutes >= 30), 24)
    word = plural(days, "day")
    return f"{word} {hours} h" if hours else word


# The unit a chart of durations reads in, from its largest value: (seconds per unit, the unit's name).
DURATION_UNITS = ((86400.0, "days"), (3600.0, "hours"), (60.0, "minutes"), (1.0, "seconds"))


def duration_unit(largest: float | None) -> tuple[float, str]:
    """The unit an axis of durations up to `largest` seconds reads best in: days from two days on, hours from two
    hours, minutes from two minutes, else seconds."""
    return next(((size, unit) for size, unit in DURATION_UNITS if (largest or 0) >= 2 * size), DURATION_UNITS[-1])


def compact_duration(seconds: float | None, *, empty: str = "—") -> str:
    """A duration in its largest unit, for a metric card's few characters: '45 s', '1.1 min', '2.5 h', '3 days'."""
    if seconds is None:
        return empty
    for size, unit in ((86400, "days"), (3600, "h"), (60, "min")):
        if seconds >= size:
            value = f"{seconds / size:.1f}".removesuffix(".0")
            return f"{value} {'day' if unit == 'days' and value == '1' else unit}"
    return f"{round(seconds)} s"


def status_word(status: str) -> str:
    """An operation's or a result's status as a user reads it: 'rolled_back' → 'rolled back'."""
    return status.replace("_", " ")


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """'1 site', '3 sites'."""
    return f"{count} {noun if count == 1 else (plural_form or noun + 's')}"


def workload_location(site: str, cluster_name: str, cluster_id: str, namespace: str) -> str:
    """Where a workload runs, named the same on every screen and report: "site · cluster name · namespace" (the
    cluster's id when its name is not known; never the id beside a known name)."""
    return " · ".join(p for p in (site, cluster_name or cluster_id, namespace) if p)
