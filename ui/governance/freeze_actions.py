"""Write use-cases of the freeze controls: one session per action, the core call as the actor the frame read, then the
freeze reads cleared. Each returns an Outcome (ui/shell/outcome.py) instead of raising."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ranchersync.access.identity import Actor
from ranchersync.governance import freeze
from ranchersync.kernel.errors import RancherSyncError
from ui.governance import freeze_reads
from ui.shell import deps
from ui.shell.outcome import Outcome


def _attempt(work: Callable[[], Outcome]) -> Outcome:
    try:
        return work()
    except RancherSyncError as error:
        return Outcome.failed(error)
    finally:
        freeze_reads.clear()


def add_window(
    actor: Actor,
    *,
    environment_id: int,
    reason: str,
    weekly: str | None = None,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    timezone: str = "UTC",
) -> Outcome:
    """Add a weekly or one-off window to an environment."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            window = freeze.add_window(session, actor, environment=environment_id, reason=reason,
                                       weekly=weekly, starts_at=starts_at, ends_at=ends_at, timezone=timezone)
            view = freeze.window_view(session, window)
        return Outcome.done(f"Freeze window #{view.id} added to {view.environment}: {view.schedule}.")

    return _attempt(work)


def remove_window(actor: Actor, window_id: int) -> Outcome:
    """Lift one window."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            window = freeze.remove_window(session, actor, window_id)
            view = freeze.window_view(session, window)
        return Outcome.done(f"Freeze window #{view.id} of {view.environment} lifted.")

    return _attempt(work)


def stop_all(actor: Actor, reason: str) -> Outcome:
    """Freeze every environment now (incident mode)."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            window = freeze.stop_all(session, actor, reason)
        return Outcome.done(f"Stop-all #{window.id}: every environment is frozen until it is lifted.")

    return _attempt(work)


def lift_all(actor: Actor, reason: str) -> Outcome:
    """End incident mode."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            window = freeze.lift_all(session, actor, reason)
        return Outcome.done(f"Stop-all #{window.id} lifted: syncs are allowed again outside freeze windows.")

    return _attempt(work)
