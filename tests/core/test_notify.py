"""Notifications: a real sync against the simulated Rancher reaches a local receiver as Apprise JSON; a failing
receiver is retried with backoff while the sync finishes on time; URLs stay masked and out of logs and JSON."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest
from sqlalchemy import select

from ranchersync import notify
from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.kernel.errors import PermissionDenied, ValidationError
from ranchersync.models import AuditEvent, NotificationSubscription, OutboxMessage, utcnow
from ranchersync.notify import sender
from ranchersync.security.crypto import TokenCipher, generate_key
from ranchersync.security.keys import check_keys, rotate_keys
from ranchersync.sync import SyncOptions, apply_plan, new_request_id, plan_environments
from tests.core.receiver import Receiver

ADMIN = Actor("alice@example.com", "admin", "cli")
FAST = SyncOptions(timeout_seconds=20, poll_seconds=0.2)
SECRETS = ("pa55w0rd-x", "s3cr3t-path-T0KEN", "k3y-v4lue", "hooks/")


def subscribe(ctx: AppContext, url: str, events: str = "sync.succeeded,sync.failed,sync.rolled_back",
              env: str | None = "Prod") -> int:
    with ctx.session() as session:
        return notify.add_subscription(session, ctx.cipher, ADMIN, environment=env, url=url, events=events).id


def promote_frontend(ctx: AppContext) -> int:
    with ctx.session() as session:
        plan = plan_environments(session, ctx.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={("Deployment", "frontend"): "all"})
    return apply_plan(ctx, plan, actor=Actor("tester", "admin", "cli"), request_id=new_request_id(), options=FAST)


def test_a_real_sync_reaches_the_receiver_as_json_with_its_fields(
    demo: AppContext, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANCHERSYNC_PUBLIC_URL", "https://sync.example.com")
    caplog.set_level(logging.DEBUG)
    with Receiver() as receiver:
        prod_id = subscribe(demo, receiver.url())
        subscribe(demo, receiver.url("dev-only"), env="Dev")  # another environment: gets nothing
        operation_id = promote_frontend(demo)
        bodies = receiver.wait_for(1)
        assert notify.settle(demo), "the sender finished its pass"
        with demo.session() as session:
            queued = session.execute(select(OutboxMessage.subscription_id, OutboxMessage.sent_at)).all()
        # The Dev subscription got no outbox row (nothing can ever be sent to it), the Prod one's was sent.
        assert [(sub_id, sent is not None) for sub_id, sent in queued] == [(prod_id, True)]
    assert len(bodies) == 1 and receiver.requests[0][1].startswith("/hooks/")
    body = bodies[0]
    assert body["type"] == "success"
    assert body["title"] == "Sync succeeded: Stage → Prod"
    message = body["message"]
    assert f"Sync #{operation_id}" in message and "complete" in message and "tester" in message
    assert "frontend\\:3.8.0 → registry.example.com\\:5000/shop/frontend\\:3.8.1" in message
    assert f"(https://sync.example.com/Sync_history?operation={operation_id})" in message
    with demo.session() as session:
        sub = session.scalars(select(NotificationSubscription).order_by(NotificationSubscription.id)).first()
        assert sub is not None and sub.last_status == "ok" and sub.last_error is None
        assert session.scalar(select(OutboxMessage.sent_at).where(OutboxMessage.subscription_id == sub.id))
    for secret in SECRETS:
        assert secret not in caplog.text


def test_a_failing_receiver_is_retried_with_backoff_and_the_sync_is_not_delayed(
    demo: AppContext, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sender, "BACKOFF_SECONDS", 0.4)
    caplog.set_level(logging.DEBUG)
    with Receiver(fail_first=2) as receiver:
        subscribe(demo, receiver.url())
        started = time.monotonic()
        operation_id = promote_frontend(demo)
        took = time.monotonic() - started
        with demo.session() as session:
            sub = session.scalars(select(NotificationSubscription)).one()
        receiver.wait_for(3)
        notify.settle(demo, 5)
    assert operation_id and took < 10
    times = [at for at, _, _ in receiver.requests]
    assert len(times) == 3
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert first_gap >= 0.35 and second_gap >= 0.75  # 0.4 s, then twice as long
    with demo.session() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert message.attempts == 3 and message.sent_at is not None
        sub = session.get_one(NotificationSubscription, sub.id)
        assert sub.last_status == "ok"
    assert "failed (attempt 1)" in caplog.text and f"to {notify.mask_url(receiver.url())} failed" in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text


def test_a_failure_is_recorded_on_the_subscription_without_the_url(ctx: AppContext) -> None:
    with Receiver(fail_first=99) as receiver:
        sub_id = subscribe(ctx, receiver.url(), events="site.unreachable", env=None)
        with ctx.session() as session:
            assert notify.enqueue(session, "site.unreachable", {"site": "eu", "error": "connection refused"}) == 1
        report = notify.deliver_pending(ctx)
    assert report.failed == 1 and report.sent == 0
    with ctx.session() as session:
        view = notify.list_subscriptions(session)[0]
        message = session.scalars(select(OutboxMessage)).one()
    assert view.id == sub_id and view.last_status == "retrying" and view.waiting == 1
    assert view.last_error is not None and "error=500" in view.last_error
    assert message.next_attempt_at is not None and message.next_attempt_at > utcnow()
    text = json.dumps(view.payload())
    assert view.url.startswith("json://#") and all(s not in text for s in SECRETS)
    # given up after MAX_ATTEMPTS, never retried for ever
    with ctx.session() as session:
        stored = session.scalars(select(OutboxMessage)).one()
        stored.attempts = sender.MAX_ATTEMPTS - 1
        stored.next_attempt_at = utcnow()
    assert notify.deliver_pending(ctx, send=lambda url, m: "down").given_up == 1


def test_urls_are_checked_encrypted_masked_and_audited_without_secrets(ctx: AppContext) -> None:
    url = "json://bot:pa55w0rd-x@127.0.0.1:9/hooks/s3cr3t-path-T0KEN"
    with pytest.raises(ValidationError, match="Apprise URL"):
        subscribe(ctx, "not a url", env=None)
    with pytest.raises(ValidationError, match="unknown event"):
        subscribe(ctx, url, events="sync.maybe", env=None)
    with pytest.raises(PermissionDenied), ctx.session() as session:
        notify.add_subscription(session, ctx.cipher, Actor("v@example.com", "viewer"), environment=None, url=url,
                                events="sync.failed")
    subscribe(ctx, url, events="sync.failed", env=None)
    with ctx.session() as session:
        stored = session.scalars(select(NotificationSubscription)).one()
        assert url.encode() not in stored.url_encrypted and ctx.cipher.decrypt(stored.url_encrypted) == url
        assert "s3cr3t" not in repr(stored)
        events = [json.dumps([e.before, e.after, e.detail, e.object_name]) for e in session.scalars(select(AuditEvent))]
    assert events and all(secret not in e for e in events for secret in SECRETS)


def test_a_test_message_and_removal(ctx: AppContext) -> None:
    with Receiver() as receiver:
        sub_id = subscribe(ctx, receiver.url(), events="sync.failed", env=None)
        with ctx.session() as session:
            notify.send_test(session, ADMIN, sub_id)
        assert notify.deliver_pending(ctx).sent == 1
        assert receiver.wait_for(1)[0]["title"] == "Test message: all environments"
    with ctx.session() as session:
        notify.remove_subscription(session, ADMIN, sub_id)
    with ctx.session() as session:
        assert notify.list_subscriptions(session) == []


def test_an_event_that_rolls_back_notifies_nobody(ctx: AppContext) -> None:
    subscribe(ctx, "json://127.0.0.1:9/x", events="token.expiring", env=None)
    with pytest.raises(RuntimeError), ctx.session() as session:
        notify.enqueue(session, "token.expiring", {"site": "eu"})
        raise RuntimeError("the event's transaction fails")
    with ctx.session() as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_messages_escape_what_comes_from_outside() -> None:
    message = notify.render("sync.failed", {"source": "Stage", "target": "Prod", "operationId": 3,
                                            "status": "failed", "actor": "[x](http://evil)",
                                            "services": [{"name": "*web*", "previous": "a:1", "new": "a:2"}]})
    assert "[x](http" not in message.body and "\\*web\\*" in message.body
    assert message.kind == "failure"


def test_key_check_and_rotation_cover_the_notification_urls(ctx: AppContext) -> None:
    subscribe(ctx, "json://127.0.0.1:9/x", events="sync.failed", env=None)
    old = ctx.settings.secret_keys[0]
    new = TokenCipher([generate_key(), old])
    with ctx.session() as session:
        assert check_keys(session, new).under_older_keys >= 1
        rotate_keys(session, new, actor=ADMIN)
    with ctx.session() as session:
        assert check_keys(session, new.newest_only()).ok
        url = session.scalars(select(NotificationSubscription.url_encrypted)).one()
        assert new.newest_only().decrypt(url) == "json://127.0.0.1:9/x"
        # a URL no key opens is reported, never printed
        session.execute(NotificationSubscription.__table__.update().values(url_encrypted=TokenCipher([generate_key()]).encrypt("json://h/x")))
        report = check_keys(session, new)
    assert not report.ok and report.unreadable_notifications == (1,)


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [notify.backoff(n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert notify.backoff(40) == 3600.0
    assert dt.timedelta(seconds=notify.backoff(1)) < dt.timedelta(minutes=1)
