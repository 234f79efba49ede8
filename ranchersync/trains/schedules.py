"""Scheduled syncs and snapshot promotions (DESIGN.md, "Snapshots, locks and schedules").

`sync … --at` and `snapshots promote … --at` store a request to run later; `scheduler` fires what is due. At fire
time the plan is made again from what runs then and goes the one way in for a sync (`approvals.promote`), so
freezes, locks, roles and approvals are checked then, not when it was scheduled; one refused keeps its status and
the reason. Into a target that needs approvals, `schedule_with_approvals` makes the approval request when it is
scheduled (bound to the plan made then), so it is approved ahead; when it fires, `approvals.ahead.fire` plans again
and runs it on those approvals only if the plan is unchanged. A scheduler claims a request with a conditional update
(`scheduled` → `running`), so two schedulers (replicas, a CronJob overlapping a loop) never run the same request.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import asdict, dataclass
from typing import Final, TypedDict

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ranchersync import notify
from ranchersync.access import audit
from ranchersync.access.identity import SYSTEM, Actor, require
from ranchersync.approvals import ahead
from ranchersync.approvals.promote import Applied, promote
from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.governance.four_eyes import approvals_needed, approvals_text
from ranchersync.governance.freeze_schedule import local_text, zone
from ranchersync.kernel.errors import NotFoundError, RancherSyncError, RefusedByPolicy, ValidationError
from ranchersync.kernel.roles import ROLE_RANK
from ranchersync.models import ScheduledRequest, SyncOperation, User, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.snapshots.store import get_snapshot
from ranchersync.sync import Confirmation, SyncOptions, SyncPlan, TargetChoice, new_request_id, plan_environments
from ranchersync.trains.trains import plan_snapshot_promotion, train_options

log = logging.getLogger(__name__)
FAILED_OPERATIONS: Final = ("failed", "rolled_back", "partial", "interrupted")
# A claimed request that opened no operation this long after (a plan takes seconds; Rancher's slowest answers a
# few minutes) had its scheduler stop under it.
RECLAIM_SECONDS: Final = 15 * 60


@dataclass(frozen=True)
class Schedule:
    """What to run later: a sync (source, services) or a snapshot promotion (snapshot), into `target`."""

    target: int | str
    fire_at: dt.datetime
    timezone: str = "UTC"
    source: int | str | None = None
    services: tuple[str, ...] = ()  # empty: everything that differs
    snapshot: int | str | None = None
    mode: str = "full"
    default_target: TargetChoice | None = None
    confirm_env: str | None = None  # typed when scheduling, for a protected target
    options: SyncOptions | None = None


def schedule(session: Session, actor: Actor, what: Schedule, now: dt.datetime | None = None) -> ScheduledRequest:
    """Store a scheduled request (operator or higher; a protected target needs its name typed now); the caller
    commits. Nothing is planned or checked against freezes yet: that happens when it fires."""
    if actor.environments is None:
        require(actor, "request_sync")  # the role first: a viewer learns nothing about the environments
    at = now or utcnow()
    if what.fire_at.tzinfo is None:
        raise ValidationError("a fire time needs a time zone")
    if what.fire_at <= at:
        raise ValidationError(f"{what.fire_at:%Y-%m-%d %H:%M} UTC is in the past: schedule it for later, or run it "
                              "now")
    target = get_environment(session, what.target)
    require(actor, "request_sync", environment=target.name)  # an actor limited to some environments: one of them
    if target.protected and (what.confirm_env or "").strip() != target.name:
        from ranchersync.sync import ConfirmationRequired

        raise ConfirmationRequired(f"{target.name} is protected: type its name to confirm the scheduled change "
                                   f"(CLI: --confirm-env {target.name})")
    if (what.snapshot is None) == (what.source is None):
        raise ValidationError("a scheduled request is either a sync (a source) or a snapshot promotion")
    snapshot_id = None
    if what.snapshot is not None:
        view = get_snapshot(session, what.snapshot)
        snapshot_id, source_id, source_name = view.id, view.environment_id, view.environment
    else:
        source = get_environment(session, what.source)  # type: ignore[arg-type]
        if source.id == target.id:
            raise ValidationError("the source and the target environment must differ")
        source_id, source_name = source.id, source.name
    options = asdict(what.options or SyncOptions())
    options.update(confirmEnv=what.confirm_env, defaultTarget=what.default_target, role=actor.role)
    row = ScheduledRequest(
        kind="snapshot" if snapshot_id else "sync", source_environment_id=source_id, target_environment_id=target.id,
        source_environment_name=source_name, target_environment_name=target.name, snapshot_id=snapshot_id,
        services=list(what.services), mode=what.mode, options=options, fire_at=what.fire_at,
        timezone=str(zone(what.timezone)), status="scheduled", status_reason="", requested_by=actor.email,
        created_at=at,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "schedule.add", object_type="scheduled_request", object_id=row.id,
                 object_name=describe(row), after={"fireAt": row.fire_at.isoformat(), "timezone": row.timezone})
    return row


def schedule_with_approvals(ctx: AppContext, actor: Actor, what: Schedule, *, factory: ClientFactory = RancherClient,
                            now: dt.datetime | None = None) -> ScheduledRequest:
    """Store a scheduled request; into a target that needs approvals from someone else, also its approval request,
    bound to the plan made now, so it is approved before it fires (`approvals.ahead`). When it fires the plan is made
    again: unchanged, the approvals given count; changed, a new request needs them again.

    When the plan cannot be made now (Rancher unreachable…) the request is cancelled, saying why, and the error is
    raised; when nothing differs now, it waits alone (planned and, if need be, requested when it fires)."""
    with ctx.session() as session:
        row = schedule(session, actor, what, now)
        needed = approvals_needed(get_environment(session, row.target_environment_id or -1), actor)
        session.flush()
        session.expunge(row)
    if not needed:
        return row
    try:
        plan = _plan(ctx, row, factory)
        request = None
        if plan.to_apply:
            options = SyncOptions(**asdict(what.options or SyncOptions()))
            request = ahead.request_ahead(ctx, actor, plan, what.fire_at, factory=factory, now=now,
                                          options=train_options(options) if row.kind == "snapshot" else options)
    except RancherSyncError as error:
        with ctx.session() as session:
            stored = session.get_one(ScheduledRequest, row.id)
            stored.status, stored.status_reason = "cancelled", f"its approval request could not be made: {error}"
        raise
    with ctx.session() as session:
        stored = session.get_one(ScheduledRequest, row.id)
        if request is not None:
            stored.approval_request_id = request.id
            stored.status_reason = (f"approval request #{request.id} waits for {approvals_text(request.required)}; "
                                    "approvals given before it fires count if the plan is unchanged then")
        session.flush()
        session.expunge(stored)
        return stored


def describe(row: ScheduledRequest) -> str:
    """"Stage → Prod: web, api" or "snapshot rel-42 → Prod"."""
    if row.kind == "snapshot":
        return f"snapshot of {row.source_environment_name} → {row.target_environment_name}"
    what = ", ".join(row.services) if row.services else "everything that differs"
    return f"{row.source_environment_name} → {row.target_environment_name}: {what}"


def cancel(session: Session, actor: Actor, request_id: int) -> ScheduledRequest:
    """Cancel a request that has not fired (its requester, or an admin)."""
    row = session.get(ScheduledRequest, request_id)
    if row is None:
        raise NotFoundError(f"there is no scheduled request #{request_id} (see `schedules list`)")
    if row.requested_by != actor.email:  # someone else's schedule: admins only (of its target, for a limited one)
        require(actor, "manage_freeze", environment=row.target_environment_name)
    claimed = session.execute(update(ScheduledRequest).where(ScheduledRequest.id == request_id,
                                                            ScheduledRequest.status == "scheduled")
                              .values(status="cancelled", status_reason=f"cancelled by {actor.email}")).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        session.refresh(row)
        raise ValidationError(f"scheduled request #{request_id} is {row.status}: only a waiting one is cancelled")
    session.refresh(row)
    if row.approval_request_id is not None:
        ahead.withdraw(session, actor, row.approval_request_id, f"its scheduled request #{row.id} was cancelled")
    audit.record(session, actor, "schedule.cancel", object_type="scheduled_request", object_id=row.id,
                 object_name=describe(row))
    return row


def list_schedules(session: Session, *, pending: bool = False, limit: int = 200) -> list[ScheduledRequest]:
    """Scheduled requests, the next to fire first (then the fired ones, newest first)."""
    stmt = select(ScheduledRequest)
    if pending:
        stmt = stmt.where(ScheduledRequest.status == "scheduled")
    rows = list(session.scalars(stmt.order_by(ScheduledRequest.fire_at.desc()).limit(limit)))
    waiting = sorted((r for r in rows if r.status == "scheduled"), key=lambda r: r.fire_at)
    return waiting + [r for r in rows if r.status != "scheduled"]


# ---- firing -----------------------------------------------------------------------------------------------------


def worker_name() -> str:
    """Who claims a request: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def run_due(ctx: AppContext, *, now: dt.datetime | None = None, factory: ClientFactory = RancherClient,
            worker: str | None = None) -> list[int]:
    """Fire every request due at `now` that this scheduler claims first; returns the ids it fired."""
    at = now or utcnow()
    _reclaim(ctx, at)
    with ctx.session() as session:
        due = list(session.scalars(select(ScheduledRequest.id).where(ScheduledRequest.status == "scheduled",
                                                                     ScheduledRequest.fire_at <= at)
                                   .order_by(ScheduledRequest.fire_at, ScheduledRequest.id)))
    fired = []
    for request_id in due:
        if _claim(ctx, request_id, worker or worker_name(), at):
            _fire(ctx, request_id, factory)
            fired.append(request_id)
    return fired


