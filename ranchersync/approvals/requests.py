"""Four-eyes approvals (DESIGN.md, "Approval"): a sync into an environment that needs approvals becomes a request
holding the confirmed plan; other people with `releaser` approve or reject it; the last approval re-checks what the
approval was bound to and runs it.

An approval binds to the exact plan, not to a service name (its target versions and images, the digests the source
runs, the source's health: `ranchersync.approvals.binding`, which also re-checks it). The last approval
re-reads all of it. When anything moved, the request becomes `stale` and says what moved; otherwise the sync runs,
re-planned from the current state and checked to be the bound plan.

Statuses: pending → executed (the last approval ran it; `approved` while it runs), or rejected, stale, expired.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, Final, TypedDict

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from ranchersync import notify
from ranchersync.access import audit
from ranchersync.access.identity import SYSTEM, Actor, require
from ranchersync.approvals.binding import Snapshot, bind, pin_to_binding, read_digests, recheck, sources_of
from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.governance.four_eyes import RequestClosed, approvals_needed, approvals_text
from ranchersync.inventory.reading import list_services
from ranchersync.kernel.errors import (
    NotFoundError,
    PermissionDenied,
    RancherSyncError,
    ValidationError,
)
from ranchersync.kernel.timefmt import iso
from ranchersync.models import ApprovalDecision, ApprovalRequest, ScheduledRequest, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.sync import Confirmation, ProgressListener, SyncOptions, SyncPlan, apply_plan

# A request in one of these is decided for good; `approved` means its sync is running right now.
CLOSED: Final = ("executed", "rejected", "stale", "expired")

__all__ = [
    "decide",
    "expire_requests",
    "fire_time",
    "get_request",
    "list_requests",
    "request_payload",
    "request_sync",
    "wait_for_decision",
]


# ---- requesting -------------------------------------------------------------------------------------------------


def request_sync(
    ctx: AppContext,
    actor: Actor,
    plan: SyncPlan,
    *,
    options: SyncOptions | None = None,
    factory: ClientFactory = RancherClient,
    ttl: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> ApprovalRequest:
    """Store a confirmed plan as a request, bound to what it would change and to what the source runs now; it
    expires after `ttl` (default: the setting RANCHERSYNC_APPROVAL_TTL_HOURS, 24 h).

    Reads the source environment (its health) and the source workloads' pods (their digests) from Rancher; the
    request and its audit event are committed together. Raises PermissionDenied below operator.
    """
    require(actor, "request_sync", environment=plan.target.name)
    if not plan.to_apply:
        raise ValidationError("nothing to change: every selected service is skipped (see the plan)")
    with ctx.session() as session:
        target = get_environment(session, plan.target.id)
        required = max(1, approvals_needed(target, actor))
        source_inventory = list_services(session, ctx.cipher, plan.source.id, factory=factory)
    sources = sources_of(plan)
    digests = read_digests(ctx, sources, factory)
    binding = bind(plan, sources, digests, source_inventory.services)
    at = now or utcnow()
    request = ApprovalRequest(
        source_environment_id=plan.source.id, target_environment_id=plan.target.id,
        source_environment_name=plan.source.name, target_environment_name=plan.target.name, mode=plan.mode,
        services=list(dict.fromkeys(f"{i.kind}/{i.name}" for i in plan.to_apply)), binding=binding,
        options=asdict(options or SyncOptions()), required=required, status="pending", status_reason="",
        requested_by=actor.email, requested_at=at, decisions=[],
        expires_at=at + (ttl or dt.timedelta(hours=ctx.settings.approval_ttl_hours)),
    )
    with ctx.session() as session:
        session.add(request)
        session.flush()
        audit.record(session, actor, "approval.requested", object_type="approval_request", object_id=request.id,
                     object_name=_name(request), after={"required": required, "services": request.services,
                                                        "expiresAt": iso(request.expires_at)},
                     detail=f"{approvals_text(required)} needed")
        notify.approval_event(session, request, actor.email)
    return request


# ---- deciding ---------------------------------------------------------------------------------------------------


def decide(
    ctx: AppContext,
    actor: Actor,
    request_id: int,
    approve: bool,
    comment: str = "",
    *,
    factory: ClientFactory = RancherClient,
    progress: ProgressListener | None = None,
    now: dt.datetime | None = None,
) -> ApprovalRequest:
    """Approve or reject a request as `actor` (releaser or higher, never the requester, once per person).

    The last approval re-checks the binding and, when nothing moved, runs the sync (the requester is its
    `initiatedBy`); else the request becomes `stale`, saying what moved. When Rancher cannot be read for the
    re-check, the error is raised and the approval is not recorded (try again). Returns the request as it ends.
    """
    require(actor, "approve", environment=_scope_of(ctx, actor, request_id))
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationError("say why you reject the request: a comment is required")
    try:
        with ctx.session() as session:
            expire_requests(session, now)
            request = _load(session, request_id)
            _check_decider(request, actor)
            if approve and _approvals_given(request) >= request.required:
                raise RequestClosed(f"request #{request_id} has all its approvals: it runs when its schedule fires")
            if not approve:
                _add_decision(session, request, actor, "reject", comment)
                request.status, request.decided_at = "rejected", now or utcnow()
                request.status_reason = f"rejected by {actor.email}: {comment}"
                _audit(session, actor, "approval.rejected", request, comment)
                return request
            last = _approvals_given(request) + 1 >= request.required
            if not last or _waits_for_schedule(session, request.id):
                # Not the last approval, or one given ahead of a scheduled sync: it runs when it fires (`ahead.fire`)
                # — if the schedule still waits when this commits (`_hold_schedule`); else it fired meanwhile, and
                # this is the last approval, which runs it.
                _add_decision(session, request, actor, "approve", comment)
                if last and not _hold_schedule(session, request.id):
                    raise _FiredMeanwhile
                _audit(session, actor, "approval.approved", request, comment)
                return request
            snapshot = Snapshot(request)
    except _FiredMeanwhile:  # rolled back: decided below as the last approval
        with ctx.session() as session:
            snapshot = Snapshot(_load(session, request_id))
    # The last approval: re-read Rancher outside any transaction, then record the decision and the outcome.
    plan, moved = recheck(ctx, snapshot, factory, now or utcnow())
    with ctx.session() as session:
        lock_request(session, request_id)  # a scheduler firing it meanwhile decides before or after, never between
        request = _load(session, request_id)
        _check_decider(request, actor)
        _add_decision(session, request, actor, "approve", comment)
        _audit(session, actor, "approval.approved", request, comment)
        if moved or plan is None:
            _mark_stale(session, actor, request, "; ".join(moved), now)
            return request
        claimed = session.execute(
            update(ApprovalRequest).where(ApprovalRequest.id == request.id, ApprovalRequest.status == "pending")
            .values(status="approved")
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:  # another approver got here first
            raise RequestClosed(f"request #{request_id} was decided by someone else meanwhile")
        session.refresh(request)
    return _run(ctx, actor, request, pin_to_binding(plan, snapshot.binding), factory, progress, now)


def _run(
    ctx: AppContext, actor: Actor, request: ApprovalRequest, plan: SyncPlan, factory: ClientFactory,
    progress: ProgressListener | None, now: dt.datetime | None,
) -> ApprovalRequest:
    options = SyncOptions(**request.options)
    try:
        operation_id = apply_plan(ctx, plan, actor=actor, request_id=f"approval-{request.id}",
                                  confirmed=Confirmation(confirm_env=plan.target.name, approval=request.id),
                                  options=options, progress=progress, factory=factory)
    except RancherSyncError as error:  # refused before anything changed: a busy target, nothing left to do…
        with ctx.session() as session:
            stored = _load(session, request.id)
            _mark_stale(session, actor, stored, f"could not run: {error}", now)
            return stored
    with ctx.session() as session:
        stored = _load(session, request.id)
        stored.status, stored.operation_id, stored.decided_at = "executed", operation_id, now or utcnow()
        _audit(session, actor, "approval.executed", stored, f"operation #{operation_id}",
               after={"operationId": operation_id})
        return stored


class _FiredMeanwhile(Exception):
    """An approval read as given ahead of its scheduled sync, which fired before it was recorded."""


def lock_request(session: Session, request_id: int) -> None:
    """Hold the request's row until the transaction ends (a write that changes nothing: a row lock on PostgreSQL,
    the database's write lock on SQLite), so what is read next about it — its status, its approvals — and what is
    decided from it are one step: another decider waits for it, or goes first."""
    session.execute(update(ApprovalRequest).where(ApprovalRequest.id == request_id)
                    .values(status=ApprovalRequest.status).execution_options(synchronize_session=False))


def _hold_schedule(session: Session, request_id: int) -> bool:
    """Whether the request's scheduled sync still waits, holding it so until the transaction ends (its row
    written): a scheduler's claim of it waits for this transaction, so an approval committed with it is in the
    count the scheduler reads when it fires. False once a scheduler has claimed it."""
    held = session.execute(update(ScheduledRequest).where(ScheduledRequest.approval_request_id == request_id,
                                                          ScheduledRequest.status == "scheduled")
                           .values(status="scheduled").execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    return bool(held)


def _waits_for_schedule(session: Session, request_id: int) -> bool:
    """Whether the request belongs to a scheduled sync that has not fired yet (its approvals wait for it)."""
    return session.scalar(select(ScheduledRequest.id).where(ScheduledRequest.approval_request_id == request_id,
                                                            ScheduledRequest.status == "scheduled")) is not None


def fire_time(session: Session, request_id: int) -> dt.datetime | None:
    """When the scheduled sync the request was made for fires, if it is one that has not fired yet."""
    return session.scalar(select(ScheduledRequest.fire_at).where(ScheduledRequest.approval_request_id == request_id,
                                                                 ScheduledRequest.status == "scheduled"))


def _check_decider(request: ApprovalRequest, actor: Actor) -> None:
    if request.status != "pending":
        why = f": {request.status_reason}" if request.status_reason else ""
        state = "running its sync right now" if request.status == "approved" else request.status
        raise RequestClosed(f"request #{request.id} is {state}{why}")
    if actor.email.lower() == request.requested_by.lower():
        raise _denied(f"{actor.email} asked for request #{request.id}: the requester can never approve or reject "
                      "their own request; another releaser must decide")
    if any(d.actor.lower() == actor.email.lower() for d in request.decisions):
        raise _denied(f"{actor.email} has already decided on request #{request.id}: each person decides once")


def _denied(message: str) -> PermissionDenied:
    return PermissionDenied(message, hint="Four eyes: a different person with the releaser role decides.")


def _add_decision(session: Session, request: ApprovalRequest, actor: Actor, decision: str, comment: str) -> None:
    request.decisions.append(ApprovalDecision(actor=actor.email, decision=decision, comment=comment, at=utcnow()))
    session.flush()


def _approvals_given(request: ApprovalRequest) -> int:
    return sum(d.decision == "approve" for d in request.decisions)


def _mark_stale(session: Session, actor: Actor, request: ApprovalRequest, reason: str,
                now: dt.datetime | None) -> None:
    request.status, request.status_reason, request.decided_at = "stale", reason, now or utcnow()
    _audit(session, actor, "approval.stale", request, reason)


def _audit(session: Session, actor: Actor, action: str, request: ApprovalRequest, detail: str,
           after: Mapping[str, Any] | None = None) -> None:
    audit.record(session, actor, action, object_type="approval_request", object_id=request.id,
                 object_name=_name(request), after={"status": request.status, **(after or {})}, detail=detail)
    if action != "approval.requested":  # each transition reaches the requester's subscribers
        notify.approval_event(session, request, actor.email, decision=action.removeprefix("approval."))


# ---- expiry, reading, waiting -----------------------------------------------------------------------------------


def expire_requests(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Mark pending requests past their expiry `expired` (audited as the system); returns their ids."""
    at = now or utcnow()
    expired = []
    for request in session.scalars(
        select(ApprovalRequest).options(selectinload(ApprovalRequest.decisions))
        .where(ApprovalRequest.status == "pending", ApprovalRequest.expires_at <= at)
    ):
        given = _approvals_given(request)
        request.status, request.decided_at = "expired", at
        request.status_reason = (f"expired at {request.expires_at:%Y-%m-%d %H:%M} UTC with {given} of "
                                 f"{approvals_text(request.required)}")
        _audit(session, SYSTEM, "approval.expired", request, request.status_reason)
        expired.append(request.id)
    session.flush()
    return expired


