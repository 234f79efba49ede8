"""Snapshots kept in the database: taken by hand (`snapshots create`, every service of an environment with the
digests its pods run) or before every sync (the target as the plan read it, kept with the operation); never
changed once written. Reads: list, one by name or id, and the difference with another snapshot or with now."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, NotRequired, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.inventory.reading import Service, list_inventories
from ranchersync.kernel.errors import NotFoundError, OperationFailed, ValidationError
from ranchersync.models import EnvironmentSnapshot, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.security.crypto import TokenCipher
from ranchersync.snapshots.entries import (
    DiffRow,
    EntryPayload,
    SnapshotEntry,
    diff,
    entries_of,
    from_json,
    to_json,
)

AUTOMATIC_PREFIX: Final = "before-op-"  # automatic snapshots' names; manual names may not take it
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}$")


class IncompleteSnapshot(OperationFailed):
    """A snapshot must be complete: an unreadable app instance would look like services that do not exist."""

    kind = "incomplete_snapshot"
    default_title = "The snapshot would be incomplete"
    default_hint = "Try again once Rancher answers for every app instance of the environment."


@dataclass(frozen=True)
class SnapshotView:
    """A snapshot as lists and details show it."""

    id: int
    name: str
    kind: str
    environment_id: int | None
    environment: str
    operation_id: int | None
    created_by: str
    created_at: Any
    entries: tuple[SnapshotEntry, ...]

    @classmethod
    def of(cls, row: EnvironmentSnapshot) -> SnapshotView:
        return cls(row.id, row.name, row.kind, row.environment_id, row.environment_name, row.operation_id,
                   row.created_by, row.created_at, tuple(from_json(row.services or [])))


def check_name(name: str) -> str:
    """A snapshot's name: letters, digits and . _ : + -, at most 100, not the automatic snapshots' prefix."""
    text = (name or "").strip()
    if not _NAME.match(text):
        raise ValidationError(f"'{name}' is not a snapshot name: letters, digits and . _ : + - (at most 100), "
                              "starting with a letter or digit")
    if text.startswith(AUTOMATIC_PREFIX):
        raise ValidationError(f"names starting with '{AUTOMATIC_PREFIX}' are kept for automatic snapshots")
    return text


def create_snapshot(
    session: Session, cipher: TokenCipher, actor: Actor, *, environment: int | str, name: str,
    factory: ClientFactory = RancherClient,
) -> SnapshotView:
    """Record every service of `environment` now (images, and the digests their pods run) under `name`; the
    caller commits. Refuses while any app instance or its pods cannot be read (IncompleteSnapshot)."""
    if actor.environments is None:
        require(actor, "sync")  # the role first: a viewer learns nothing about the environment
    text = check_name(name)
    env = get_environment(session, environment)
    require(actor, "sync", environment=env.name)  # an actor limited to some environments: one of them
    if session.scalar(select(EnvironmentSnapshot.id).where(EnvironmentSnapshot.name == text)) is not None:
        raise ValidationError(f"a snapshot named '{text}' exists already: snapshots are never replaced")
    inventory = list_inventories(session, cipher, [env], factory=factory, digests=True)[env.id]
    if inventory.failures:
        listed = "; ".join(f"{f.instance.name}: {f.message}" for f in inventory.failures)
        raise IncompleteSnapshot(f"cannot snapshot {env.name} while app instances are unreadable ({listed})")
    row = _store(session, text, "manual", env.id, env.name, None, actor.email, inventory.services)
    audit.record(session, actor, "snapshot.create", object_type="snapshot", object_id=row.id, object_name=text,
                 after={"environment": env.name, "services": len(row.services)})
    return SnapshotView.of(row)


def record_before_sync(session: Session, operation_id: int, environment: tuple[int, str], initiated_by: str,
                       services: Sequence[Service]) -> SnapshotView:
    """The automatic snapshot of a sync's target before it changes anything: the target services its plan read
    (no extra request to Rancher; digests are not read), kept with the operation."""
    row = _store(session, f"{AUTOMATIC_PREFIX}{operation_id}", "automatic", environment[0], environment[1],
                 operation_id, initiated_by, services)
    return SnapshotView.of(row)


def _store(session: Session, name: str, kind: str, env_id: int, env_name: str, operation_id: int | None,
           by: str, services: Sequence[Service]) -> EnvironmentSnapshot:
    row = EnvironmentSnapshot(name=name, kind=kind, environment_id=env_id, environment_name=env_name,
                              operation_id=operation_id, services=to_json(entries_of(services)), created_by=by,
                              created_at=utcnow())
    session.add(row)
    session.flush()  # a name taken meanwhile by another process: the unique constraint refuses it
    return row


def get_snapshot(session: Session, ref: int | str) -> SnapshotView:
    """A snapshot by name (or id)."""
    row = session.scalar(select(EnvironmentSnapshot).where(EnvironmentSnapshot.name == str(ref)))
    if row is None and str(ref).isdecimal() and len(str(ref)) <= 18:
        row = session.get(EnvironmentSnapshot, int(ref))
    if row is None:
        raise NotFoundError(f"no snapshot '{ref}' (see `snapshots list`)")
    return SnapshotView.of(row)


def snapshot_of_operation(session: Session, operation_id: int) -> SnapshotView | None:
    """The automatic snapshot taken before an operation, if any ("what ran before")."""
    row = session.scalar(select(EnvironmentSnapshot).where(EnvironmentSnapshot.operation_id == operation_id)
                         .order_by(EnvironmentSnapshot.id).limit(1))
    return SnapshotView.of(row) if row is not None else None


def list_snapshots(session: Session, environment: int | str | None = None, *, automatic: bool = True,
                   limit: int = 200) -> list[SnapshotView]:
    """Snapshots, newest first; of one environment, and without the automatic ones when `automatic` is False."""
    stmt = select(EnvironmentSnapshot).order_by(EnvironmentSnapshot.created_at.desc(), EnvironmentSnapshot.id.desc())
    if environment is not None:
        stmt = stmt.where(EnvironmentSnapshot.environment_id == get_environment(session, environment).id)
    if not automatic:
        stmt = stmt.where(EnvironmentSnapshot.kind == "manual")
    return [SnapshotView.of(row) for row in session.scalars(stmt.limit(limit))]


def diff_with_environment(
    session: Session, cipher: TokenCipher, snapshot: int | str, environment: int | str,
    factory: ClientFactory = RancherClient,
) -> tuple[SnapshotView, list[DiffRow]]:
    """A snapshot (left) against what an environment runs now (right), digests included."""
    view = get_snapshot(session, snapshot)
    env = get_environment(session, environment)
    inventory = list_inventories(session, cipher, [env], factory=factory, digests=True)[env.id]
    if inventory.failures:
        listed = "; ".join(f"{f.instance.name}: {f.message}" for f in inventory.failures)
        raise IncompleteSnapshot(f"cannot compare with {env.name} while app instances are unreadable ({listed})")
    return view, diff(view.entries, entries_of(inventory.services))


class SnapshotPayload(TypedDict):
    """A snapshot: whose, taken when and by whom (`kind` automatic: before operation `operationId`); in detail, its
    services (per container: image and the digest its pods ran)."""

    id: int
    name: str
    kind: str
    environmentId: int | None
    environment: str
    operationId: int | None
    createdBy: str
    createdAt: str | None
    serviceCount: int
    services: NotRequired[list[EntryPayload]]


def snapshot_payload(view: SnapshotView, *, with_services: bool = True) -> SnapshotPayload:
    """A snapshot as `snapshots … --json` prints it."""
    from ranchersync.kernel.timefmt import iso

    payload: SnapshotPayload = {
        "id": view.id, "name": view.name, "kind": view.kind, "environmentId": view.environment_id,
        "environment": view.environment, "operationId": view.operation_id, "createdBy": view.created_by,
        "createdAt": iso(view.created_at), "serviceCount": len(view.entries),
    }
    if with_services:
        payload["services"] = to_json(view.entries)
    return payload
