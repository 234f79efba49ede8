"""Freeze windows: periods in which syncs into an environment are refused (DESIGN.md, "Freeze window").

Three kinds: a one-off window (`from`–`to`), a weekly one (`Fri 16:00-Mon 08:00` in a time zone) and stop-all
(incident mode: every environment, from now until an admin lifts it). Rollbacks are never refused; an admin may
sync into a frozen environment with a reason, and the override is audited.

A weekly window keeps its wall-clock times across daylight-saving changes; that schedule (parsing, the DST rules,
inside / next end / next start) is pure and lives in `ranchersync.governance.freeze_schedule`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ranchersync import notify
from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.governance.freeze_schedule import WeeklyRule, WeeklyWindow, local_text, zone
from ranchersync.kernel.errors import EnvironmentFrozen, ValidationError
from ranchersync.models import Environment, FreezeWindow, utcnow

REASON_MAX_LENGTH: Final = 500


# ---- what is frozen now --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freeze:
    """Why an environment is frozen now: the window, its reason, and when the environment reopens."""

    window_id: int
    kind: str  # once, weekly, stop_all
    schedule: str  # how the window reads: "weekly Fri 16:00-Mon 08:00 (Europe/Berlin)"
    reason: str
    created_by: str
    timezone: str
    reopens_at: dt.datetime | None  # None: until an admin lifts it (stop-all)

    @property
    def reopens_text(self) -> str:
        """"reopens Mon 30 Mar 2026 08:00 CEST (06:00 UTC)", or "until an admin lifts it"."""
        if self.reopens_at is None:
            return "until an admin lifts it"
        return f"reopens {local_text(self.reopens_at, self.timezone)}"

    @property
    def label(self) -> str:
        """The window as a message names it: "freeze window #3 (weekly Fri 16:00-Mon 08:00, Europe/Berlin)"."""
        if self.kind == "stop_all":
            return f"stop-all #{self.window_id}"
        return f"freeze window #{self.window_id} ({self.schedule})"


@dataclass(frozen=True)
class WindowView:
    """A freeze window as a list shows it, with its state at the time it was read."""

    id: int
    environment_id: int | None
    environment: str  # "every environment" for stop-all
    kind: str
    schedule: str
    timezone: str
    reason: str
    created_by: str
    created_at: dt.datetime
    active: bool
    reopens_at: dt.datetime | None  # when active: its end (None: until lifted)
    next_start: dt.datetime | None  # when not active: its next start (None: over)


def schedule_text(window: FreezeWindow) -> str:
    """How a window reads: "weekly Fri 16:00-Mon 08:00 (Europe/Berlin)", "once …", "stop-all since …"."""
    if window.kind == "weekly":
        return f"weekly {window.weekly} ({window.timezone})"
    if window.kind == "stop_all":
        return f"every environment since {local_text(_aware(window.starts_at), window.timezone)}"
    return (f"once {local_text(_aware(window.starts_at), window.timezone)} to "
            f"{local_text(_aware(window.ends_at), window.timezone)}")


def _aware(value: dt.datetime | None) -> dt.datetime:
    assert value is not None, "a one-off or stop-all window has its times"
    return value


def _span(window: FreezeWindow, at: dt.datetime) -> tuple[bool, dt.datetime | None, dt.datetime | None]:
    """(active at `at`, when it ends if active, when it next starts if not)."""
    if window.lifted_at is not None:
        return False, None, None
    if window.kind == "weekly":
        weekly = WeeklyWindow(WeeklyRule.parse(window.weekly or ""), zone(window.timezone))
        end = weekly.ends_after(at)
        return (True, end, None) if end is not None else (False, None, weekly.next_start(at))
    start = _aware(window.starts_at)
    if window.kind == "stop_all":
        return (True, None, None) if start <= at else (False, None, start)
    end = _aware(window.ends_at)
    if start <= at < end:
        return True, end, None
    return False, None, start if at < start else None


def _freeze_of(windows: Sequence[FreezeWindow], at: dt.datetime) -> Freeze | None:
    """The freeze `windows` put on one environment at `at`: the window in force (stop-all first, else the one
    ending last) and when the environment really reopens (windows that touch or overlap are followed)."""
    spans = [(w, *_span(w, at)) for w in windows]
    active = [(w, end) for w, on, end, _ in spans if on]
    if not active:
        return None
    window, _ = max(active, key=lambda pair: (pair[0].kind == "stop_all", pair[1] or at))
    reopens: dt.datetime | None = at
    for _ in range(50):  # windows that touch or overlap: follow them; each step moves forward
        assert reopens is not None
        ends = [end for w in windows for on, end, _ in (_span(w, reopens),) if on]
        if not ends:
            break
        if any(end is None for end in ends):
            reopens = None
            break
        reopens = max(end for end in ends if end is not None)
    return Freeze(window.id, window.kind, schedule_text(window), window.reason, window.created_by, window.timezone,
                  reopens)


def _windows(session: Session, environment_id: int | None = None) -> list[FreezeWindow]:
    """Windows not lifted: of one environment and stop-all, or all of them."""
    stmt = select(FreezeWindow).where(FreezeWindow.lifted_at.is_(None)).order_by(FreezeWindow.id)
    if environment_id is not None:
        stmt = stmt.where(or_(FreezeWindow.environment_id == environment_id, FreezeWindow.environment_id.is_(None)))
    return list(session.scalars(stmt))


def active_freeze(session: Session, environment: Environment | int | str, now: dt.datetime | None = None
                  ) -> Freeze | None:
    """Why `environment` is frozen at `now`, or None when syncs into it are allowed."""
    env = environment if isinstance(environment, Environment) else get_environment(session, environment)
    return _freeze_of(_windows(session, env.id), now or utcnow())


def frozen_environments(session: Session, now: dt.datetime | None = None) -> dict[int, Freeze]:
    """Every frozen environment's freeze, by environment id (the dashboard's badges: one read for all)."""
    at = now or utcnow()
    windows = _windows(session)
    everywhere = [w for w in windows if w.environment_id is None]
    frozen: dict[int, Freeze] = {}
    for env_id in session.scalars(select(Environment.id)):
        freeze = _freeze_of([*everywhere, *(w for w in windows if w.environment_id == env_id)], at)
        if freeze is not None:
            frozen[env_id] = freeze
    return frozen


def frozen_message(environment: str, freeze: Freeze) -> str:
    """The refusal as the CLI and the dashboard print it, naming the window and when it ends."""
    by = f"{freeze.reason}" if freeze.reason else "no reason given"
    return f"{environment} is frozen by {freeze.label}: {by}; it {freeze.reopens_text}"


def check_sync_allowed(
    session: Session,
    actor: Actor,
    environment: Environment | int | str,
    now: dt.datetime | None = None,
    override_reason: str | None = None,
) -> Freeze | None:
    """Refuse a sync into a frozen environment (EnvironmentFrozen, exit 3) unless an admin overrides it with a
    reason; the override is audited in the caller's transaction. Returns the freeze that was overridden, if any."""
    env = environment if isinstance(environment, Environment) else get_environment(session, environment)
    freeze = active_freeze(session, env, now)
    if freeze is None:
        return None
    reason = (override_reason or "").strip()
    if not reason:
        raise EnvironmentFrozen(frozen_message(env.name, freeze),
                                hint="Wait until it reopens, or, as an admin, override it with a reason "
                                     "(CLI: --override-freeze --reason \"…\").")
    require(actor, "override_freeze")
    audit.record(session, actor, "freeze.override", object_type="environment", object_id=env.id,
                 object_name=env.name, after={"window": freeze.window_id, "kind": freeze.kind,
                                              "schedule": freeze.schedule},
                 detail=_clean_reason(reason))
    notify.freeze_event(session, "freeze.override", actor.email, env, reason, frozen_message(env.name, freeze))
    return freeze


