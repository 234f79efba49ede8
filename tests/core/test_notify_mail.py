"""Notifications by e-mail: a person whose preferences ask for an event gets one mail through RANCHERSYNC_MAIL_URL
after a real sync against the simulated Rancher, received by a plain SMTP sink on 127.0.0.1; nobody else does;
without a mail URL nothing is queued for people; the URL's password stays out of logs and stored errors."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ranchersync import notify
from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.models import Base, OutboxMessage, utcnow
from ranchersync.notify import sender
from ranchersync.people import preferences
from tests.conftest import closed_port_url
from tests.core.test_notify import promote_frontend, subscribe

PASSWORD = "m41l-pa55w0rd"
FROM = "rsm@example.com"


@dataclass
class Mail:
    """One message the sink accepted."""

    sender: str
    recipients: list[str]
    data: bytes
    credentials: str = ""

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def text(self) -> str:
        """Every text part, decoded."""
        return "\n".join(str(part.get_content()) for part in self.parsed().walk()
                         if part.get_content_maintype() == "text")


@dataclass
class SmtpSink:
    """Enough of RFC 5321 for Apprise (EHLO, AUTH PLAIN, MAIL FROM, RCPT TO, DATA, QUIT), on 127.0.0.1 only."""

    mails: list[Mail] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 sink ESMTP")
                mail_from, rcpt, credentials = "", [], ""
                while line := self.rfile.readline():
                    command = line.decode().strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-sink")
                        self.reply("250 AUTH PLAIN")
                    elif verb == "AUTH":
                        credentials = base64.b64decode(command.split()[-1]).decode()
                        self.reply("235 2.7.0 accepted")
                    elif verb == "MAIL":
                        mail_from, rcpt = command.split(":", 1)[1].split()[0].strip("<>"), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        rcpt.append(command.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        chunks = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            chunks.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        outer.mails.append(Mail(mail_from, rcpt, b"".join(chunks), credentials))
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # RSET, NOOP
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self) -> str:
        return f"mailto://rsm-bot:{PASSWORD}@127.0.0.1:{self.port}?from={FROM}"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while len(self.mails) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.mails

    def __enter__(self) -> SmtpSink:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        monkeypatch.setenv("RANCHERSYNC_MAIL_URL", server.url())
        yield server


def wants(ctx: AppContext, who: str, *events: str) -> None:
    with ctx.session() as session:
        actor = Actor(who, "viewer")
        current = preferences.get_preferences(session, who)
        preferences.save_preferences(session, actor, preferences.Preferences(
            **{**current.__dict__, "email_events": events}))


def recipients(ctx: AppContext) -> list[str | None]:
    with ctx.session() as session:
        return list(session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.recipient.is_not(None))))


def test_a_person_who_asked_gets_one_mail_after_a_real_sync_and_nobody_else(
    demo: AppContext, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wants(demo, "Mia@Example.com", "sync.succeeded")
    wants(demo, "ned@example.com", "sync.failed", "approval.requested")  # did not ask for a success
    operation_id = promote_frontend(demo)
    mails = sink.wait_for(1)
    assert notify.settle(demo, 5), "the sender finished its pass"
    # Nobody else can still get one: the outbox holds exactly one personal mail, and it was sent.
    with demo.session() as session:
        queued = session.execute(select(OutboxMessage.recipient, OutboxMessage.sent_at)
                                 .where(OutboxMessage.recipient.is_not(None))).all()
    assert [(to, sent is not None) for to, sent in queued] == [("mia@example.com", True)]
    assert len(mails) == 1, "one mail, for the one person who asked"
    mail = mails[0]
    assert mail.recipients == ["mia@example.com"] and mail.sender == FROM
    assert mail.credentials == f"\0rsm-bot\0{PASSWORD}", "the configured server's login was used"
    message = mail.parsed()
    assert message["To"] == "mia@example.com"
    assert message["Subject"] == "Sync succeeded: Stage → Prod"
    text = mail.text()
    assert f"Sync #{operation_id}" in text and "complete" in text
    assert "frontend" in text and "3.8.0" in text and "3.8.1" in text
    with demo.session() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient.is_not(None))).one()
    assert row.recipient == "mia@example.com" and row.subscription_id is None and row.sent_at is not None
    assert PASSWORD not in caplog.text


def test_a_failed_mail_is_retried_with_the_password_out_of_logs_and_errors(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = urlsplit(closed_port_url()).port
    monkeypatch.setenv("RANCHERSYNC_MAIL_URL", f"mailto://rsm-bot:{PASSWORD}@127.0.0.1:{port}?from={FROM}")
    wants(ctx, "mia@example.com", "site.unreachable")
    with ctx.session() as session:
        assert notify.enqueue(session, "site.unreachable", {"site": "eu", "error": "connection refused"}) == 1
    report = notify.deliver_pending(ctx)
    assert (report.sent, report.failed) == (0, 1)
    with ctx.session() as session:
        message = session.scalars(select(OutboxMessage)).one()
    assert message.attempts == 1 and message.next_attempt_at is not None and message.next_attempt_at > utcnow()
    assert message.last_error and PASSWORD not in message.last_error
    assert "to mia@example.com via mailto://#" in caplog.text and "failed (attempt 1)" in caplog.text
    assert PASSWORD not in caplog.text
    # the same backoff and the same end as a subscription's messages
    with ctx.session() as session:
        stored = session.scalars(select(OutboxMessage)).one()
        stored.attempts, stored.next_attempt_at = sender.MAX_ATTEMPTS - 1, utcnow()
    assert notify.deliver_pending(ctx).given_up == 1
    assert PASSWORD not in caplog.text


def test_without_a_mail_url_nothing_is_queued_for_people(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANCHERSYNC_MAIL_URL", raising=False)
    wants(ctx, "mia@example.com", "site.unreachable")
    with ctx.session() as session:
        assert notify.enqueue(session, "site.unreachable", {"site": "eu"}) == 0
    assert recipients(ctx) == []
    monkeypatch.setenv("RANCHERSYNC_MAIL_URL", f"mailto://127.0.0.1:25?from={FROM}")
    with ctx.session() as session:
        assert notify.enqueue(session, "site.unreachable", {"site": "eu"}) == 1
        assert notify.enqueue(session, "site.recovered", {"site": "eu"}) == 0, "an event nobody asked for"
    assert recipients(ctx) == ["mia@example.com"]


def test_a_local_user_name_that_is_no_address_gets_no_mail(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANCHERSYNC_MAIL_URL", f"mailto://127.0.0.1:25?from={FROM}")
    wants(ctx, "tester", "site.unreachable")
    with ctx.session() as session:
        assert notify.enqueue(session, "site.unreachable", {"site": "eu"}) == 0


def test_the_mail_url_gets_the_recipient_as_its_only_to() -> None:
    url = sender.mail_to(f"mailtos://u:{PASSWORD}@smtp.example.com?from={FROM}&to=old@example.com", "a+b@example.com")
    parts = urlsplit(url)
    assert parts.netloc == f"u:{PASSWORD}@smtp.example.com"
    assert parse_qs(parts.query) == {"from": [FROM], "to": ["a+b@example.com"]}


def test_a_message_has_exactly_one_target(ctx: AppContext) -> None:
    sub_id = subscribe(ctx, f"json://127.0.0.1:{urlsplit(closed_port_url()).port}/hook", events="site.unreachable",
                       env=None)
    for target in ({}, {"subscription_id": sub_id, "recipient": "mia@example.com"}):
        with pytest.raises(IntegrityError), ctx.session() as session:
            session.add(OutboxMessage(event="site.unreachable", payload={}, attempts=0, next_attempt_at=utcnow(),
                                      **target))
            session.flush()


def test_the_migrations_build_the_schema_the_models_describe(ctx: AppContext) -> None:
    with ctx.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                       Base.metadata)
    assert differences == []
