"""The schedule of freeze windows, pure: weekly windows in wall-clock time ("Fri 16:00-Mon 08:00" in a time zone),
whether an instant is inside one, when it ends, when the next begins; and the instants of one-off windows.

Weekly windows keep their wall-clock times across daylight-saving changes: "Fri 16:00-Mon 08:00" in Europe/Berlin
starts at 16:00 and ends at 08:00 Berlin time whatever the offset, so a window spanning a change is an hour shorter
or longer in real time. A wall-clock time that does not exist (the spring-forward gap, 02:00–03:00 on the last Sunday
of March in Berlin) takes effect when the clocks jump, at the first instant after the gap (03:00); one that exists
twice (the autumn fall-back, 02:00–03:00 on the last Sunday of October) takes effect at its first occurrence (the
summer-time one). Both ends of a window follow that rule, so "Fri 16:00-Mon 08:00" and "Mon 08:00-Fri 16:00" always
cover the week exactly between them.

What is frozen now, and managing windows, live in `ranchersync.governance.freeze`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ranchersync.kernel.errors import ValidationError

DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES: Final = {name.lower(): i for i, name in enumerate(DAYS)} | {
    full: i for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}
_WEEKLY: Final = re.compile(r"^\s*([a-z]+)\s+(\d{1,2}):(\d{2})\s*-\s*([a-z]+)\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)
_WEEK: Final = dt.timedelta(days=7)


# ---- the weekly rule (pure) ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeeklyRule:
    """A weekly window in wall-clock time, e.g. Fri 16:00 to Mon 08:00; it may wrap over the end of the week."""

    start_day: int  # 0 = Monday
    start: dt.time
    end_day: int
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> WeeklyRule:
        """Read "Fri 16:00-Mon 08:00" (day names in English, three letters or in full; 24-hour times)."""
        match = _WEEKLY.match(text or "")
        if match is None:
            raise ValidationError(f"'{text}' is not a weekly window: write it like \"Fri 16:00-Mon 08:00\"")
        start_day, start = _day(match.group(1)), _time(match.group(2), match.group(3))
        end_day, end = _day(match.group(4)), _time(match.group(5), match.group(6))
        if (start_day, start) == (end_day, end):
            raise ValidationError(f"'{text}' starts and ends at the same time: the window would be empty")
        return cls(start_day, start, end_day, end)

    def __str__(self) -> str:
        return f"{DAYS[self.start_day]} {self.start:%H:%M}-{DAYS[self.end_day]} {self.end:%H:%M}"

    @property
    def span_days(self) -> int:
        """How many calendar days after the start day the window ends (0 to 7)."""
        days = (self.end_day - self.start_day) % 7
        return 7 if days == 0 and self.end <= self.start else days

    def occurrences(self, zone: dt.tzinfo, around: dt.datetime, weeks: Sequence[int] = (-1, 0, 1, 2)
                    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """[start, end) in UTC of the window in the weeks around `around` (0: the local week holding it)."""
        monday = around.astimezone(zone).date() - dt.timedelta(days=around.astimezone(zone).weekday())
        for week in weeks:
            first = monday + dt.timedelta(days=7 * week + self.start_day)
            last = first + dt.timedelta(days=self.span_days)
            yield (wall_to_utc(dt.datetime.combine(first, self.start), zone),
                   wall_to_utc(dt.datetime.combine(last, self.end), zone))


def _day(name: str) -> int:
    try:
        return _DAY_NAMES[name.lower()]
    except KeyError:
        raise ValidationError(f"'{name}' is not a day: use {', '.join(DAYS)}") from None


def _time(hours: str, minutes: str) -> dt.time:
    if int(hours) > 23 or int(minutes) > 59:
        raise ValidationError(f"{hours}:{minutes} is not a time of day: use 24-hour times from 00:00 to 23:59")
    return dt.time(int(hours), int(minutes))


def zone(name: str) -> ZoneInfo:
    """An IANA time zone ("Europe/Berlin", "UTC"), or a ValidationError."""
    try:
        return ZoneInfo((name or "").strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone '{name}': use an IANA name such as Europe/Berlin or UTC") from None


def wall_to_utc(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The instant a naive wall-clock time in `tz` means: its first occurrence when it exists twice, the first
    instant after the gap when the clocks jump over it (see the module's docstring)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In a gap: the two folds bracket the jump; find the first instant whose wall clock reaches `wall`.
    low, high = sorted((first, wall.replace(tzinfo=tz, fold=1).astimezone(dt.UTC)))
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


@dataclass(frozen=True)
class WeeklyWindow:
    """A weekly rule in a time zone: whether an instant is inside, when the window ends, when the next begins."""

    rule: WeeklyRule
    tz: dt.tzinfo

    def contains(self, at: dt.datetime) -> bool:
        """Whether `at` (aware) is inside the window."""
        return any(start <= at < end for start, end in self.rule.occurrences(self.tz, at))

    def ends_after(self, at: dt.datetime) -> dt.datetime | None:
        """When the window holding `at` ends (None when `at` is outside)."""
        spans = sorted(self.rule.occurrences(self.tz, at, weeks=(-1, 0, 1, 2, 3)))
        end = None
        for start, stop in spans:
            if start <= (end or at) < stop:  # an occurrence lengthened by a DST change may touch the next one
                end = stop
        return end

    def next_start(self, at: dt.datetime) -> dt.datetime:
        """The first start of the window after `at`."""
        return min(start for start, _ in self.rule.occurrences(self.tz, at, weeks=(0, 1, 2)) if start > at)


# ---- one-off times (pure) ------------------------------------------------------------------------------------------


def parse_instant(text: str, tz_name: str = "UTC") -> dt.datetime:
    """An ISO 8601 date-time ("2026-12-24T16:00", "2026-12-24 16:00+01:00"); without an offset it is read in
    `tz_name` by the rule for weekly windows (first occurrence; after a gap)."""
    try:
        value = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError(f"'{text}' is not a date and time: write it like 2026-12-24T16:00") from None
    try:
        if value.tzinfo is None:
            return wall_to_utc(value, zone(tz_name))
        return value.astimezone(dt.UTC)
    except OverflowError:  # the first or last days a datetime holds, moved by a zone's offset
        raise ValidationError(f"'{text}' is out of range: write a date between years 2 and 9998") from None


def local_text(at: dt.datetime, tz_name: str) -> str:
    """An instant as people of that zone read it, with the UTC time beside it: "Mon 30 Mar 2026 08:00 CEST
    (06:00 UTC)"."""
    local = at.astimezone(zone(tz_name))
    text = f"{local:%a %d %b %Y %H:%M} {local.tzname()}"
    return text if local.utcoffset() == dt.timedelta(0) else f"{text} ({at.astimezone(dt.UTC):%H:%M} UTC)"