# ---- use-cases: managing windows -----------------------------------------------------------------------------------


def _clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationError("give a reason: it is shown to whoever is refused, and kept in the audit log")
    if len(text) > REASON_MAX_LENGTH:
        raise ValidationError(f"the reason is longer than {REASON_MAX_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValidationError("the reason must be one line without control characters")
    return text


def _snapshot(window: FreezeWindow) -> dict[str, object]:
    return {"kind": window.kind, "schedule": schedule_text(window), "reason": window.reason}


def add_window(
    session: Session,
    actor: Actor,
    *,
    environment: int | str,
    reason: str,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    weekly: str | None = None,
    timezone: str = "UTC",
    now: dt.datetime | None = None,
) -> FreezeWindow:
    """Add a one-off (`starts_at`–`ends_at`) or a weekly window to an environment; the caller commits."""
    require(actor, "manage_freeze")
    env = get_environment(session, environment)
    text = _clean_reason(reason)
    tz_name = str(zone(timezone))
    if (weekly is None) == (starts_at is None and ends_at is None):
        raise ValidationError("give either a start and an end (a one-off window) or a weekly window, not both")
    window = FreezeWindow(environment_id=env.id, timezone=tz_name, reason=text, created_by=actor.email)
    if weekly is not None:
        window.kind, window.weekly = "weekly", str(WeeklyRule.parse(weekly))
    else:
        if starts_at is None or ends_at is None:
            raise ValidationError("a one-off window needs both a start and an end")
        if starts_at.tzinfo is None or ends_at.tzinfo is None:
            raise ValidationError("a window's start and end need a time zone")
        if ends_at <= starts_at:
            raise ValidationError("a window must end after it starts")
        if ends_at <= (now or utcnow()):
            raise ValidationError("this window is already over: its end is in the past")
        window.kind, window.starts_at, window.ends_at = "once", starts_at, ends_at
    session.add(window)
    session.flush()
    audit.record(session, actor, "freeze.add", object_type="freeze_window", object_id=window.id,
                 object_name=env.name, after=_snapshot(window))
    return window


def remove_window(session: Session, actor: Actor, window_id: int, now: dt.datetime | None = None) -> FreezeWindow:
    """Lift a window (it is kept, marked lifted, so the audit log's references stay readable)."""
    require(actor, "manage_freeze")
    window = session.get(FreezeWindow, window_id)
    if window is None or window.lifted_at is not None:
        raise ValidationError(f"there is no freeze window #{window_id} in force (see `freeze list`)")
    if window.kind == "stop_all":
        raise ValidationError(f"#{window_id} is a stop-all: lift it with `freeze lift-all`")
    env_name = _environment_name(session, window)
    window.lifted_at, window.lifted_by = now or utcnow(), actor.email
    session.flush()
    audit.record(session, actor, "freeze.remove", object_type="freeze_window", object_id=window.id,
                 object_name=env_name, before=_snapshot(window))
    return window


def stop_all(session: Session, actor: Actor, reason: str, now: dt.datetime | None = None) -> FreezeWindow:
    """Incident mode: freeze every environment from now until an admin lifts it."""
    require(actor, "manage_freeze")
    text = _clean_reason(reason)
    current = _stop_all_in_force(session)
    if current is not None:
        raise ValidationError(f"a stop-all is already in force (#{current.id} by {current.created_by}: "
                              f"{current.reason})")
    window = FreezeWindow(environment_id=None, kind="stop_all", starts_at=now or utcnow(), timezone="UTC",
                          reason=text, created_by=actor.email)
    session.add(window)
    session.flush()
    audit.record(session, actor, "freeze.stop_all", object_type="freeze_window", object_id=window.id,
                 object_name="every environment", after=_snapshot(window))
    notify.freeze_event(session, "freeze.stop_all", actor.email, None, text, "stop-all: every environment is frozen")
    return window


def lift_all(session: Session, actor: Actor, reason: str = "", now: dt.datetime | None = None) -> FreezeWindow:
    """End incident mode: lift the stop-all in force (other windows stay)."""
    require(actor, "manage_freeze")
    window = _stop_all_in_force(session)
    if window is None:
        raise ValidationError("no stop-all is in force")
    window.lifted_at, window.lifted_by = now or utcnow(), actor.email
    session.flush()
    audit.record(session, actor, "freeze.lift_all", object_type="freeze_window", object_id=window.id,
                 object_name="every environment", before=_snapshot(window),
                 detail=(reason or "").strip())
    notify.freeze_event(session, "freeze.stop_all", actor.email, None, (reason or "").strip(),
                        "stop-all lifted: syncs are allowed again")
    return window


def _stop_all_in_force(session: Session) -> FreezeWindow | None:
    return session.scalar(select(FreezeWindow).where(FreezeWindow.kind == "stop_all",
                                                     FreezeWindow.lifted_at.is_(None)).order_by(FreezeWindow.id))


def _environment_name(session: Session, window: FreezeWindow) -> str:
    if window.environment_id is None:
        return "every environment"
    env = session.get(Environment, window.environment_id)
    return env.name if env is not None else f"#{window.environment_id}"


def list_windows(session: Session, environment: int | str | None = None, now: dt.datetime | None = None
                 ) -> list[WindowView]:
    """Windows in force (not lifted, not over), of one environment (with stop-all) or all; a read, open to anyone
    who may see the catalogue."""
    at = now or utcnow()
    env_id = get_environment(session, environment).id if environment is not None else None
    names: dict[int | None, str] = {i: n for i, n in session.execute(select(Environment.id, Environment.name))}
    views = [_view(window, names, at) for window in _windows(session, env_id)]
    return [v for v in views if v.active or v.next_start is not None]  # a one-off window that is over: gone


def window_view(session: Session, window: FreezeWindow, now: dt.datetime | None = None) -> WindowView:
    """One window as a list shows it (what `freeze add` prints)."""
    return _view(window, {window.environment_id: _environment_name(session, window)}, now or utcnow())


def _view(window: FreezeWindow, names: Mapping[int | None, str], at: dt.datetime) -> WindowView:
    active, end, start = _span(window, at)
    return WindowView(
        id=window.id, environment_id=window.environment_id,
        environment=names.get(window.environment_id, "every environment") if window.environment_id
        else "every environment",
        kind=window.kind, schedule=schedule_text(window), timezone=window.timezone, reason=window.reason,
        created_by=window.created_by, created_at=window.created_at, active=active, reopens_at=end,
        next_start=start,
    )


def window_payload(view: WindowView) -> dict[str, object]:
    """A window as `freeze … --json` prints it (camelCase keys)."""
    from ranchersync.kernel.timefmt import iso

    return {"id": view.id, "environmentId": view.environment_id, "environment": view.environment,
            "kind": view.kind, "schedule": view.schedule, "timezone": view.timezone, "reason": view.reason,
            "createdBy": view.created_by, "createdAt": iso(view.created_at), "active": view.active,
            "reopensAt": iso(view.reopens_at), "nextStart": iso(view.next_start)}
