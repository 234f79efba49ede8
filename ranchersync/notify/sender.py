"""Delivering the outbox through Apprise after commit: a background thread in the process that queued (never in the
way of the sync), `check` from cron, retries with exponential backoff, and the last outcome kept per subscription.
A message for a person's e-mail goes through RANCHERSYNC_MAIL_URL with the person as its `to=`.

Several processes may deliver at once: a message is claimed by moving its next attempt forward in a conditional
UPDATE, so only one of them sends it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ranchersync.context import AppContext
from ranchersync.kernel.config import MAIL_URL_ENV, mail_url
from ranchersync.kernel.errors import ValidationError
from ranchersync.models import NotificationSubscription, OutboxMessage, utcnow
from ranchersync.notify.events import Message, render
from ranchersync.notify.outbox import PENDING_KEY
from ranchersync.notify.urls import check_hosts, check_probe_options, load_apprise, mask_url, redacted
from ranchersync.security import egress
from ranchersync.security.crypto import SecretKeyError
from ranchersync.security.host_policy import HostPolicy, HostRefused, default_policy

log = logging.getLogger(__name__)

BACKOFF_SECONDS = 5.0  # the first retry; each next one waits twice as long
MAX_BACKOFF_SECONDS = 3600.0
MAX_ATTEMPTS = 8  # then the message is given up (its last error stays on the subscription)
SEND_TIMEOUT_SECONDS = 15.0  # one Apprise call, every service included
CLAIM_SECONDS = 120.0  # how long a claimed message is left alone by other senders
BATCH = 50
PUBLIC_URL_ENV: Final = "RANCHERSYNC_PUBLIC_URL"
# One sentence for every refusal: whether the address was open, closed or answered 403 is nobody's business.
REFUSED: Final = ("not sent: the address is outside what this installation may reach "
                  "(host policy, RANCHERSYNC_ALLOWED_HOSTS)")

Sender = Callable[[str, Message], str | None]  # (url, message) → None when sent, else the error


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass of the sender did."""

    sent: int
    failed: int
    given_up: int


def backoff(attempts: int) -> float:
    """Seconds to wait before the next attempt after `attempts` failed ones (5 s, 10 s, 20 s… up to an hour)."""
    return float(min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2 ** max(0, attempts - 1)))


def apprise_send(url: str, message: Message, policy: HostPolicy | None = None) -> str | None:
    """Send one message to one Apprise URL inside the host policy, with a deadline and a cap on the answer read;
    the error text (URL parts masked; one generic sentence for any refusal) or None."""
    policy = policy if policy is not None else default_policy()
    try:
        check_probe_options(url)
        check_hosts(url, policy)
    except (ValidationError, HostRefused):
        log.warning("notification to %s refused before sending (host policy)", mask_url(url))
        return REFUSED
    apprise = load_apprise()
    guard = redacted(url)
    with guard, egress.guarded(policy, SEND_TIMEOUT_SECONDS) as fence:
        # Sequential (the guard lives in this context), and no redirect followed whatever the URL says.
        sender = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False, http_redirects=False))
        if not sender.add(url):
            return "Apprise does not understand this URL"
        result = sender.notify(body=message.body, title=message.title, notify_type=message.kind,
                               body_format=apprise.NotifyFormat.MARKDOWN, timeout=SEND_TIMEOUT_SECONDS)
    if fence.refused:
        log.warning("notification to %s refused at connection (host policy)", mask_url(url))
        return REFUSED
    if bool(result):
        return None
    problems = [entry.message if hasattr(entry, "message") else str(entry) for entry in result.logs()]
    text = "; ".join(p for p in problems if p) or f"delivery failed ({getattr(result, 'status', 'unknown')})"
    return guard.clean(text)[:500]


def deliver_pending(
    ctx: AppContext, now: dt.datetime | None = None, send: Sender | None = None, public_url: str | None = None
) -> DeliveryReport:
    """Send every message that is due, once; failures are retried later with backoff. Never raises for a failed
    delivery (it is recorded on the message and on its subscription)."""
    send = send or apprise_send
    base = os.environ.get(PUBLIC_URL_ENV, "") if public_url is None else public_url
    sent = failed = given_up = 0
    for message_id in _due(ctx, now or utcnow()):
        claimed = _claim(ctx, message_id, now or utcnow())
        if claimed is None:
            continue
        url, event, payload, unusable = claimed
        try:
            error = send(url, render(event, payload, base)) if url is not None else unusable
        except Exception as exc:  # noqa: BLE001 - a notifier's bug must not stop the others; recorded, not raised
            error = f"{type(exc).__name__}: {redacted(url or '').clean(str(exc))}"[:500]
        outcome = _record(ctx, message_id, error, utcnow())
        sent += outcome == "ok"
        failed += outcome == "retrying"
        given_up += outcome == "failed"
    return DeliveryReport(sent, failed, given_up)


def _due(ctx: AppContext, now: dt.datetime) -> list[int]:
    with ctx.session() as session:
        return list(session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id).limit(BATCH)
        ))


def mail_to(server_url: str, recipient: str) -> str:
    """The Apprise mail URL that sends to `recipient` only: the server's URL with its `to=` set to that address."""
    parts = urlsplit(server_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "to"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("to", recipient)])))


