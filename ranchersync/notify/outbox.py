"""The outbox: a notification is written in the transaction of its event (one row per matching subscription, and one
per person whose preferences ask for it by e-mail when RANCHERSYNC_MAIL_URL is set), so an event that rolls back
notifies nobody and a committed one is never lost; the sender delivers after commit."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from ranchersync.kernel.config import mail_url
from ranchersync.models import (
    AppInstance,
    NotificationSubscription,
    OutboxMessage,
    SyncOperation,
    UserPreference,
    utcnow,
)

PENDING_KEY: Final = "ranchersync.notify.pending"  # Session.info flag: this transaction queued notifications


def enqueue(
    session: Session, event: str, payload: Mapping[str, Any], environment_id: int | Collection[int] | None = None
) -> int:
    """Queue `event` for every active subscription of `environment_id` (one id or several; and the all-environments
    ones) that wants it, and for every person who asked for it by e-mail, in the caller's transaction; returns how
    many messages were queued."""
    condition: ColumnElement[bool] = NotificationSubscription.environment_id.is_(None)
    ids = [] if environment_id is None else [environment_id] if isinstance(environment_id, int) else \
        sorted(environment_id)
    if ids:
        condition = or_(condition, NotificationSubscription.environment_id.in_(ids))
    subscriptions = session.scalars(
        select(NotificationSubscription).where(NotificationSubscription.active.is_(True), condition)
    ).all()
    now = utcnow()
    queued = 0
    for subscription in subscriptions:
        if event not in (subscription.events or []):
            continue
        session.add(OutboxMessage(event=event, payload=dict(payload), subscription_id=subscription.id,
                                  attempts=0, created_at=now, next_attempt_at=now))
        queued += 1
    for email in mail_recipients(session, event):
        session.add(OutboxMessage(event=event, payload=dict(payload), recipient=email, attempts=0, created_at=now,
                                  next_attempt_at=now))
        queued += 1
    if queued:
        session.info[PENDING_KEY] = True
        session.flush()
    return queued


def site_event(session: Session, event: str, payload: Mapping[str, Any], site_id: int) -> int:
    """Queue a site event (site.unreachable, site.recovered, token.expiring) for the all-environments subscriptions
    and those of every environment with an app instance on that site (DESIGN.md, "Notification")."""
    environments = set(session.scalars(select(AppInstance.environment_id).where(AppInstance.site_id == site_id)))
    return enqueue(session, event, payload, environments)


def mail_recipients(session: Session, event: str) -> list[str]:
    """The e-mails of the people whose preferences ask for `event`; none while no mail server is configured (and
    none for a local user name that is not an address)."""
    if not mail_url():
        return []
    rows = session.execute(select(UserPreference.email, UserPreference.email_events).order_by(UserPreference.email))
    return [email for email, events in rows if "@" in email and event in (events or [])]


# ---- the events -------------------------------------------------------------------------------------------------

_SYNC_EVENTS: Final = {"complete": "sync.succeeded", "partial": "sync.failed", "failed": "sync.failed",
                       "rolled_back": "sync.rolled_back", "interrupted": "sync.failed"}


def sync_finished(session: Session, operation: SyncOperation) -> int:
    """Queue sync.succeeded / sync.failed / sync.rolled_back for an operation that just got its final status."""
    event = _SYNC_EVENTS.get(operation.status)
    if operation.kind == "rollback" and operation.status == "complete":
        event = "sync.rolled_back"  # a later rollback that put the previous versions back
    if event is None:
        return 0
    services = [
        {"name": r.service, "kind": r.workload_kind, "instance": r.namespace, "previous": r.previous_image,
         "new": r.new_image, "status": r.status, **_changelog(r.containers)}
        for r in operation.results
    ]
    payload = {
        "event": event, "operationId": operation.id, "kind": operation.kind, "status": operation.status,
        "source": operation.source_environment_name, "target": operation.target_environment_name,
        "actor": operation.initiated_by, "services": services, "error": operation.error or "",
        "at": (operation.finished_at or utcnow()).isoformat(),
    }
    return enqueue(session, event, payload, operation.target_environment_id)


def _changelog(containers: Any) -> dict[str, str]:
    """The changelog the plan recorded with a result's containers, in one line (a rollback's, reversed, has none)."""
    lines = [str(c["changelog"].get("summary") or "") for c in containers or ()
             if isinstance(c, dict) and isinstance(c.get("changelog"), dict)]
    lines = [line for line in dict.fromkeys(lines) if line]
    return {"changelog": " | ".join(lines)} if lines else {}


def approval_event(session: Session, request: Any, actor: str, decision: str = "") -> int:
    """Queue approval.requested (no decision) or approval.decided for an approval request."""
    event = "approval.decided" if decision else "approval.requested"
    payload = {
        "event": event, "requestId": request.id, "source": request.source_environment_name,
        "target": request.target_environment_name, "actor": actor, "status": request.status,
        "services": [{"name": s} for s in request.services], "decision": decision,
        "detail": request.status_reason or "",
    }
    return enqueue(session, event, payload, request.target_environment_id)


def freeze_event(session: Session, event: str, actor: str, environment: Any | None, reason: str,
                 detail: str) -> int:
    """Queue freeze.override (one environment) or freeze.stop_all (every environment: no environment)."""
    payload = {"event": event, "environment": environment.name if environment is not None else "every environment",
               "actor": actor, "reason": reason, "detail": detail}
    return enqueue(session, event, payload, environment.id if environment is not None else None)
