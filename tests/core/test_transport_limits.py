"""Transport limits: an overall deadline per request and a cap on the answer's size, against real sockets on
127.0.0.1 (a drip-feeding server, an endless body, a compressed bomb); each server stops by itself."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from ranchersync.kernel.errors import MalformedResponse, RancherUnavailable
from ranchersync.rancher import Transport, TransportSettings

TOKEN = "token-p62nb:chcnszhxp6zqrbxwcz5z2r2w9jrftlvtwvzbsr88v4mk28kw4k5c2p"
Script = Callable[[socket.socket], None]


class RawServer:
    """A one-thread TCP server on 127.0.0.1: reads one request per connection and runs `script` on the socket."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)  # the request (small, one read is enough here)
                    self.script(conn)
                except OSError:  # the client hung up: what a cut looks like from here
                    pass

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Script], RawServer]]:
    servers: list[RawServer] = []

    def start(script: Script) -> RawServer:
        server = RawServer(script).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


def drip(conn: socket.socket) -> None:
    """A valid answer of 400 bytes, sent one byte every 20 ms (8 s in all): each byte beats any read timeout."""
    body = b'{"type":"apiRoot","pad":"' + b"x" * 373 + b'"}'
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    for byte in body:
        conn.sendall(bytes([byte]))
        time.sleep(0.02)


def drip_head(conn: socket.socket) -> None:
    """The status line and headers themselves, one byte every 20 ms (~6 s): no body has started when the deadline
    passes, so only a deadline on the whole request, head included, can stop it."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Pad: " + b"y" * 200 + b"\r\n" \
        + b"Content-Length: 2\r\n\r\n{}"
    for byte in head:
        conn.sendall(bytes([byte]))
        time.sleep(0.02)


def endless(conn: socket.socket) -> None:
    """A chunked answer that never ends on its own (bounded here at 256 MiB; the client hangs up far earlier)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"[" * 65536
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    for _ in range(4096):
        conn.sendall(frame)


def announced(conn: socket.socket) -> None:
    """Headers that announce a body far over the cap; the body never comes (the client must not wait for it)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n")
    time.sleep(1)


def bomb(conn: socket.socket) -> None:
    """8 KiB of gzip that inflates to 8 MiB."""
    body = gzip.compress(b" " * (8 * 1024 * 1024))
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def fine(conn: socket.socket) -> None:
    body = b'{"type":"apiRoot","links":{}}'
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))


def test_a_drip_fed_answer_is_cut_at_the_deadline(serve: Callable[[Script], RawServer]) -> None:
    server = serve(drip)
    http = Transport(server.url, TOKEN, settings=TransportSettings(timeout=(2.0, 5.0), deadline=1.0, retries=0))
    started = time.monotonic()
    with pytest.raises(RancherUnavailable, match=r"did not finish its answer within 1 s \(GET /v3\): .*cut"):
        http.request("GET", "/v3")
    assert time.monotonic() - started < 2.5  # not the 8 s the server would take, nor a read timeout per byte
    http.close()


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_a_drip_fed_head_is_cut_at_the_deadline(serve: Callable[[Script], RawServer], method: str) -> None:
    server = serve(drip_head)
    http = Transport(server.url, TOKEN,
                     settings=TransportSettings(timeout=(2.0, 5.0), deadline=1.0, retries=3, backoff=0))
    started = time.monotonic()
    with pytest.raises(RancherUnavailable, match=rf"did not finish its answer within 1 s \({method} /v3\): .*cut"):
        http.request(method, "/v3", json_body={} if method == "PATCH" else None)
    assert time.monotonic() - started < 2.5  # the deadline, not ~6 s of headers, and no retry past it
    http.close()


def test_an_endless_answer_is_cut_at_the_size_cap(serve: Callable[[Script], RawServer]) -> None:
    server = serve(endless)
    http = Transport(server.url, TOKEN, settings=TransportSettings(max_body=1024 * 1024, retries=0))
    started = time.monotonic()
    with pytest.raises(MalformedResponse, match=r"answer to GET /v3 is larger than 1 MiB: reading stopped"):
        http.request("GET", "/v3")
    assert time.monotonic() - started < 5
    http.close()


def test_an_announced_oversized_answer_is_refused_without_reading_it(serve: Callable[[Script], RawServer]) -> None:
    server = serve(announced)
    http = Transport(server.url, TOKEN, settings=TransportSettings(max_body=1024 * 1024, retries=0))
    started = time.monotonic()
    with pytest.raises(MalformedResponse, match="larger than 1 MiB"):
        http.request("GET", "/v3")
    assert time.monotonic() - started < 2
    http.close()


def test_the_cap_counts_the_inflated_size(serve: Callable[[Script], RawServer]) -> None:
    server = serve(bomb)
    http = Transport(server.url, TOKEN, settings=TransportSettings(max_body=1024 * 1024, retries=0))
    with pytest.raises(MalformedResponse, match="larger than 1 MiB"):
        http.request("GET", "/v3")
    http.close()


def test_an_answer_within_the_limits_reads_as_before(serve: Callable[[Script], RawServer]) -> None:
    server = serve(fine)
    http = Transport(server.url, TOKEN, settings=TransportSettings(deadline=2.0, max_body=1024, retries=0))
    assert http.request("GET", "/v3") == {"type": "apiRoot", "links": {}}
    http.close()