def _claim(ctx: AppContext, message_id: int, now: dt.datetime) -> tuple[str | None, str, dict, str] | None:
    """Take one due message: (the URL to send to or None, its event, its payload, why there is no URL)."""
    with ctx.session() as session:
        taken = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None),
                   OutboxMessage.next_attempt_at <= now)
            .values(next_attempt_at=now + dt.timedelta(seconds=CLAIM_SECONDS))
        ).rowcount  # type: ignore[attr-defined]
        if taken != 1:
            return None
        message = session.get_one(OutboxMessage, message_id)
        if message.recipient is not None:
            server = mail_url()
            return (mail_to(server, message.recipient) if server else None, message.event, dict(message.payload),
                    f"e-mail is not configured ({MAIL_URL_ENV} is unset)")
        subscription = session.get_one(NotificationSubscription, message.subscription_id)
        try:
            url: str | None = ctx.cipher.decrypt(subscription.url_encrypted)
        except SecretKeyError:
            url = None
        return url, message.event, dict(message.payload), "the URL cannot be decrypted"


def _record(ctx: AppContext, message_id: int, error: str | None, now: dt.datetime) -> str:
    with ctx.session() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:  # its subscription was removed meanwhile
            return "failed"
        subscription = (None if message.subscription_id is None
                        else session.get_one(NotificationSubscription, message.subscription_id))
        message.attempts += 1
        if error is None:
            message.sent_at, message.last_error, message.next_attempt_at = now, None, None
            outcome = "ok"
        else:
            message.last_error = error
            if message.attempts >= MAX_ATTEMPTS:
                message.next_attempt_at, outcome = None, "failed"
            else:
                message.next_attempt_at = now + dt.timedelta(seconds=backoff(message.attempts))
                outcome = "retrying"
            target = (subscription.url_masked if subscription is not None
                      else f"{message.recipient} via {mask_url(mail_url()) if mail_url() else 'no mail server'}")
            log.warning("notification #%s (%s) to %s failed (attempt %s): %s", message.id, message.event,
                        target, message.attempts, error)
        if subscription is not None:
            subscription.last_status, subscription.last_attempt_at = outcome, now
            subscription.last_error = error
        return outcome


def next_due(ctx: AppContext) -> dt.datetime | None:
    """When the next queued message is due, or None when nothing waits."""
    with ctx.session() as session:
        return session.scalar(
            select(OutboxMessage.next_attempt_at).where(OutboxMessage.sent_at.is_(None),
                                                       OutboxMessage.next_attempt_at.is_not(None))
            .order_by(OutboxMessage.next_attempt_at).limit(1)
        )


# ---- the background sender --------------------------------------------------------------------------------------


class _Background:
    """One daemon thread per context: woken after a commit that queued messages, it sends what is due and sleeps
    until the next retry; it ends when nothing waits."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.wake = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def kick(self) -> None:
        with self.lock:
            self.idle.clear()
            self.wake.set()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="ranchersync-notify", daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        while True:
            self.wake.clear()
            try:
                deliver_pending(self.ctx)
                due = next_due(self.ctx)
            except Exception:  # noqa: BLE001 - the database went away, say; the next commit or `check` retries
                log.exception("the notification sender stopped")
                due = None
            with self.lock:
                if due is None and not self.wake.is_set():
                    self.thread = None
                    self.idle.set()
                    return
            self.idle.set()
            wait = 0.0 if due is None else max(0.0, (due - utcnow()).total_seconds())
            self.wake.wait(timeout=min(wait, MAX_BACKOFF_SECONDS) + 0.01)
            self.idle.clear()


_BACKGROUND: dict[int, _Background] = {}
_ATTACHED: dict[int, weakref.ref[AppContext]] = {}
_GUARD = threading.Lock()


def _background(ctx: AppContext) -> _Background:
    with _GUARD:
        worker = _BACKGROUND.get(id(ctx))
        if worker is None or worker.ctx is not ctx:
            worker = _BACKGROUND[id(ctx)] = _Background(ctx)
        return worker


def attach(ctx: AppContext) -> None:
    """Send in the background after every commit of this context's sessions that queued a notification."""
    with _GUARD:
        known = _ATTACHED.get(id(ctx))
        if known is not None and known() is ctx:
            return
        _ATTACHED[id(ctx)] = weakref.ref(ctx)

    def after_commit(session: Session) -> None:
        if session.info.pop(PENDING_KEY, False):
            _background(ctx).kick()

    def after_rollback(session: Session) -> None:
        session.info.pop(PENDING_KEY, None)

    sa_event.listen(ctx.sessionmaker, "after_commit", after_commit)
    sa_event.listen(ctx.sessionmaker, "after_soft_rollback", lambda session, _tx: after_rollback(session))


def deliver_soon(ctx: AppContext) -> None:
    """Start (or wake) the background sender when something is due (one small query otherwise)."""
    attach(ctx)
    due = next_due(ctx)
    if due is not None and due <= utcnow():
        _background(ctx).kick()


def settle(ctx: AppContext, timeout: float = 10.0) -> bool:
    """Wait until the background sender has made its current pass (a CLI command before it exits); True if so."""
    worker = _BACKGROUND.get(id(ctx))
    return worker is None or worker.idle.wait(timeout)
