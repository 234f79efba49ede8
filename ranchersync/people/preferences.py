"""Each person's display preferences (by e-mail: the signed-in identity, or the local user): default environment,
time zone and date format, default compare mode, rows per page, the theme, which notifications they want by e-mail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.kernel.errors import ValidationError
from ranchersync.models import Environment, UserPreference
from ranchersync.notify.events import SUBSCRIBABLE

# Date formats by name: what a person picks, and the strftime pattern the screens use (always with the time after).
DATE_FORMATS: Final[dict[str, str]] = {
    "iso": "%Y-%m-%d",  # 2026-11-20
    "european": "%d.%m.%Y",  # 20.11.2026
    "british": "%d/%m/%Y",  # 20/11/2026
    "us": "%m/%d/%Y",  # 11/20/2026
    "long": "%d %b %Y",  # 20 Nov 2026
}
ROWS_PER_PAGE: Final = (10, 25, 50, 100, 200)
THEMES: Final = ("", "light", "dark")  # "": the browser's (its own switch, per page)


@dataclass(frozen=True)
class Preferences:
    """One person's choices; the defaults for someone who never saved any."""

    email: str
    default_environment_id: int | None = None
    timezone: str = ""  # "": the browser's
    date_format: str = "iso"
    compare_by: str = "image"
    rows_per_page: int = 25
    email_events: tuple[str, ...] = field(default=())
    theme: str = ""  # THEMES

    @property
    def date_pattern(self) -> str:
        """The strftime pattern of the chosen date format."""
        return DATE_FORMATS.get(self.date_format, DATE_FORMATS["iso"])


def get_preferences(session: Session, email: str) -> Preferences:
    """The stored preferences of `email`, or the defaults."""
    row = session.scalar(select(UserPreference).where(UserPreference.email == email.lower()))
    if row is None:
        return Preferences(email.lower())
    return Preferences(row.email, row.default_environment_id, row.timezone, row.date_format, row.compare_by,
                       row.rows_per_page, tuple(row.email_events or ()), row.theme or "")


def save_preferences(session: Session, actor: Actor, prefs: Preferences) -> Preferences:
    """Store `actor`'s own preferences after checking each value; the caller commits. Anyone may change their own."""
    if prefs.email.lower() != actor.email.lower():
        raise ValidationError("you can only change your own preferences")
    if prefs.timezone and prefs.timezone not in _zones():
        try:
            ZoneInfo(prefs.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone '{prefs.timezone}': use an IANA name such as Europe/Berlin") \
                from None
    if prefs.date_format not in DATE_FORMATS:
        raise ValidationError(f"unknown date format '{prefs.date_format}': use one of {', '.join(DATE_FORMATS)}")
    if prefs.compare_by not in ("image", "tag"):
        raise ValidationError("compare mode must be 'image' (full image) or 'tag'")
    if prefs.rows_per_page not in ROWS_PER_PAGE:
        raise ValidationError(f"rows per page must be one of {', '.join(map(str, ROWS_PER_PAGE))}")
    if prefs.theme not in THEMES:
        raise ValidationError("theme must be 'light', 'dark' or empty (the browser's)")
    unknown = [e for e in prefs.email_events if e not in SUBSCRIBABLE]
    if unknown:
        raise ValidationError(f"unknown event(s) {', '.join(unknown)}")
    if prefs.default_environment_id is not None and session.get(Environment, prefs.default_environment_id) is None:
        raise ValidationError("that environment no longer exists")
    row = session.scalar(select(UserPreference).where(UserPreference.email == actor.email.lower()))
    before = None if row is None else {"timezone": row.timezone, "dateFormat": row.date_format}
    if row is None:
        row = UserPreference(email=actor.email.lower())
        session.add(row)
    row.default_environment_id, row.timezone, row.date_format = (prefs.default_environment_id, prefs.timezone,
                                                                 prefs.date_format)
    row.compare_by, row.rows_per_page, row.email_events = prefs.compare_by, prefs.rows_per_page, list(
        prefs.email_events)
    row.theme = prefs.theme
    session.flush()
    audit.record(session, actor, "preferences.update", object_type="user", object_id=actor.email,
                 object_name=actor.email, before=before,
                 after={"timezone": prefs.timezone, "dateFormat": prefs.date_format,
                        "compareBy": prefs.compare_by, "rowsPerPage": prefs.rows_per_page, "theme": prefs.theme})
    return get_preferences(session, actor.email)


def _zones() -> set[str]:
    return available_timezones()
