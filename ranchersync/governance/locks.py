"""Locks with a message (DESIGN.md, "Snapshots, locks and schedules"): "web: DB migration running — do not promote".

A lock holds a whole environment (no service) or one service of it. A sync, a snapshot promotion, a restore and a
scheduled request that would change a locked target are refused with the lock's message (EnvironmentLocked, exit 3);
rollbacks are not (putting back is what a lock-holder may need). Adding and removing are audited; adding notifies
(`lock.added`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync import notify
from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.kernel.errors import NotFoundError, RefusedByPolicy, ValidationError
from ranchersync.models import Environment, EnvironmentLock, utcnow

MESSAGE_MAX_LENGTH: Final = 500


class EnvironmentLocked(RefusedByPolicy):
    """The target (or one of its services) is locked: the lock's message says why."""

    kind = "environment_locked"
    default_title = "The target is locked"
    default_hint = "Ask who locked it (see `locks list`), or remove the lock when the work it protects is done."


@dataclass(frozen=True)
class LockView:
    """A lock in force, as lists, comparisons and the refusal show it."""

    id: int
    environment_id: int
    environment: str
    service: str | None  # None: the whole environment
    message: str
    created_by: str
    created_at: dt.datetime

    @property
    def scope(self) -> str:
        """"Prod" or "web in Prod"."""
        return f"{self.service} in {self.environment}" if self.service else self.environment

    @property
    def sentence(self) -> str:
        """"web in Prod is locked by ana@example.com: DB migration running"."""
        return f"{self.scope} is locked by {self.created_by} (lock #{self.id}): {self.message}"

    @classmethod
    def of_payload(cls, payload: Any) -> LockView:
        """A lock back from its payload (the remote CLI prints what the API answers with the local words)."""
        at = dt.datetime.fromisoformat(str(payload["createdAt"]).replace("Z", "+00:00"))
        return cls(int(payload["id"]), int(payload["environmentId"]), str(payload["environment"]),
                   payload["service"], str(payload["message"]), str(payload["createdBy"]), at)


def _view(lock: EnvironmentLock, names: dict[int, str]) -> LockView:
    return LockView(lock.id, lock.environment_id, names.get(lock.environment_id, f"#{lock.environment_id}"),
                    lock.service, lock.message, lock.created_by, lock.created_at)


def list_locks(session: Session, environment: int | str | None = None) -> list[LockView]:
    """Locks in force, of one environment or all, oldest first."""
    stmt = select(EnvironmentLock).where(EnvironmentLock.removed_at.is_(None)).order_by(EnvironmentLock.id)
    if environment is not None:
        stmt = stmt.where(EnvironmentLock.environment_id == get_environment(session, environment).id)
    names: dict[int, str] = {i: n for i, n in session.execute(select(Environment.id, Environment.name))}
    return [_view(lock, names) for lock in session.scalars(stmt)]


def locks_by_service(session: Session, environment_id: int) -> dict[str | None, list[LockView]]:
    """An environment's locks in force by service name (None: the whole environment), for tables and badges."""
    found: dict[str | None, list[LockView]] = {}
    for lock in list_locks(session, environment_id):
        found.setdefault(lock.service, []).append(lock)
    return found


def blocking_locks(session: Session, environment: Environment | int | str, services: Collection[str]
                   ) -> list[LockView]:
    """The locks that hold a change of `services` (names) in `environment`: its own, and those of those services."""
    env = environment if isinstance(environment, Environment) else get_environment(session, environment)
    wanted = set(services)
    return [lock for lock in list_locks(session, env.id) if lock.service is None or lock.service in wanted]


def check_unlocked(session: Session, environment: Environment | int | str, services: Collection[str]) -> None:
    """Refuse (EnvironmentLocked, exit 3) a change of `services` in a locked environment or of a locked service,
    naming every lock and its message."""
    found = blocking_locks(session, environment, services)
    if found:
        raise EnvironmentLocked("; ".join(lock.sentence for lock in found))


def _clean_message(message: str) -> str:
    text = (message or "").strip()
    if not text:
        raise ValidationError("give a message: it is shown to whoever is refused")
    if len(text) > MESSAGE_MAX_LENGTH:
        raise ValidationError(f"the message is longer than {MESSAGE_MAX_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValidationError("the message must be one line without control characters")
    return text


def add_lock(session: Session, actor: Actor, *, environment: int | str, message: str,
             service: str | None = None) -> LockView:
    """Lock an environment, or one service of it (operator or higher: who runs syncs may hold them); the caller
    commits. Audited and notified (`lock.added`) in the same transaction."""
    if actor.environments is None:
        require(actor, "sync")  # the role first: a viewer learns nothing about the environment
    env = get_environment(session, environment)
    require(actor, "sync", environment=env.name)  # an actor limited to some environments: one of them
    text = _clean_message(message)
    name = (service or "").strip() or None
    if name is not None and (len(name) > 253 or any(c.isspace() for c in name)):
        raise ValidationError(f"'{name}' is not a service name")
    lock = EnvironmentLock(environment_id=env.id, service=name, message=text, created_by=actor.email,
                           created_at=utcnow())
    session.add(lock)
    session.flush()
    view = _view(lock, {env.id: env.name})
    audit.record(session, actor, "lock.add", object_type="lock", object_id=lock.id, object_name=view.scope,
                 after=_snapshot(view))
    notify.enqueue(session, "lock.added", {"event": "lock.added", "environment": env.name, "service": name or "",
                                           "actor": actor.email, "reason": text, "detail": view.sentence}, env.id)
    return view


def remove_lock(session: Session, actor: Actor, lock_id: int) -> LockView:
    """Remove a lock in force (kept, marked removed, for the audit log's references); an actor limited to some
    environments removes only their locks."""
    if actor.environments is None:
        require(actor, "sync")  # the role first: a viewer learns nothing about the lock
    lock = session.get(EnvironmentLock, lock_id)
    if lock is None or lock.removed_at is not None:
        raise NotFoundError(f"there is no lock #{lock_id} in force (see `locks list`)")
    env = session.get(Environment, lock.environment_id)
    require(actor, "sync", environment=env.name if env else "")
    view = _view(lock, {lock.environment_id: env.name if env else ""})
    lock.removed_at, lock.removed_by = utcnow(), actor.email
    session.flush()
    audit.record(session, actor, "lock.remove", object_type="lock", object_id=lock.id, object_name=view.scope,
                 before=_snapshot(view))
    return view


def _snapshot(view: LockView) -> dict[str, Any]:
    return {"environment": view.environment, "service": view.service, "message": view.message}


class LockPayload(TypedDict):
    """A lock in force: the whole environment (`service` null) or one service of it, and why."""

    id: int
    environmentId: int
    environment: str
    service: str | None
    message: str
    createdBy: str
    createdAt: str | None


def lock_payload(view: LockView) -> dict[str, Any]:
    """A lock as `locks … --json` prints it (camelCase keys; the shape of LockPayload, kept a plain dict since the
    comparison's payload carries its locks as such)."""
    from ranchersync.kernel.timefmt import iso

    return {"id": view.id, "environmentId": view.environment_id, "environment": view.environment,
            "service": view.service, "message": view.message, "createdBy": view.created_by,
            "createdAt": iso(view.created_at)}
