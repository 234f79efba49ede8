"""Subscriptions: who gets which events of which environment, managed by admins (audited); the URL is encrypted
like a token and only ever shown masked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.kernel.errors import NotFoundError
from ranchersync.kernel.validation import check_fields
from ranchersync.models import Environment, NotificationSubscription, OutboxMessage, utcnow
from ranchersync.notify.events import check_events
from ranchersync.notify.urls import check_url, mask_url
from ranchersync.security.crypto import TokenCipher
from ranchersync.security.host_policy import HostPolicy, default_policy


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as pages, the CLI and JSON show it: never the URL, only its masked form."""

    id: int
    environment: str  # "all environments" when it has none
    environment_id: int | None
    events: tuple[str, ...]
    url: str  # masked
    active: bool
    created_by: str
    created_at: dt.datetime
    last_status: str | None
    last_error: str | None
    last_attempt_at: dt.datetime | None
    waiting: int  # messages not yet sent

    def payload(self) -> dict[str, Any]:
        """The `--json` shape (camelCase)."""
        return {
            "id": self.id, "environment": self.environment, "environmentId": self.environment_id,
            "events": list(self.events), "url": self.url, "active": self.active, "createdBy": self.created_by,
            "createdAt": self.created_at.isoformat(), "lastStatus": self.last_status, "lastError": self.last_error,
            "lastAttemptAt": self.last_attempt_at.isoformat() if self.last_attempt_at else None,
            "waiting": self.waiting,
        }


ALL_ENVIRONMENTS = "all environments"


def add_subscription(
    session: Session, cipher: TokenCipher, actor: Actor, *, environment: int | str | None, url: str,
    events: str | list[str] | tuple[str, ...], policy: HostPolicy | None = None,
) -> NotificationSubscription:
    """Subscribe an Apprise URL to events of one environment (None: every one); the caller commits. The URL must
    stay inside the host policy (`policy`, else this installation's), like a site's."""
    require(actor, "manage_notifications")
    checked = check_fields(url=lambda: check_url(url, policy if policy is not None else default_policy()),
                           events=lambda: check_events(events))  # both wrong: both said at once
    value, chosen = checked["url"], checked["events"]
    env = get_environment(session, environment) if environment is not None and environment not in ("", "all") \
        else None
    subscription = NotificationSubscription(
        environment_id=env.id if env else None, events=chosen, url_encrypted=cipher.encrypt(value),
        url_masked=mask_url(value), active=True, created_by=actor.email, created_at=utcnow(),
    )
    session.add(subscription)
    session.flush()
    audit.record(session, actor, "notify.add", object_type="notification", object_id=subscription.id,
                 object_name=subscription.url_masked,
                 after={"environment": env.name if env else ALL_ENVIRONMENTS, "events": chosen,
                        "url": subscription.url_masked})
    return subscription


def remove_subscription(session: Session, actor: Actor, subscription_id: int) -> NotificationSubscription:
    """Remove a subscription and its unsent messages; the caller commits."""
    require(actor, "manage_notifications")
    subscription = get_subscription(session, subscription_id)
    before = {"events": list(subscription.events), "url": subscription.url_masked}
    session.delete(subscription)
    session.flush()
    audit.record(session, actor, "notify.remove", object_type="notification", object_id=subscription_id,
                 object_name=subscription.url_masked, before=before)
    return subscription


def send_test(session: Session, actor: Actor, subscription_id: int) -> int:
    """Queue a test message for one subscription (sent after commit); returns the message id."""
    require(actor, "manage_notifications")
    subscription = get_subscription(session, subscription_id)
    env = session.get(Environment, subscription.environment_id) if subscription.environment_id else None
    message = OutboxMessage(
        event="test", subscription_id=subscription.id, attempts=0, next_attempt_at=utcnow(),
        payload={"event": "test", "environment": env.name if env else ALL_ENVIRONMENTS, "actor": actor.email,
                 "detail": "A test from Rancher Sync Manager: this subscription works."},
    )
    session.add(message)
    session.flush()
    from ranchersync.notify.outbox import PENDING_KEY

    session.info[PENDING_KEY] = True
    audit.record(session, actor, "notify.test", object_type="notification", object_id=subscription.id,
                 object_name=subscription.url_masked)
    return message.id


def get_subscription(session: Session, subscription_id: int) -> NotificationSubscription:
    """One subscription by id."""
    subscription = session.get(NotificationSubscription, subscription_id)
    if subscription is None:
        raise NotFoundError(f"no notification subscription #{subscription_id} (see `notify list`)")
    return subscription


def list_subscriptions(session: Session) -> list[SubscriptionView]:
    """Every subscription, masked, with its last delivery outcome and how many messages still wait."""
    names: dict[int, str] = {i: n for i, n in session.execute(select(Environment.id, Environment.name))}
    waiting: dict[int | None, int] = {}  # None: e-mails to people, no subscription
    for sub_id in session.scalars(select(OutboxMessage.subscription_id).where(OutboxMessage.sent_at.is_(None),
                                                                             OutboxMessage.next_attempt_at.is_not(None))):
        waiting[sub_id] = waiting.get(sub_id, 0) + 1
    return [
        SubscriptionView(
            s.id, names.get(s.environment_id, "?") if s.environment_id else ALL_ENVIRONMENTS, s.environment_id,
            tuple(s.events), s.url_masked, s.active, s.created_by, s.created_at, s.last_status, s.last_error,
            s.last_attempt_at, waiting.get(s.id, 0),
        )
        for s in session.scalars(select(NotificationSubscription).order_by(NotificationSubscription.id))
    ]