def _reclaim(ctx: AppContext, at: dt.datetime) -> None:
    """Requests whose scheduler stopped (a killed pod, a CronJob past its deadline) after claiming them: one that
    opened no operation within RECLAIM_SECONDS goes back to `scheduled` and fires again; one whose operation ended
    gets that outcome. A request with an operation still running is left to it."""
    stale = at - dt.timedelta(seconds=RECLAIM_SECONDS)
    with ctx.session() as session:
        claimed = session.scalars(select(ScheduledRequest).where(ScheduledRequest.status == "running",
                                                                 ScheduledRequest.fired_at < stale)).all()
        for row in claimed:
            operation = session.scalar(select(SyncOperation).where(
                SyncOperation.request_id.like(f"schedule-{row.id}-%")).order_by(SyncOperation.id.desc()))
            if operation is None and row.approval_request_id is not None:  # approved ahead: run as its request
                operation = session.scalar(select(SyncOperation).where(
                    SyncOperation.request_id == f"approval-{row.approval_request_id}"))
            if operation is None:
                log.warning("scheduled request #%s: its scheduler %s stopped before the sync started; firing it "
                            "again", row.id, row.claimed_by, extra={"event": "schedule.reclaimed"})
                row.status, row.claimed_by, row.fired_at = "scheduled", None, None
                if row.approval_request_id is not None:
                    ahead.release(session, row.approval_request_id)
            elif operation.finished_at is not None:
                row.status = "failed" if operation.status in FAILED_OPERATIONS else "executed"
                row.status_reason = f"operation #{operation.id}: {operation.status} (its scheduler stopped)"
                row.operation_id = operation.id


