"""Four-eyes on the Approvals screen: read the requests, approve or reject one (a reviewed sync becomes a request
in ui/sync/sync_actions.py).

Each function opens its own session, calls the core (ranchersync.approvals.requests)
as the actor the frame read (`Frame.actor`, passed in), and clears what the change makes stale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from ranchersync.access.identity import Actor
from ranchersync.approvals import requests as approvals
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.trains import schedules
from ui.shell import deps, queries
from ui.shell.outcome import Outcome


@dataclass(frozen=True)
class Requests:
    """The Approvals page's data: requests waiting for decisions, and the decided ones (newest first)."""

    pending: tuple[dict[str, Any], ...]
    decided: tuple[dict[str, Any], ...]
    me: str  # the signed-in actor's e-mail: their own requests cannot be decided by them


def list_requests(actor: Actor, limit: int = 200) -> Requests:
    """Every request as its payload (the `--json` shape), read now: a decision must see what is there now."""
    ctx = deps.get_context()
    with ctx.session() as session:
        approvals.expire_requests(session)
        # The page reads the payloads as plain dicts (the typed shape is the API's and the CLI's contract).
        rows = [cast(dict[str, Any], approvals.request_payload(r))
                for r in approvals.list_requests(session, limit=limit)]
        for row in rows:  # a scheduled sync's request, approvable before it fires: when it fires
            row["firesAt"] = approvals.fire_time(session, row["id"]) if row["status"] == "pending" else None
    return Requests(tuple(r for r in rows if r["status"] == "pending"),
                    tuple(r for r in rows if r["status"] != "pending"), actor.email)


def decide(actor: Actor, request_id: int, *, approve: bool, comment: str) -> tuple[Outcome, str]:
    """Approve or reject a request as the signed-in actor; the last approval re-checks and runs the sync.

    Returns the outcome and the request's status after it (`stale` is an outcome to warn about, not an error).
    """
    ctx = deps.get_context()
    try:
        request = approvals.decide(ctx, actor, request_id, approve, comment,
                                   factory=deps.client_factory())
    except RancherSyncError as error:
        return Outcome.failed(error), ""
    finally:
        queries.clear_services()
        queries.clear_history()
    payload = approvals.request_payload(request)
    status = payload["status"]
    if status == "executed":
        message = f"Request #{request_id} approved: it ran as sync #{payload['operationId']} (see the sync history)."
    elif status == "pending" and len(payload["approvals"]) >= payload["required"]:
        message = f"Approved: request #{request_id} runs when its schedule fires, if its plan is unchanged then."
    elif status == "pending":
        message = (f"Approved: request #{request_id} has {len(payload['approvals'])} of {payload['required']} "
                   "approvals and waits for more.")
    elif status == "rejected":
        message = f"Request #{request_id} rejected."
    else:
        message = f"Request #{request_id} is {status}: {payload['statusReason']}"
    return Outcome(status != "stale", message, title="Not run: what the request was bound to moved"), status


# ---- scheduled requests -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledRow:
    """A scheduled sync or snapshot promotion as the Approvals screen shows it."""

    id: int
    what: str
    fire_at: dt.datetime
    timezone: str
    status: str
    reason: str
    requested_by: str
    approval_request_id: int | None
    operation_id: int | None


def list_scheduled(limit: int = 100) -> tuple[ScheduledRow, ...]:
    """Scheduled requests: those waiting, the next to fire first, then the fired or cancelled ones."""
    ctx = deps.get_context()
    with ctx.session() as session:
        return tuple(ScheduledRow(r.id, schedules.describe(r), r.fire_at, r.timezone, r.status, r.status_reason,
                                  r.requested_by, r.approval_request_id, r.operation_id)
                     for r in schedules.list_schedules(session, limit=limit))


def cancel_scheduled(actor: Actor, request_id: int) -> Outcome:
    """Cancel a scheduled request that has not fired (its requester, or an admin); its approval request closes."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            row = schedules.cancel(session, actor, request_id)
            what = schedules.describe(row)
    except RancherSyncError as error:
        return Outcome.failed(error)
    return Outcome.done(f"Scheduled request #{request_id} ({what}) cancelled.")
