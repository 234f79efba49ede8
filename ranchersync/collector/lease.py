"""One collector at a time: a lease row that the active collector renews every second; another takes it over once
it has lapsed for LEASE_SECONDS (its holder died or lost the database). A row rather than a PostgreSQL advisory
lock, so SQLite and PostgreSQL behave alike, and the lease carries the heartbeat readers check."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ranchersync.models import CollectorLease, utcnow

NAME = "collector"
LEASE_SECONDS = 5.0  # a dead collector is replaced within this (plus the stand-by's poll)


def try_acquire(session: Session, holder: str, now: dt.datetime | None = None) -> bool:
    """Take or renew the lease for `holder`: True when it holds it until LEASE_SECONDS from now.
    One conditional UPDATE, so two collectors racing cannot both win."""
    now = now or utcnow()
    if session.get(CollectorLease, NAME) is None:
        try:
            with session.begin_nested():
                session.add(CollectorLease(name=NAME, holder="", expires_at=None, heartbeat_at=None, changes=0))
        except IntegrityError:
            pass  # another collector made it first
    result = session.execute(
        update(CollectorLease)
        .where(CollectorLease.name == NAME,
               or_(CollectorLease.holder == holder, CollectorLease.expires_at.is_(None),
                   CollectorLease.expires_at < now))
        .values(holder=holder, expires_at=now + dt.timedelta(seconds=LEASE_SECONDS), heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, holder: str) -> None:
    """Give the lease up at once (a clean stop), so a stand-by need not wait for it to lapse."""
    session.execute(update(CollectorLease).where(CollectorLease.name == NAME, CollectorLease.holder == holder)
                    .values(expires_at=None, heartbeat_at=None).execution_options(synchronize_session=False))


def current(session: Session) -> CollectorLease | None:
    """The lease row (holder, heartbeat, change counter), or None before any collector ran."""
    return session.scalars(select(CollectorLease).where(CollectorLease.name == NAME)).first()