def _claim(ctx: AppContext, request_id: int, worker: str, at: dt.datetime) -> bool:
    """Take the request for this scheduler: a conditional update, so exactly one scheduler wins it."""
    with ctx.session() as session:
        claimed = session.execute(update(ScheduledRequest).where(ScheduledRequest.id == request_id,
                                                                ScheduledRequest.status == "scheduled")
                                  .values(status="running", claimed_by=worker, fired_at=at)).rowcount  # type: ignore[attr-defined]
    return bool(claimed == 1)


def _requester(session: Session, row: ScheduledRequest) -> Actor:
    """The requester, with the role assigned to them now (else the one they had when scheduling)."""
    user = session.scalar(select(User).where(User.email == row.requested_by))
    role = (user.role if user is not None and user.role else None) or row.options.get("role") or "operator"
    return Actor(row.requested_by, role if role in ROLE_RANK else "operator", "system")  # type: ignore[arg-type]


def _plan(ctx: AppContext, row: ScheduledRequest, factory: ClientFactory) -> SyncPlan:
    with ctx.session() as session:
        if row.kind == "snapshot":
            if row.snapshot_id is None:
                raise ValidationError("its snapshot was removed")
            return plan_snapshot_promotion(session, ctx.cipher, row.snapshot_id, row.target_environment_id or -1,
                                           factory)
        if row.source_environment_id is None or row.target_environment_id is None:
            raise ValidationError("an environment of it was removed")
        return plan_environments(session, ctx.cipher, row.source_environment_id, row.target_environment_id,
                                 services=list(row.services) or None, mode=row.mode,  # type: ignore[arg-type]
                                 default_target=row.options.get("defaultTarget"), factory=factory)


