"""Notifications stay inside the host policy (issue 18, items 4-6): refused at subscribe time and at each connection,
no redirect followed, no probe options, one sentence for every refusal, masked to a fingerprint, answers capped.

Every test here runs under `loopback_only`: any connection to an address other than 127.0.0.1 is recorded and fails
the test, so the refusals are proved without a packet leaving the machine."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from ranchersync import notify
from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.kernel.errors import ValidationError
from ranchersync.models import AuditEvent, NotificationSubscription, utcnow
from ranchersync.notify import sender
from ranchersync.notify.events import Message
from ranchersync.notify.urls import mask_url
from ranchersync.security import host_policy

ADMIN = Actor("alice@example.com", "admin", "cli")
MESSAGE = Message("title", "body", "info")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail on any connection to a non-loopback address (recorded, since Apprise swallows exceptions)."""
    attempts: list[Any] = []
    original = socket.socket.connect
    original_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        if isinstance(address, tuple) and not str(address[0]).startswith("127."):
            attempts.append(address)
            raise AssertionError(f"a test tried to connect to {address}")

    def connect(self: socket.socket, address: Any) -> Any:
        check(address)
        return original(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        check(address)
        return original_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts
    assert attempts == [], "a connection left loopback"


def resolve_to(monkeypatch: pytest.MonkeyPatch, name: str, policy_says: str, socket_says: str) -> None:
    """`name` resolves to `policy_says` for the host policy and to `socket_says` for the libraries (DNS rebinding
    between the check and the connection when they differ)."""
    def resolve(host: str) -> list[str]:
        if host != name:
            raise socket.gaierror(socket.EAI_NONAME, "unknown (test resolver)")
        return [policy_says]

    monkeypatch.setattr(host_policy, "system_resolve", resolve)
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (socket_says, int(port or 0)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class Server:
    """127.0.0.1 HTTP server answering every POST with `answer(handler)`; counts requests and bytes written."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.requests = 0
        self.written = 0
        self.closed = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests += 1
                try:
                    answer(self)
                except OSError:
                    outer.closed.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def add(ctx: AppContext, url: str) -> int:
    with ctx.session() as session:
        return notify.add_subscription(session, ctx.cipher, ADMIN, environment=None, url=url,
                                       events="site.unreachable").id


def stored(ctx: AppContext, url: str) -> int:
    """A subscription written straight to the database (made before the rules, or a name that changed since)."""
    with ctx.session() as session:
        sub = NotificationSubscription(environment_id=None, events=["site.unreachable"],
                                       url_encrypted=ctx.cipher.encrypt(url), url_masked=mask_url(url), active=True,
                                       created_by="x", created_at=utcnow())
        session.add(sub)
        session.flush()
        return sub.id


@pytest.mark.parametrize("url", [
    "json://169.254.169.254/latest/meta-data",
    "json://[fd00:ec2::254]/latest",
    "json://metadata.google.internal/computeMetadata/v1",
    "json://2852039166/x",
    "xml://100.100.100.200/x",
    "form://[fe80::1]/x",
    "json://127.0.0.1:9/x?method=GET",
    "json://127.0.0.1:9/x?method=delete",
    "json://127.0.0.1:9/x?+Metadata-Flavor=Google",
    "json://127.0.0.1:9/x?%2BMetadata=true",
    "json://127.0.0.1:9/x?redirect=yes",
    "mailto://user:pass@127.0.0.1?smtp=169.254.169.254",
])
def test_a_url_that_would_probe_or_reach_metadata_is_refused_at_subscribe_time(ctx: AppContext, url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        add(ctx, url)
    assert "pass" not in str(refused.value) and "meta-data" not in str(refused.value)


def test_a_redirect_is_not_followed(ctx: AppContext) -> None:
    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = Server(redirect)
    try:
        error = sender.apprise_send(f"json://127.0.0.1:{server.port}/hook", MESSAGE)
    finally:
        server.close()
    assert error is not None and server.requests == 1


@pytest.mark.parametrize("scheme", ["json", "xml", "form"])
def test_a_name_that_resolves_to_metadata_is_refused_at_each_connection_with_one_sentence(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    sub_id = add(ctx, f"{scheme}://hooks.example:8080/x")  # harmless when subscribed (it did not resolve then)
    resolve_to(monkeypatch, "hooks.example", "169.254.169.254", "169.254.169.254")
    with ctx.session() as session:
        notify.enqueue(session, "site.unreachable", {"site": "eu"})
    notify.deliver_pending(ctx)
    with ctx.session() as session:
        assert session.get_one(NotificationSubscription, sub_id).last_error == sender.REFUSED


def test_dns_rebinding_between_the_check_and_the_connection_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # The policy's lookup says loopback, the library's own lookup a moment later says metadata.
    resolve_to(monkeypatch, "rebind.example", "127.0.0.1", "169.254.169.254")
    assert sender.apprise_send("json://rebind.example:8080/x", MESSAGE) == sender.REFUSED


def test_the_mail_server_is_inside_the_policy_too(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sender.apprise_send("mailto://u:p@169.254.169.254?to=a@b.example", MESSAGE) == sender.REFUSED
    resolve_to(monkeypatch, "smtp.example", "127.0.0.1", "169.254.169.254")  # smtplib connects by itself
    assert sender.apprise_send("mailtos://u:p@smtp.example?to=a@b.example", MESSAGE) == sender.REFUSED


def test_old_subscriptions_with_probe_options_are_refused_when_sent(ctx: AppContext) -> None:
    sub_id = stored(ctx, "json://127.0.0.1:9/x?method=GET&+X-Probe=1")
    with ctx.session() as session:
        notify.enqueue(session, "site.unreachable", {"site": "eu"})
    notify.deliver_pending(ctx)
    with ctx.session() as session:
        assert session.get_one(NotificationSubscription, sub_id).last_error == sender.REFUSED


@pytest.mark.parametrize("url, secret", [
    ("pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b", "gn5kj6nfhv736"),
    ("opsgenie://apikey-8a7b6c5d4e/@user", "8a7b6c5d4e"),
    ("pover://userkey-abc123@apptoken-xyz789", "abc123"),
    ("pagerduty://integrationkey123@apikey456", "integrationkey123"),
    ("slack://T1ABCDEFG/B1ABCDEFG/abcdefghijklmnop", "T1ABCDEFG"),
    ("json://bot:pa55w0rd-x@hooks.internal.example/s3cr3t", "hooks.internal"),
])
def test_masking_keeps_the_scheme_and_a_fingerprint_only(ctx: AppContext, url: str, secret: str) -> None:
    masked = mask_url(url)
    scheme = url.split("://")[0]
    assert masked.startswith(f"{scheme}://#") and len(masked) == len(scheme) + 4 + 8
    assert secret.lower() not in masked.lower() and masked == mask_url(url) != mask_url(url + "x")
    add(ctx, url)
    with ctx.session() as session:
        views = json.dumps([v.payload() for v in notify.list_subscriptions(session)])
        audit = json.dumps([[e.before, e.after, e.object_name] for e in session.scalars(select(AuditEvent))])
    assert masked in views and masked in audit
    assert secret.lower() not in views.lower() and secret.lower() not in audit.lower()


def test_a_huge_answer_is_cut_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = b"x" * 65536

    def flood(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()  # no Content-Length: the body ends when the connection does
        for _ in range(64 * 16):  # 64 MiB
            handler.wfile.write(chunk)
            server.written += len(chunk)
        handler.close_connection = True

    server = Server(flood)
    try:
        error = sender.apprise_send(f"json://127.0.0.1:{server.port}/hook", MESSAGE)
        assert server.closed.wait(10)
    finally:
        server.close()
    assert error is not None
    assert server.written < 16 * 1024 * 1024  # the client stopped reading long before 64 MiB


def test_a_dripping_answer_is_cut_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender, "SEND_TIMEOUT_SECONDS", 1.5)

    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        for _ in range(200):  # 60 s of one byte every 0.3 s
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.3)

    server = Server(drip)
    started = time.monotonic()
    try:
        assert sender.apprise_send(f"json://127.0.0.1:{server.port}/hook", MESSAGE) is not None
        assert server.closed.wait(10), "the answer was still being read after the deadline"
    finally:
        server.close()
    assert time.monotonic() - started < 12


def test_the_migration_hides_what_older_masked_urls_revealed(ctx: AppContext) -> None:
    from ranchersync.storage import db

    sub_id = stored(ctx, "pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b")
    with ctx.session() as session:
        session.get_one(NotificationSubscription, sub_id).url_masked = "pbul://o.gn5kj6nfhv736i7jc3cj3qlriyhgl98b"
    db.downgrade(ctx.engine, "0008")
    db.upgrade(ctx.engine)
    with ctx.session() as session:
        masked = session.get_one(NotificationSubscription, sub_id).url_masked
    assert masked.startswith("pbul://#") and "gn5kj6" not in masked
