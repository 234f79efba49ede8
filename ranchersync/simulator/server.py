"""The simulated Rancher server: a threaded HTTP(S) server, its routes, tokens and fault injection."""

from __future__ import annotations

import hashlib
import logging
import random
import re
import shutil
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import kube, norman
from .apierrors import UNAUTHORIZED_BODY, KubeError, cluster_router_error, norman_error, steve_error
from .auth import TokenRecord, TokenRegistry, generate_token
from .cluster import ControllerSettings, SimCluster
from .kinds import find_kind
from .objects import Obj, deep_copy, random_name_suffix, utc_now
from .store import RevisionClock
from .tls import TlsFiles, make_tls_files
from .web import JSON, TEXT, Headers, Request, Response, StreamResponse
from .world import World, load_demo_world, load_world

log = logging.getLogger(__name__)

_TICK_SECONDS = 0.05
# kube-apiserver asks etcd to compact every 5 minutes; continue tokens and old watches then expire.
_COMPACTION_SECONDS = 300.0
_FIRST_REVISION = 41_000
_DEFAULT_FAULT_BODIES: dict[int, tuple[str, str]] = {
    429: ('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please '
          'try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}', JSON),
    500: ("error trying to reach service: simulated proxy failure", TEXT),
    503: ('{"Code":{"Code":"ClusterUnavailable","Status":503},"Message":"cluster agent disconnected","Cause":null,'
          '"FieldName":""}\n', TEXT),
}
_CONNECTION_ERRORS = (ConnectionError, ssl.SSLError, TimeoutError)
_AUTH_HEADER = "X-API-Cattle-Auth"


def _under(path: str, *prefixes: str) -> bool:
    """True when the path is one of the prefixes or below one (so `/v3` matches `/v3/x`, not `/v3x`)."""
    return any(path == p or path.startswith(p + "/") for p in prefixes)


@dataclass
class Fault:
    """A canned answer for the next requests whose path matches."""

    pattern: re.Pattern[str]
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]
    remaining: int
    method: str | None = None
    after: bool = False  # serve the request first (a PATCH is applied), then answer the fault: a lost answer


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


class _HTTPServer(ThreadingHTTPServer):
    """A thread per connection, each tracked so that stop() can close the idle keep-alive ones."""

    block_on_close = False  # stop() closes connections and joins their threads itself
    # socketserver's default backlog is 5: a client opening 32 connections at once (a sync's workers) would have
    # some SYNs dropped and retried a second later, a stall a real Rancher behind nginx (backlog 511) never shows.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SimulatedRancher) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self._lock = threading.Lock()
        self._connections: dict[threading.Thread, socket.socket] = {}
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall for seconds without DNS.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address), daemon=True,
                                  name=f"sim-conn-{client_address}")
        with self._lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._lock:
                self._connections.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up or fails the TLS handshake is routine; anything else is a simulator bug.
        if isinstance(sys.exc_info()[1], (OSError, ValueError)):
            log.debug("connection from %s ended with an error", client_address, exc_info=True)
        else:
            log.exception("connection from %s failed", client_address)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Shut every open connection down and wait for its thread."""
        with self._lock:
            connections = dict(self._connections)
        for sock in connections.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, hands it to the app, writes the answer (chunked for watches)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each keep-alive request would wait ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:  # noqa: N802 (the names http.server dispatches to)
        """Serve GET."""
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        app = self.server.app
        host = self.headers.get("Host") or f"{app.host}:{self.server.server_port}"
        request = Request(self.command, url.path or "/", params, Headers(self.headers.items()), body,
                          f"{app.scheme}://{host}")
        try:
            response = app.respond(request)
        except Exception as exc:
            # A simulator bug: answer it like a crashing server would, and leave the traceback in the log.
            log.exception("simulator error on %s %s", self.command, self.path)
            response = Response.text(500, f"simulator error: {exc!r}\n")
        if isinstance(response, StreamResponse):
            self._stream(response)
        else:
            self._write(response)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _stream(self, response: StreamResponse) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        chunks: Iterator[bytes] = response.chunks
        try:
            for chunk in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except _CONNECTION_ERRORS:
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def send_response(self, code: int, message: str | None = None) -> None:
        """Status line and Date only: Go servers send no `Server` header."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class names it so)
        log.debug("%s %s", self.address_string(), format % args)