def _fire(ctx: AppContext, request_id: int, factory: ClientFactory) -> None:
    with ctx.session() as session:
        row = session.get_one(ScheduledRequest, request_id)
        session.expunge(row)
        actor = _requester(session, row)
    options = {k: v for k, v in row.options.items() if k in SyncOptions.__dataclass_fields__}
    sync_options = SyncOptions(**options)
    status, reason, operation_id, approval_id = "failed", "", None, None
    try:
        changed = ""
        if row.approval_request_id is not None:  # approved (or not yet) before it fired
            early = ahead.fire(ctx, row.approval_request_id, factory=factory)
            if isinstance(early, ahead.Ran):
                operation_id = early.operation_id
                status, reason = _operation_outcome(ctx, early.operation_id)
                return
            if isinstance(early, ahead.Waiting):
                status, reason, approval_id = "requested", early.message, early.request_id
                return
            if isinstance(early, ahead.Closed):
                status, reason = "refused", early.reason
                return
            changed = f"{early.reason} (request #{early.request_id}); "
        plan = _plan(ctx, row, factory)
        if row.kind == "snapshot":
            sync_options = train_options(sync_options)
        if not plan.to_apply:
            status, reason = "executed", f"{changed}nothing to change when it fired"
        else:
            outcome = promote(ctx, actor, plan, request_id=f"schedule-{row.id}-{new_request_id()[:8]}",
                              confirmed=Confirmation(confirm_env=row.options.get("confirmEnv")),
                              options=sync_options, factory=factory)
            if isinstance(outcome, Applied):
                operation_id = outcome.operation_id
                status, reason = _operation_outcome(ctx, operation_id)
            else:
                status, approval_id = "requested", outcome.request_id
                reason = f"{changed}{outcome.message}"
    except RefusedByPolicy as error:
        status, reason = "refused", str(error)
    except RancherSyncError as error:
        status, reason = "failed", str(error)
    finally:
        if status == "failed" and not reason:
            reason = "stopped before it finished"
        _record(ctx, row, actor, status, reason, operation_id, approval_id)


def _operation_outcome(ctx: AppContext, operation_id: int) -> tuple[str, str]:
    with ctx.session() as session:
        op_status = session.get_one(SyncOperation, operation_id).status
    return ("failed" if op_status in FAILED_OPERATIONS else "executed"), f"operation #{operation_id}: {op_status}"


def _record(ctx: AppContext, row: ScheduledRequest, actor: Actor, status: str, reason: str,
            operation_id: int | None, approval_id: int | None) -> None:
    with ctx.session() as session:
        stored = session.get_one(ScheduledRequest, row.id)
        stored.status, stored.status_reason = status, reason
        stored.operation_id = operation_id
        stored.approval_request_id = approval_id if approval_id is not None else stored.approval_request_id
        if status in ("refused", "failed") and stored.approval_request_id is not None:
            # Approved ahead but refused when it fired (a freeze, a lock…): its request must not wait on
            ahead.withdraw(session, SYSTEM, stored.approval_request_id,
                           f"its scheduled request #{row.id} was {status} when it fired: {reason}")
        audit.record(session, actor, "schedule.fired", object_type="scheduled_request", object_id=row.id,
                     object_name=describe(stored), after={"status": status, "operationId": operation_id,
                                                          "approvalRequestId": approval_id}, detail=reason)
        notify.enqueue(session, "schedule.fired", {
            "event": "schedule.fired", "source": stored.source_environment_name,
            "target": stored.target_environment_name, "actor": stored.requested_by, "status": status,
            "detail": f"scheduled request #{row.id} ({describe(stored)}): {status}", "reason": reason,
            **({"operationId": operation_id} if operation_id else {}),
        }, stored.target_environment_id)
    log.info("scheduled request #%s fired: %s (%s)", row.id, status, reason,
             extra={"event": "schedule.fired", "actor": row.requested_by})
    notify.deliver_soon(ctx)


class SchedulePayload(TypedDict):
    """A scheduled sync (`kind` sync: source, services) or snapshot promotion (`snapshotId`), when it fires, and
    what became of it (`status`: scheduled, running, executed, requested, refused, failed, cancelled)."""

    id: int
    kind: str
    description: str
    source: str
    target: str
    snapshotId: int | None
    services: list[str]
    mode: str
    fireAt: str | None
    timezone: str
    fireAtLocal: str
    status: str
    statusReason: str
    requestedBy: str
    createdAt: str | None
    claimedBy: str | None
    firedAt: str | None
    operationId: int | None
    approvalRequestId: int | None


def schedule_payload(row: ScheduledRequest) -> SchedulePayload:
    """A scheduled request as `schedules … --json` prints it."""
    from ranchersync.kernel.timefmt import iso

    return {"id": row.id, "kind": row.kind, "description": describe(row), "source": row.source_environment_name,
            "target": row.target_environment_name, "snapshotId": row.snapshot_id, "services": list(row.services),
            "mode": row.mode, "fireAt": iso(row.fire_at), "timezone": row.timezone,
            "fireAtLocal": local_text(row.fire_at, row.timezone), "status": row.status,
            "statusReason": row.status_reason, "requestedBy": row.requested_by, "createdAt": iso(row.created_at),
            "claimedBy": row.claimed_by, "firedAt": iso(row.fired_at), "operationId": row.operation_id,
            "approvalRequestId": row.approval_request_id}
