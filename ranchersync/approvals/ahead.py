"""Approvals given before a scheduled sync fires (issue 24): a scheduled sync or snapshot promotion into an
environment that needs approvals becomes its approval request when it is scheduled, bound to the plan made then, so
releasers approve it ahead of time. Its last approval does not run it: the schedule does, when it fires, after making
the plan again and comparing it with the bound one (`binding.recheck`): unchanged, the approvals given count and it
runs; changed, the request is stale and the caller makes a new one that needs the approvals again.

`fire` is what the scheduler calls; `requests.decide` records a last approval given ahead without running it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ranchersync.access.identity import SYSTEM, Actor
from ranchersync.approvals.binding import Snapshot, pin_to_binding, recheck
from ranchersync.approvals.requests import (
    _approvals_given,
    _load,
    _mark_stale,
    _run,
    expire_requests,
    lock_request,
    request_sync,
)
from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.governance.four_eyes import approvals_text
from ranchersync.governance.freeze import check_sync_allowed
from ranchersync.governance.locks import check_unlocked
from ranchersync.kernel.roles import ROLE_RANK
from ranchersync.models import ApprovalRequest, User, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.sync import SyncOptions, SyncPlan

log = logging.getLogger(__name__)

__all__ = ["Changed", "Closed", "Fired", "Ran", "Waiting", "fire", "release", "request_ahead", "withdraw"]


def request_ahead(ctx: AppContext, actor: Actor, plan: SyncPlan, fire_at: dt.datetime, *,
                  options: SyncOptions | None = None, factory: ClientFactory = RancherClient,
                  now: dt.datetime | None = None) -> ApprovalRequest:
    """The approval request of a scheduled sync, bound to `plan` (made now); it stays open until the usual approval
    time-to-live after `fire_at`, so approvals given days ahead do not expire before it fires."""
    at = now or utcnow()
    ttl = (fire_at - at) + dt.timedelta(hours=ctx.settings.approval_ttl_hours)
    return request_sync(ctx, actor, plan, options=options, factory=factory, ttl=ttl, now=at)


def withdraw(session: Session, actor: Actor, request_id: int, reason: str) -> None:
    """Close a waiting request whose schedule was cancelled (stale, with the reason); the caller commits."""
    request = session.get(ApprovalRequest, request_id)
    if request is not None and request.status == "pending":
        _mark_stale(session, actor, request, reason, None)


def release(session: Session, request_id: int) -> None:
    """A request its scheduler took to run (`approved`) and died before opening its operation goes back to waiting
    for that schedule, its approvals kept, so the schedule fires it again (once: the operation's request id is the
    request's). The caller found no operation of it, and commits."""
    released = session.execute(update(ApprovalRequest).where(ApprovalRequest.id == request_id,
                                                             ApprovalRequest.status == "approved",
                                                             ApprovalRequest.operation_id.is_(None))
                               .values(status="pending").execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    if released:
        log.warning("approval request #%s: its scheduler stopped after taking it to run; it waits for the schedule "
                    "again", request_id, extra={"event": "approval.released"})


@dataclass(frozen=True)
class Ran:
    """The plan was unchanged and fully approved: it ran as this operation (read its status)."""

    operation_id: int


@dataclass(frozen=True)
class Waiting:
    """The plan was unchanged but approvals are missing: the request stays open and its last approval runs it."""

    request_id: int
    given: int
    required: int

    @property
    def message(self) -> str:
        return (f"request #{self.request_id} has {self.given} of {approvals_text(self.required)}: its last approval "
                "runs it")


@dataclass(frozen=True)
class Changed:
    """The plan made now differs from the approved one: the request is stale; a new one needs the approvals again."""

    request_id: int
    reason: str


@dataclass(frozen=True)
class Closed:
    """The request was decided or lapsed before it fired (rejected, expired, stale, or run by its last approver)."""

    request_id: int
    reason: str


Fired = Ran | Waiting | Changed | Closed


def fire(ctx: AppContext, request_id: int, *, factory: ClientFactory = RancherClient,
         now: dt.datetime | None = None) -> Fired:
    """Fire a scheduled request's approval request: refuse a frozen or locked target (RefusedByPolicy, raised),
    then plan again and compare with the bound plan; run it when unchanged and fully approved."""
    at = now or utcnow()
    with ctx.session() as session:
        expire_requests(session, at)
        request = _load(session, request_id)
        if request.status != "pending":
            why = f": {request.status_reason}" if request.status_reason else ""
            return Closed(request_id, f"its approval request #{request_id} is {request.status}{why}")
        target = get_environment(session, request.target_environment_id or -1)
        check_sync_allowed(session, SYSTEM, target, at, None)
        check_unlocked(session, target, {name.partition("/")[2] for name in request.services})
        snapshot = Snapshot(request)
    plan, moved = recheck(ctx, snapshot, factory, at)
    with ctx.session() as session:
        # The count of approvals and what is decided from it are one step: an approval recorded meanwhile is in it,
        # one that comes later finds the request decided (or, still waiting, is its last approval and runs it).
        lock_request(session, request_id)
        request = _load(session, request_id)
        if request.status == "executed" and request.operation_id is not None:
            return Ran(request.operation_id)  # its last approval, given while it fired, ran it
        if request.status != "pending":
            why = f": {request.status_reason}" if request.status_reason else ""
            return Closed(request_id, f"its approval request #{request_id} is {request.status}{why}")
        if moved or plan is None:
            reason = "the plan changed before it fired: " + ("; ".join(moved) or "nothing is left to change")
            _mark_stale(session, SYSTEM, request, reason, at)
            return Changed(request_id, reason)
        given, required = _approvals_given(request), request.required
        runner = _last_approver(session, request)
        if given < required:
            return Waiting(request_id, given, required)
        claimed = session.execute(
            update(ApprovalRequest).where(ApprovalRequest.id == request_id, ApprovalRequest.status == "pending")
            .values(status="approved")).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            session.refresh(request)
            return Closed(request_id, f"its approval request #{request_id} is {request.status}")
        session.refresh(request)
    ran = _run(ctx, runner, request, pin_to_binding(plan, snapshot.binding), factory, None, at)
    if ran.operation_id is None:
        return Closed(request_id, f"its approval request #{request_id} is {ran.status}: {ran.status_reason}")
    return Ran(ran.operation_id)


def _last_approver(session: Session, request: ApprovalRequest) -> Actor:
    """Who runs an approved request when it fires: its last approver, with the role they have now."""
    approvals = [d for d in request.decisions if d.decision == "approve"]
    if not approvals:
        return SYSTEM
    email = approvals[-1].actor
    user = session.scalar(select(User).where(User.email == email))
    role = user.role if user is not None and user.role in ROLE_RANK else "releaser"
    return Actor(email, role, "system")  # type: ignore[arg-type]
