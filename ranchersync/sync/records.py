"""The sync's trail in the database, written as it happens: one short transaction per step, so a crash loses
nothing and another process (the history page, a second CLI) sees progress at once."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import typing
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import SYSTEM, Actor
from ranchersync.context import AppContext
from ranchersync.history import arrivals
from ranchersync.kernel.detach import process_alive
from ranchersync.kernel.errors import DatabaseUnavailable, RefusedByPolicy
from ranchersync.models import ACTIVE_OPERATION_STATUSES, SyncOperation, SyncResult, utcnow
from ranchersync.notify.outbox import sync_finished

log = logging.getLogger(__name__)
T = TypeVar("T")
_outage_lock = threading.Lock()
_outage_since: dict[int, float] = {}  # per context: when its writers first found the database gone


def write(ctx: AppContext, change: Callable[[Session], T], *, patience: float | None = None) -> T:
    """Run `change` in one transaction, retried with backoff while the database cannot be reached, for up to
    `patience` seconds (default: the settings' outage budget, RANCHERSYNC_DB_OUTAGE_SECONDS) counted from when
    this context's writers first found it gone.

    Every write of a running operation goes through here and is idempotent (it sets fields), so a commit whose
    answer was lost is harmless to repeat. Raises DatabaseUnavailable once the outage lasts longer."""
    budget = ctx.settings.db_outage_seconds if patience is None else patience
    delay = 0.1
    while True:
        began = time.monotonic()  # a locked SQLite file fails only after its busy timeout: count from the try
        try:
            with ctx.session() as session:
                result = change(session)
        except DatabaseUnavailable as error:
            now = time.monotonic()
            with _outage_lock:
                since = _outage_since.setdefault(id(ctx), began)
            left = budget - (now - since)
            if left <= 0:
                raise
            if since == began:
                log.warning("the database cannot be reached (%s); retrying for up to %.0f s", error, left)
            time.sleep(min(left, delay / 2 + random.uniform(0, delay / 2)))
            delay = min(delay * 2, 2.0)
            continue
        with _outage_lock:
            if _outage_since.pop(id(ctx), None) is not None:
                log.warning("the database answers again")
        return result


class RecordIncomplete(DatabaseUnavailable):
    """The database stayed unreachable past the outage budget while an operation ran: it stopped, and its record
    lacks what happened since. The message names every change made on Rancher and the command that finishes it."""

    kind = "record_incomplete"
    default_title = "The sync stopped: the database could not be reached"

    def __init__(self, operation_id: int, changed: Sequence[str], *, budget: float, kind: str = "") -> None:
        self.operation_id = operation_id
        self.changed = tuple(changed)
        what = f"the automatic rollback of operation #{operation_id}" if kind == "rollback" \
            else f"operation #{operation_id}"
        waited = f"{budget:g} s (RANCHERSYNC_DB_OUTAGE_SECONDS)"
        if self.changed:
            message = (f"The database could not be reached for {waited}, so {what} stopped before its record "
                       f"was complete. Changed on Rancher: {'; '.join(self.changed)}.")
            hint = (f"Once the database answers again, finish it with `python -m ranchersync resume "
                    f"{operation_id}` (the planned images on what is left), or undo it with `python -m ranchersync "
                    f"rollback {operation_id}` (the previous images back). It shows as interrupted until then.")
        else:
            message = (f"The database could not be reached for {waited}, so {what} stopped before it changed "
                       "anything on Rancher.")
            hint = (f"Once the database answers again, `python -m ranchersync resume {operation_id}` runs it, or "
                    "plan the sync again.")
        super().__init__(message, hint=hint)


class SyncBusy(RefusedByPolicy):
    """Another operation is already changing the target environment, or this confirmation was already applied."""

    kind = "target_busy"

    def __init__(self, message: str, *, reason: str, operation_id: int | None = None, target: str = "") -> None:
        if reason == "already_applied":
            title = "This confirmation was already applied"
            hint = "Nothing was applied twice. The services now show the new versions."
        else:
            title = f"Another sync is changing {target or 'this environment'}"
            hint = "Nothing was changed. Wait for it to finish, then review the sync again."
        super().__init__(message, title=title, hint=hint)
        self.reason = reason  # "already_applied" or "target_busy"
        self.operation_id = operation_id


def replica_name() -> str:
    """Which replica this process is: RANCHERSYNC_REPLICA_NAME, else the host name. Replicas that share a host name
    (containers on the host network) must be told apart, or one would judge the other's operations by a pid that
    is not its own."""
    return os.environ.get("RANCHERSYNC_REPLICA_NAME", "").strip() or socket.gethostname()


def this_process() -> str:
    """Who owns an operation: replica (host) and process id."""
    return f"{replica_name()}:{os.getpid()}"


@dataclass(frozen=True)
class PlannedResult:
    """One row of the trail, as planned: a target workload and its container changes, or why it is skipped."""

    service: str
    kind: str
    target_app_instance_id: int | None
    source_app_instance_id: int | None
    site_name: str
    cluster_id: str
    namespace: str
    containers: tuple[dict[str, Any], ...]  # {"name", "init", "previous", "new"}
    skip_reason: str | None = None


@dataclass(frozen=True)
class Opening:
    """An operation about to run: what it is, between which environments (id, name), who asked, the request id that
    makes it happen once, and its planned results."""

    kind: str
    mode: str
    source: tuple[int | None, str]
    target: tuple[int | None, str]
    initiated_by: str
    request_id: str
    planned: Sequence[PlannedResult]
    detail: str = ""  # for the audit event
    rollback_of_id: int | None = None


def open_operation(ctx: AppContext, opening: Opening, *, actor: Actor) -> tuple[int, list[int]]:
    """Record a running operation and its planned results, and its audit event (`sync.start`, `rollback.start`)
    in the same transaction; returns their ids. Raises SyncBusy when the target environment is held by another
    operation or the request was already applied."""
    kind, source, target, request_id = opening.kind, opening.source, opening.target, opening.request_id
    now = utcnow()
    operation = SyncOperation(
        kind=kind, mode=opening.mode, status="running", source_environment_id=source[0],
        source_environment_name=source[1],
        target_environment_id=target[0], target_environment_name=target[1], rollback_of_id=opening.rollback_of_id,
        initiated_by=opening.initiated_by, created_at=now, started_at=now, heartbeat_at=now, owner=this_process(),
        request_id=request_id,
    )
    operation.results = [
        SyncResult(
            service=p.service, workload_kind=p.kind, target_app_instance_id=p.target_app_instance_id,
            source_app_instance_id=p.source_app_instance_id, site_name=p.site_name, cluster_id=p.cluster_id,
            namespace=p.namespace, containers=[dict(c) for c in p.containers],
            previous_image=_first(p.containers, "previous"), new_image=_first(p.containers, "new"),
            status="skipped" if p.skip_reason else "pending", error=p.skip_reason,
            finished_at=now if p.skip_reason else None,
        )
        for p in opening.planned
    ]
    try:
        with ctx.session() as session:
            session.add(operation)
            session.flush()
            audit.record(session, actor, f"{kind}.start", object_type="operation", object_id=operation.id,
                         object_name=target[1], detail=opening.detail)
            return operation.id, [r.id for r in operation.results]
    except IntegrityError:
        raise _busy(ctx, target, request_id) from None


def _busy(ctx: AppContext, target: tuple[int | None, str], request_id: str) -> SyncBusy:
    with ctx.session() as session:
        same = session.scalar(select(SyncOperation).where(SyncOperation.request_id == request_id))
        if same is not None:
            return SyncBusy(f"this confirmation was already applied as operation #{same.id} ({same.status})",
                            reason="already_applied", operation_id=same.id)
        holder = session.scalar(
            select(SyncOperation).where(
                SyncOperation.target_environment_id == target[0],
                SyncOperation.status.in_(ACTIVE_OPERATION_STATUSES),
            )
        )
    if holder is None:
        return SyncBusy(f"another operation into {target[1]} started at the same moment: try again",
                        reason="target_busy", target=target[1])
    return SyncBusy(
        f"operation #{holder.id} by {holder.initiated_by} is changing {target[1]} right now (started "
        f"{holder.started_at:%H:%M:%S} UTC): wait for it to finish",
        reason="target_busy", operation_id=holder.id, target=target[1],
    )


def update_result(ctx: AppContext, result_id: int, **fields: Any) -> None:
    """Change one result (status, error, applied, timestamps) and beat the operation's heart; retried through a
    database outage (`write`). Returns once it is committed, in one transaction with the results written at the
    same moment by the operation's other threads (`write_together`)."""
    write_together(ctx, lambda session: _update_result(session, result_id, fields))


def update_results(ctx: AppContext, changes: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """`update_result` for several results in one transaction (rollouts seen ended in the same round): their rows
    read in one query, not one each."""
    if not changes:
        return
    ids = [result_id for result_id, _ in changes]

    def change(session: Session) -> None:
        list(session.scalars(select(SyncResult).where(SyncResult.id.in_(ids))))  # into the session's identity map
        arrived = [result for result_id, fields in changes
                   if (result := _update_result(session, result_id, fields, arrivals_later=True)) is not None]
        arrivals.record_arrivals(session, arrived)

    write_together(ctx, change)


@dataclass
class _Waiting:
    """One writer's change, waiting for the transaction that carries it."""

    change: Callable[[Session], Any]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to commit the next transaction, its own change in it
    committed: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass
class _Group:
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: list[_Waiting] = field(default_factory=list)
    writing: bool = False


_groups_lock = threading.Lock()
# Per database engine, its writers' queue; weakly held, so a context's queue goes with it and a later context can
# never inherit it (an id() could be reused).
_groups: weakref.WeakKeyDictionary[Engine, _Group] = weakref.WeakKeyDictionary()


def _group(ctx: AppContext) -> _Group:
    with _groups_lock:
        return _groups.setdefault(ctx.engine, _Group())


def write_together(ctx: AppContext, change: Callable[[Session], T]) -> T:
    """`write(ctx, change)`, with the changes of the writers that arrive while a transaction commits gathered into
    the next one (group commit): a writer still returns only once its change is committed, but a hundred threads
    recording their results at the same moment make a few transactions, not a hundred in single file (SQLite takes
    one writer at a time, and each commit waits for the disk). For changes that only set fields (idempotent)."""
    group = _group(ctx)
    mine = _Waiting(change)
    with group.lock:
        group.queue.append(mine)
        if not group.writing:
            group.writing = mine.lead = True
    if not mine.lead:
        mine.done.wait()
    if mine.lead:
        _commit_queued(ctx, group)
    if mine.error is not None:
        raise mine.error
    if not mine.committed:
        raise DatabaseUnavailable("The database could not be used: the transaction carrying this change stopped")
    return typing.cast(T, mine.result)


def _commit_queued(ctx: AppContext, group: _Group) -> None:
    """Commit every queued change in one transaction, then hand the lead to the first writer that came meanwhile."""
    with group.lock:
        batch, group.queue = group.queue, []
    try:
        try:
            results = write(ctx, lambda session: [waiting.change(session) for waiting in batch])
        except DatabaseUnavailable as error:
            for waiting in batch:
                waiting.error = error
        except Exception:
            # One change failed (a bug, a constraint): each one alone, so the failure is its own writer's.
            for waiting in batch:
                try:
                    waiting.result, waiting.committed = write(ctx, waiting.change), True
                except Exception as error:
                    waiting.error = error
        else:
            for waiting, result in zip(batch, results, strict=True):
                waiting.result, waiting.committed = result, True
    finally:
        with group.lock:
            following = group.queue[0] if group.queue else None
            if following is None:
                group.writing = False
            else:
                following.lead = True
        for waiting in batch:
            waiting.done.set()
        if following is not None:
            following.done.set()


def _update_result(session: Session, result_id: int, fields: dict[str, Any], *, arrivals_later: bool = False
                   ) -> SyncResult | None:
    """Apply the change; the result when it just became `success` and `arrivals_later` leaves recording its
    arrival to the caller (several at once)."""
    result = session.get(SyncResult, result_id)
    if result is None:
        return None
    before = result.status
    for key, value in fields.items():
        setattr(result, key, value)
    if fields.get("status") in ("success", "failed", "skipped", "rolled_back"):
        result.finished_at = utcnow()
    if "applied" in fields and result.started_at is None:
        result.started_at = utcnow()
    result.operation.heartbeat_at = utcnow()
    # The lead time's first arrivals. The automatic rollback marks a result `success` while its undo is
    # verified, then `failed` or `rolled_back`: whatever leaves `success` here did not deliver its version.
    # (A later rollback operation marks its originals `rolled_back` elsewhere: they did run.)
    status = fields.get("status")
    if status == "success" and before != "success":
        if arrivals_later:
            return result
        arrivals.record_arrival(session, result)
    elif before == "success" and status not in (None, "success"):
        session.flush()
        arrivals.withdraw_arrival(session, result.id)
    return None


def heartbeat(ctx: AppContext, operation_id: int) -> bool:
    """Show that the owning process is alive (while it waits for rollouts); whether someone asked, from any process,
    to terminate the operation (`terminate_requested` on its row: the wait loop stops then)."""

    def beat(session: Session) -> bool:
        operation = session.get(SyncOperation, operation_id)
        if operation is None:
            return False
        operation.heartbeat_at = utcnow()
        return bool(operation.terminate_requested)

    return write(ctx, beat)


@dataclass(frozen=True)
class Termination:
    """Someone asked to terminate the operation: who, and whether to keep what changed."""

    by: str
    keep: bool


def termination(ctx: AppContext, operation_id: int) -> Termination | None:
    """The operation's terminate request, or None."""

    def read(session: Session) -> Termination | None:
        operation = session.get(SyncOperation, operation_id)
        if operation is None or not operation.terminate_requested:
            return None
        return Termination(operation.terminated_by or "someone", bool(operation.terminate_keep))

    return write(ctx, read)


def close_operation(ctx: AppContext, operation_id: int, status: str, error: str | None = None, *,
                    patience: float | None = None, rollback_reason: str | None = None,
                    also: Callable[[Session], None] | None = None) -> None:
    """Finish an operation with its final status (retried through a database outage for `patience` seconds,
    default the outage budget); a rolled-back one says why (`rollback_reason`: "failed" or "decided"). `also`
    changes what its outcome changes (a rollback's original) in the same transaction: no reader sees one without
    the other."""

    def close(session: Session) -> None:
        operation = session.get(SyncOperation, operation_id)
        if operation is None or operation.status == status:
            return  # a repeated commit whose first answer was lost: its notifications are queued already
        if also is not None:
            also(session)
        operation.status, operation.error = status, error
        if rollback_reason is not None:
            operation.rollback_reason = rollback_reason
        operation.finished_at = operation.heartbeat_at = utcnow()
        sync_finished(session, operation)  # its notifications commit with the status, or not at all
        # Its outcome in the audit trail, beside its `.start` (the process records it: the person started it).
        audit.record(session, SYSTEM, f"{operation.kind}.finished", object_type="operation", object_id=operation.id,
                     object_name=operation.target_environment_name,
                     after={"status": status, "rollbackReason": operation.rollback_reason,
                            "initiatedBy": operation.initiated_by},
                     detail=error or status)

    write(ctx, close, patience=patience)


def mark_interrupted(session: Session, stale_seconds: float = 120) -> list[int]:
    """Operations left `running` by a process that died: on this host, its pid is gone; elsewhere, its heartbeat
    is older than `stale_seconds`. They become `interrupted` so the user can roll back or resume them."""
    now = utcnow()
    found = []
    host = replica_name()
    for operation in session.scalars(
        select(SyncOperation).where(SyncOperation.status.in_(ACTIVE_OPERATION_STATUSES))
    ):
        owner_host, _, pid = (operation.owner or "").rpartition(":")
        if owner_host == host and pid.isdecimal():
            dead = int(pid) != os.getpid() and not process_alive(int(pid))
        else:
            beat = operation.heartbeat_at or operation.started_at or operation.created_at
            dead = (now - beat).total_seconds() > stale_seconds
        if dead:
            operation.status = "interrupted"
            operation.finished_at = now
            operation.error = "the process running it stopped before it finished"
            found.append(operation.id)
    session.flush()
    return found


def _first(containers: Sequence[dict[str, Any]], key: str) -> str | None:
    changed = [c for c in containers if c.get("previous") != c.get("new")]
    return (changed or list(containers) or [{}])[0].get(key)