class SimulatedRancher:
    """A simulated Rancher server over real HTTP: start it, point a client at `.url` with `.token`, stop it.

    Args:
        world: the world to serve: a World, a world file path, or None for the first demo world.
        token: the admin token to accept (`name:secret`); a realistic one is generated when None.
        latency_ms: sleep this long in each request's own thread before answering.
        error_rate: answer this fraction of authenticated requests with a 500 (a Kubernetes Status under
            /k8s/clusters, Norman's error under /v3); half of the failed writes are applied first (the answer is
            lost, not the change).
        rollout_seconds: how long a simulated rollout takes.
        fail_images: a regular expression; images it matches never become ready.
        crash_images: a regular expression; images it matches start, then restart every `crash_seconds` (a crash
            loop: `status.containerStatuses[].restartCount` goes up).
        tls: serve HTTPS with a freshly made CA (`.ca_file`, and `/v3/settings/cacerts`).
        seed: seed for the error-rate dice, for reproducible fault runs.
        bookmark_seconds: how often a watch that allows bookmarks gets one (kube-apiserver: about a minute).
        compaction_seconds: how often history is compacted; a watch or continue token from before the last
            compaction gets 410 Gone (kube-apiserver asks etcd every 5 minutes).
        drop_watches_every: cut every open watch connection this often (seconds), as a flaky proxy would.
    """

    def __init__(self, world: World | str | Path | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, latency_ms: float = 0, error_rate: float = 0.0,
                 rollout_seconds: float = 5.0, fail_images: str | re.Pattern[str] | None = None, tls: bool = False,
                 seed: int | None = None, bookmark_seconds: float = 60.0,
                 compaction_seconds: float = _COMPACTION_SECONDS, drop_watches_every: float | None = None,
                 crash_images: str | None = None, crash_seconds: float = 2.0) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate is a fraction between 0 and 1")
        if isinstance(world, (str, Path)):
            world = load_world(world)
        self.world = world or load_demo_world()
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self.tls = tls
        pattern = re.compile(fail_images) if isinstance(fail_images, str) else fail_images
        self.settings = ControllerSettings(rollout_seconds=rollout_seconds, fail_images=pattern,
                                           crash_images=re.compile(crash_images) if crash_images else None,
                                           crash_seconds=crash_seconds)
        self._random = random.Random(seed)
        self.watches = kube.WatchControl(bookmark_seconds)
        self.compaction_seconds = compaction_seconds
        self.drop_watches_every = drop_watches_every
        self._verbs: dict[str, int] = dict.fromkeys(_VERBS, 0)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests = 0
        self._request_log: list[tuple[str, str]] = []  # (method, path): what a benchmark or test counts
        self._stopping = threading.Event()
        self._clock = RevisionClock(_FIRST_REVISION)
        started = utc_now()
        self.clusters = {spec.id: SimCluster(spec, self._clock, self.settings, started) for spec in self.world.clusters}
        user = self.world.user
        admin = norman.User(f"user-{random_name_suffix(self.world.name + '/admin')}", user.username,
                            user.display_name)
        self.users = {admin.id: admin}
        self.tokens = TokenRegistry()
        self.token = token or generate_token()
        self.tokens.add(self.token, user_id=admin.id, description="ranchersync simulator")
        self._tls_files: TlsFiles | None = None
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> SimulatedRancher:
        """Bind, and serve from background threads."""
        if self._httpd is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self.port), self)
        if self.tls:
            self._tls_files = make_tls_files(self.host)
            # The handshake happens in each connection's own thread, not in the accept loop.
            httpd.socket = self._tls_files.server_context().wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False)
        self._httpd = httpd
        self.port = httpd.server_port
        self._threads = [
            threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="sim-http"),
            threading.Thread(target=self._tick, daemon=True, name="sim-controllers"),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open watches and connections, and remove the generated TLS files."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        for cluster in self.clusters.values():
            with cluster.store.changed:
                cluster.store.changed.notify_all()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        for thread in self._threads:
            thread.join(5)
        if self._tls_files is not None:
            shutil.rmtree(self._tls_files.directory, ignore_errors=True)
            self._tls_files = None

    def __enter__(self) -> SimulatedRancher:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _tick(self) -> None:
        """Advance rollouts even when nobody asks, so watchers get their MODIFIED events on time."""
        last_compaction, mark = time.monotonic(), self._clock.current
        last_drop = time.monotonic()
        while not self._stopping.wait(_TICK_SECONDS):
            for cluster in self.clusters.values():
                if cluster.busy:
                    cluster.reconcile()
                if cluster.crash_looping:
                    cluster.crash()
            if self.drop_watches_every and time.monotonic() - last_drop >= self.drop_watches_every:
                self.drop_watches()
                last_drop = time.monotonic()
            if time.monotonic() - last_compaction >= self.compaction_seconds:
                for cluster in self.clusters.values():
                    cluster.store.compact(mark)
                last_compaction, mark = time.monotonic(), self._clock.current

    # --- addresses -----------------------------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        """`https` with tls, else `http`."""
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """The server URL, e.g. `http://127.0.0.1:41234` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def kube_url(self, cluster_id: str) -> str:
        """The Kubernetes API of one cluster, as a Rancher kubeconfig's `server:` names it."""
        return f"{self.url}/k8s/clusters/{cluster_id}"

    @property
    def ca_file(self) -> Path | None:
        """The generated CA certificate (PEM) with tls, else None."""
        return self._tls_files.ca_file if self._tls_files else None

    @property
    def ca_pem(self) -> str:
        """The generated CA certificate text with tls, else ""."""
        return self._tls_files.ca_pem if self._tls_files else ""

    @property
    def request_count(self) -> int:
        """How many requests have been answered, for tests that count calls."""
        with self._lock:
            return self._requests

    def requests_seen(self) -> list[tuple[str, str]]:
        """Every request answered so far, as (method, path), in order: to count reads per path."""
        with self._lock:
            return list(self._request_log)

    # --- hooks for tests -----------------------------------------------------------------------------------------

    def add_token(self, token: str | None = None, *, cluster_id: str | None = None,
                  expires_at: datetime | None = None, enabled: bool = True, description: str = "") -> str:
        """Accept another token (generated when None): cluster-scoped, expiring or disabled ones for auth tests."""
        token = token or generate_token()
        admin = next(iter(self.users))
        self.tokens.add(token, user_id=admin, cluster_id=cluster_id, expires_at=expires_at, enabled=enabled,
                        description=description)
        return token

    def fail_next(self, path_regex: str, status: int = 500, body: str | bytes | Obj | None = None, *,
                  content_type: str | None = None, count: int = 1, headers: dict[str, str] | None = None,
                  method: str | None = None, after: bool = False) -> None:
        """Answer the next `count` requests whose path matches with this status and body.

        `after`: the request is carried out first (a PATCH is applied), then the fault is answered instead of its
        result, as when a proxy's timeout cuts an answer the API server had already acted on.

        Without a body, 500 is Rancher's proxy plain text, 503 the cluster router's ClusterUnavailable and 429 a
        TooManyRequests Status with `Retry-After: 1`. A dict body is sent as JSON.
        """
        if body is None:
            text, default_type = _DEFAULT_FAULT_BODIES.get(status, (f"simulated {status}", TEXT))
            raw = text.encode()
            headers = {"Retry-After": "1", **(headers or {})} if status == 429 else headers
        elif isinstance(body, dict):
            raw, default_type = Response.json(status, body).body, JSON
        else:
            raw, default_type = (body.encode() if isinstance(body, str) else body), TEXT
        fault = Fault(re.compile(path_regex), status, raw, content_type or default_type, dict(headers or {}), count,
                      method.upper() if method else None, after)
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Forget faults that have not fired yet."""
        with self._lock:
            self._faults.clear()

    def cluster(self, cluster_id: str) -> SimCluster:
        """A simulated cluster by id."""
        return self.clusters[cluster_id]

    def get_object(self, cluster_id: str, kind: str, namespace: str, name: str) -> Obj | None:
        """A copy of a stored object (with kind and apiVersion), or None."""
        rt = find_kind(kind)
        try:
            return deep_copy(self.clusters[cluster_id].get(rt, namespace if rt.namespaced else "", name))
        except KubeError:
            return None

    def set_object(self, cluster_id: str, obj: Obj) -> Obj:
        """Create or change an object behind the client's back ("changed meanwhile"); it gets a new resourceVersion."""
        return deep_copy(self.clusters[cluster_id].put_object(obj))

    def delete_object(self, cluster_id: str, kind: str, namespace: str, name: str) -> bool:
        """Delete an object behind the client's back ("deleted meanwhile"); False if it did not exist."""
        return self.clusters[cluster_id].delete_object(find_kind(kind), namespace, name)

    def repush_image(self, image: str, digest: str | None = None) -> str:
        """Push a tag again: `image` (as a pod template names it) now points at another digest, and the pods that
        run it report that digest in `imageID` (as after a restart with `imagePullPolicy: Always`); returns it."""
        digest = digest or "sha256:" + hashlib.sha256(f"{image}/{len(self.settings.repushed)}/{time.time_ns()}"
                                                      .encode()).hexdigest()
        self.settings.repushed[image] = digest
        for cluster in self.clusters.values():
            cluster.refresh_pods()  # their pods report the new digest (MODIFIED events)
        return digest

    def restrict_to_namespaces(self, cluster_id: str, restricted: bool = True) -> None:
        """Give the token's user namespace roles only in this cluster: cluster-wide lists answer 403 Forbidden."""
        self.clusters[cluster_id].namespaced_access = restricted

    def set_cluster_state(self, cluster_id: str, state: str) -> None:
        """`active`, or `unavailable`: its agent is disconnected and its Kubernetes API answers 503."""
        if state not in ("active", "unavailable"):
            raise ValueError("state is active or unavailable")
        self.clusters[cluster_id].state = state

    def drop_watches(self) -> None:
        """Cut every open watch connection now, without the chunked stream's end: clients must watch again."""
        self.watches.drop_all()
        for cluster in self.clusters.values():
            with cluster.store.changed:
                cluster.store.changed.notify_all()

    def stats(self) -> dict[str, dict[str, int]]:
        """What reached this server, by verb: `{"requests": {"total", "list", "get", "watch", "patch"}}`
        (`/_simulator/` requests are not counted)."""
        with self._lock:
            return {"requests": {"total": self._requests, **self._verbs}}

    def compact(self) -> None:
        """Compact history now: outstanding continue tokens and watch resourceVersions get 410 Gone."""
        for cluster in self.clusters.values():
            cluster.store.compact()

    # --- routing -------------------------------------------------------------------------------------------------

    def _take_fault(self, request: Request) -> tuple[Response, bool] | None:
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(request.path) and fault.method in (None, request.method):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return Response(fault.status, fault.body, fault.content_type, dict(fault.headers)), fault.after
        return None

    def _roll_error(self, method: str) -> str:
        """"" (no error), "before" (the request is refused) or "after" (a write is applied, its answer lost)."""
        if self.error_rate <= 0:
            return ""
        with self._lock:
            if self._random.random() >= self.error_rate:
                return ""
            return "after" if method in ("PATCH", "PUT", "POST", "DELETE") and self._random.random() < 0.5 \
                else "before"

    def respond(self, request: Request) -> Response | StreamResponse:
        """Answer one request (called from its connection's thread)."""
        if _under(request.path, "/_simulator"):
            return self._admin(request)
        with self._lock:
            self._requests += 1
            self._request_log.append((request.method, request.path))
            verb = _verb(request)
            if verb:
                self._verbs[verb] += 1
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        fault = self._take_fault(request)
        if fault is not None and not fault[1]:
            return fault[0]
        path = request.path
        public = self._public(request)
        if public is not None:
            return public
        if not _under(path, "/v3", "/v1", "/k8s/clusters"):
            return Response.text(404, "404 page not found\n")
        token = self.tokens.authenticate(request.headers, path)
        if token is None:
            return Response.json(401, UNAUTHORIZED_BODY, {_AUTH_HEADER: "false"})
        response = self._authenticated(request, token)
        if fault is not None:
            return fault[0]
        response.headers.setdefault(_AUTH_HEADER, "true")
        return response

    def _admin(self, request: Request) -> Response:
        """The simulator's own endpoints, for the admin token only: `GET /_simulator/stats`."""
        token = self.tokens.authenticate(request.headers, request.path)
        if token is None or token.name != self.token.partition(":")[0]:
            return Response.json(401, UNAUTHORIZED_BODY, {_AUTH_HEADER: "false"})
        if request.path == "/_simulator/stats" and request.method == "GET":
            return Response.json(200, self.stats())
        return Response.text(404, "404 page not found\n")

    def _public(self, request: Request) -> Response | None:
        path = request.path
        if path == "/ping":
            return Response.text(200, "pong")
        if path == "/rancherversion" and _version_tuple(self.world.rancher_version) >= (2, 7):
            return Response.json(200, {"Version": self.world.rancher_version, "GitCommit": "a1b2c3d4e",
                                       "RancherPrime": "false"})
        if path == "/v3/settings/cacerts" and request.method == "GET":
            return Response.json(200, norman.cacerts_setting(request.base_url, self.ca_pem))
        return None

    def _authenticated(self, request: Request, token: TokenRecord) -> Response | StreamResponse:
        roll = self._roll_error(request.method)
        if roll == "before":
            return _simulated_error(request.path)
        response = self._route(request, token)
        return _simulated_error(request.path) if roll == "after" else response  # "after" comes only for writes

    def _route(self, request: Request, token: TokenRecord) -> Response | StreamResponse:
        path = request.path
        user_agent = request.headers.get("User-Agent", "")
        if _under(path, "/v3", "/v1") and request.method != "GET" and "mozilla" in user_agent.lower():
            # Norman and Steve take any "Mozilla" client for a browser, which then needs a CSRF cookie and header.
            return Response.json(422, norman_error(422, "InvalidCSRFToken", "Invalid CSRF token"))
        if _under(path, "/v3"):
            info = norman.RancherInfo(self.world.rancher_version, self.clusters, self.tokens, self.users, self.ca_pem)
            return norman.handle(request, token, info)
        if _under(path, "/v1"):
            return Response.json(404, steve_error(404, "NotFound", "the simulator does not serve the Steve API"))
        parts = [p for p in path.split("/") if p]
        cluster = self.clusters.get(parts[2]) if len(parts) > 2 else None
        if cluster is None or cluster.state != "active":
            message = "cluster not found" if cluster is None else "cluster agent disconnected"
            # The cluster router sets Content-Type after writing the status, so Go sniffs text/plain.
            body = Response.json(503, cluster_router_error("ClusterUnavailable", 503, message)).body + b"\n"
            return Response(503, body, TEXT)
        if cluster.error is not None:
            return _cluster_error(cluster.error.status, cluster.error.message)
        return kube.handle(cluster, request, parts[3:], self._stopping, token.user_id, self.watches)