def get_request(session: Session, request_id: int) -> ApprovalRequest:
    """One request with its decisions."""
    return _load(session, request_id)


def list_requests(session: Session, *, pending: bool = False, limit: int = 200) -> list[ApprovalRequest]:
    """Requests newest first (only those waiting for decisions with `pending`), with their decisions."""
    query = select(ApprovalRequest).options(selectinload(ApprovalRequest.decisions))
    if pending:
        query = query.where(ApprovalRequest.status == "pending")
    return list(session.scalars(query.order_by(ApprovalRequest.requested_at.desc(), ApprovalRequest.id.desc())
                                .limit(limit)))


def wait_for_decision(
    ctx: AppContext,
    request_id: int,
    *,
    timeout: float,
    poll: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ApprovalRequest:
    """Poll until the request is executed, rejected, stale or expired (or `timeout` seconds passed: then it is
    returned as it is, still pending or running)."""
    deadline = time.monotonic() + timeout
    while True:
        with ctx.session() as session:
            expire_requests(session)
            request = _load(session, request_id)
        if request.status in CLOSED or time.monotonic() >= deadline:
            return request
        sleep(poll)


def _scope_of(ctx: AppContext, actor: Actor, request_id: int) -> str:
    """The request's target, for an actor limited to some environments (an API token); else no look-up."""
    if actor.environments is None:
        return ""
    with ctx.session() as session:
        return _load(session, request_id).target_environment_name


def _load(session: Session, request_id: int) -> ApprovalRequest:
    request = session.scalar(select(ApprovalRequest).options(selectinload(ApprovalRequest.decisions))
                             .where(ApprovalRequest.id == request_id).execution_options(populate_existing=True))
    if request is None:
        raise NotFoundError(f"no approval request #{request_id}")
    return request


def _name(request: ApprovalRequest) -> str:
    return f"{request.source_environment_name} → {request.target_environment_name}"


class DecisionPayload(TypedDict):
    by: str
    at: str | None
    comment: str


class BoundContainer(TypedDict):
    name: str
    init: bool
    previous: str | None
    new: str | None
    digests: list[str]


class BoundTarget(TypedDict):
    appInstanceId: int
    appInstance: str | None
    kind: str
    name: str
    resourceVersion: str | None
    containers: list[BoundContainer]


class RequestPayload(TypedDict):
    """`approvals … --json` and the API's approvals: one request (the OpenAPI schema is made from these types)."""

    id: int
    sourceEnvironmentId: int | None
    targetEnvironmentId: int | None
    sourceEnvironment: str
    targetEnvironment: str
    mode: str
    status: str
    requestedBy: str
    requestedAt: str | None
    expiresAt: str | None
    decidedAt: str | None
    required: int
    approvals: list[DecisionPayload]
    rejections: list[DecisionPayload]
    statusReason: str | None
    operationId: int | None
    services: list[str]
    targets: list[BoundTarget]


def request_payload(request: ApprovalRequest) -> RequestPayload:
    """A request for `--json` (camelCase, like the other payloads): the bound plan, who decided what, the outcome."""
    return {
        "id": request.id,
        "sourceEnvironmentId": request.source_environment_id,
        "targetEnvironmentId": request.target_environment_id,
        "sourceEnvironment": request.source_environment_name,
        "targetEnvironment": request.target_environment_name,
        "mode": request.mode,
        "status": request.status,
        "requestedBy": request.requested_by,
        "requestedAt": iso(request.requested_at),
        "expiresAt": iso(request.expires_at),
        "decidedAt": iso(request.decided_at),
        "required": request.required,
        "approvals": [{"by": d.actor, "at": iso(d.at), "comment": d.comment}
                      for d in request.decisions if d.decision == "approve"],
        "rejections": [{"by": d.actor, "at": iso(d.at), "comment": d.comment}
                       for d in request.decisions if d.decision == "reject"],
        "statusReason": request.status_reason or None,
        "operationId": request.operation_id,
        "services": list(request.services),
        "targets": [
            {"appInstanceId": t["appInstanceId"], "appInstance": t.get("appInstance"), "kind": t["kind"],
             "name": t["name"], "resourceVersion": t["resourceVersion"],
             "containers": [{"name": c["name"], "init": c["init"], "previous": c["previous"], "new": c["new"],
                             "digests": list(c.get("digests", []))} for c in t["containers"]]}
            for t in request.binding.get("targets", [])
        ],
    }
