"""The funnel against real sockets on 127.0.0.1: retries of dropped connections, Retry-After, timeouts and TLS.

``responses`` replaces the adapter, so it cannot show what urllib3 does with a refused or dropped connection,
a Retry-After header or a certificate; these tests run a tiny local server instead.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ranchersync.kernel.errors import RancherUnavailable
from ranchersync.rancher import RancherClient, Transport, TransportSettings
from ranchersync.rancher.failures import EXPLAINED

TOKEN = "token-p62nb:chcnszhxp6zqrbxwcz5z2r2w9jrftlvtwvzbsr88v4mk28kw4k5c2p"
SECRET = TOKEN.split(":")[1]
Reply = tuple[int, dict[str, str], bytes]


class Scripted(ThreadingHTTPServer):
    """An HTTP server that answers with a list of replies, in order, and records what it received."""

    daemon_threads = True

    def __init__(self, replies: list[Reply | Callable[[], Reply]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies = list(replies)
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def _answer(self) -> None:
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        reply = self.server.replies.pop(0) if self.server.replies else (500, {}, b"script exhausted")
        status, headers, body = reply() if callable(reply) else reply
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first (timeout tests)
            pass

    do_GET = do_PATCH = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass


def serve(server: Scripted) -> Iterator[Scripted]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def ok(payload: Any) -> Reply:
    return 200, {}, json.dumps(payload).encode()


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    servers: list[Iterator[Scripted]] = []

    def start(*replies: Reply | Callable[[], Reply]) -> Scripted:
        gen = serve(Scripted(list(replies)))
        servers.append(gen)
        return next(gen)

    yield start
    for gen in servers:
        next(gen, None)


# ---- connections that fail -------------------------------------------------------------------------------------


class Slammer:
    """Accepts TCP connections and closes them at once, counting them: a server dying mid-request."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.recv(65536)
            conn.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def slammer() -> Iterator[Slammer]:
    s = Slammer()
    yield s
    s.close()


def test_dropped_connections_are_retried_for_get(slammer: Slammer) -> None:
    with pytest.raises(RancherUnavailable, match="the connection was dropped \\(GET /v3\\)"):
        Transport(slammer.url, TOKEN, settings=TransportSettings(retries=2, backoff=0)).request("GET", "/v3")
    assert slammer.accepted == 3


def test_dropped_connections_are_not_retried_for_patch(slammer: Slammer) -> None:
    with pytest.raises(RancherUnavailable):
        http = Transport(slammer.url, TOKEN, settings=TransportSettings(retries=3, backoff=0))
        http.request("PATCH", "/x", json_body={})
    assert slammer.accepted == 1


def test_connection_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again below: nothing listens there any more
    with pytest.raises(RancherUnavailable, match="the connection was refused"):
        http = Transport(f"http://127.0.0.1:{port}", TOKEN, settings=TransportSettings(retries=2, backoff=0))
        http.request("GET", "/v3")


def test_read_timeout(scripted: Callable[..., Scripted]) -> None:
    server: Scripted

    def slow() -> Reply:
        server.release.wait(5)
        return ok({})

    server = scripted(slow)
    with pytest.raises(RancherUnavailable, match="did not answer in time"):
        Transport(server.url, TOKEN, settings=TransportSettings(timeout=(1.0, 0.2), retries=0)).request("GET", "/v3")


def test_retry_after_is_honoured(scripted: Callable[..., Scripted], monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("ranchersync.rancher.transport.time.sleep", slept.append)
    server = scripted((429, {"Retry-After": "2"}, b'{"kind":"Status","code":429}'), ok({"type": "apiRoot"}))
    http = Transport(server.url, TOKEN, settings=TransportSettings(backoff=0))
    assert http.request("GET", "/v3") == {"type": "apiRoot"}
    assert slept == [2] and len(server.seen) == 2


def test_backoff_is_configurable(scripted: Callable[..., Scripted], monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("ranchersync.rancher.transport.time.sleep", slept.append)
    busy: Reply = (503, {}, b'{"kind":"Status","code":503}')
    server = scripted(busy, busy, busy, ok({}))
    Transport(server.url, TOKEN, settings=TransportSettings(backoff=0.1)).request("GET", "/v3")
    # 0.1, 0.2, 0.4 s ceilings, each jittered within its upper half
    assert len(slept) == 3 and all(c / 2 <= d <= c for d, c in zip(slept, [0.1, 0.2, 0.4], strict=True))


def test_real_requests_log_nothing_secret(scripted: Callable[..., Scripted], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = scripted(ok({"type": "apiRoot"}), (401, {}, b""))
    http = Transport(server.url, TOKEN)
    http.request("GET", "/v3")
    with pytest.raises(Exception) as info:
        http.request("GET", "/v3/users?me=true")
    assert server.seen[0][2]["Authorization"] == f"Bearer {TOKEN}"
    assert any("urllib3" in r.name for r in caplog.records)  # urllib3's own debug lines were captured too
    for text in [r.getMessage() for r in caplog.records] + [str(info.value), repr(info.value)]:
        assert SECRET not in text


# ---- TLS --------------------------------------------------------------------------------------------------------


def _make_tls(tmp: Path, names: list[str]) -> tuple[str, Path, Path]:
    """A CA and a server certificate for ``names``; returns (CA PEM, cert file, key file)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dynamiclistener-ca")])  # as Rancher names its CA
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "server.pem", tmp / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Callable[..., tuple[Scripted, str]]]:
    started: list[Iterator[Scripted]] = []

    def start(names: list[str], *replies: Reply) -> tuple[Scripted, str]:
        ca_pem, cert_file, key_file = _make_tls(tmp_path, names)
        server = Scripted(list(replies))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        gen = serve(server)
        started.append(gen)
        return next(gen), ca_pem

    yield start
    for gen in started:
        next(gen, None)


def test_untrusted_certificate_gets_the_clear_wording(tls_server: Callable[..., tuple[Scripted, str]]) -> None:
    server, _ = tls_server(["127.0.0.1"])
    with pytest.raises(RancherUnavailable) as info:
        RancherClient(server.url, TOKEN, retries=3, backoff=0).test_connection()
    assert "certificate not trusted" in str(info.value)
    assert (info.value.title, info.value.hint) == EXPLAINED["untrusted"]  # a real handshake, classified
    assert server.seen == []  # no request, so no token, went over the untrusted connection


def test_uploaded_ca_bundle_is_trusted(tls_server: Callable[..., tuple[Scripted, str]]) -> None:
    server, ca_pem = tls_server(["127.0.0.1"], ok({"type": "apiRoot"}))
    assert RancherClient(server.url, TOKEN, ca_bundle=ca_pem)._http.request("GET", "/v3") == {"type": "apiRoot"}


def test_skip_verification_works_without_warnings(tls_server: Callable[..., tuple[Scripted, str]]) -> None:
    # pytest runs with filterwarnings=error: an InsecureRequestWarning escaping the funnel would fail this test.
    server, _ = tls_server(["127.0.0.1"], ok({"a": 1}), ok({"a": 2}))
    client = RancherClient(server.url, TOKEN, insecure=True)
    assert client._http.request("GET", "/v3") == {"a": 1}
    assert client._http.request("GET", "/v3") == {"a": 2}


def test_certificate_for_another_host(tls_server: Callable[..., tuple[Scripted, str]]) -> None:
    server, ca_pem = tls_server(["rancher.example.com"])
    with pytest.raises(RancherUnavailable, match="not valid for this host name"):
        RancherClient(server.url, TOKEN, ca_bundle=ca_pem).test_connection()