_VERBS = ("list", "get", "watch", "patch")


def _verb(request: Request) -> str:
    """How a request counts in the stats: a Kubernetes collection GET is a list (or a watch), PATCH and PUT are
    patches, any other GET (an object, discovery, /v3) a get."""
    if request.method in ("PATCH", "PUT"):
        return "patch"
    if request.method != "GET":
        return ""
    if request.params.get("watch") in ("1", "true"):
        return "watch"
    parts = [p for p in request.path.split("/") if p]
    if parts[:2] == ["k8s", "clusters"] and kube.is_collection(parts[3:]):
        return "list"
    return "get"


def _simulated_error(path: str) -> Response:
    """A 500 as the real servers answer one: a Kubernetes `Status` from a cluster's API (an etcd leader change, an
    overloaded apiserver), Norman's error object from /v3 (--error-rate)."""
    if _under(path, "/k8s/clusters"):
        message = "Internal error occurred: simulated failure (error_rate)"
        body = KubeError(500, "InternalError", message, {"causes": [{"message": "simulated failure"}]}).status()
        return Response.json(500, body)
    return Response.json(500, norman_error(500, "ServerError", "simulated failure (error_rate)"))


def _cluster_error(status: int, message: str) -> Response:
    """A world's refusing cluster: kube-apiserver's Forbidden Status, or the cluster proxy's plain-text 500."""
    if status == 403:
        return Response.json(403, KubeError(403, "Forbidden", message, {}).status())
    return Response.text(500, message)
