"""The one HTTP funnel: every Rancher request goes through ``Transport.request``.

It sets the token per request, the timeouts, the TLS verification (passed on every call, because
``REQUESTS_CA_BUNDLE`` would silently override a session-wide setting), a plain User-Agent (one containing
"Mozilla" triggers Rancher's CSRF check, rancher-api.md §1.6), retries for idempotent calls only, and turns
every failure into a typed error from ``ranchersync.kernel.errors``.

Two limits hold for every request: an overall deadline (requests' own timeout is per socket operation, so a server
that drip-feeds its answer would never trip it) and a cap on the size of the answer. And every new connection goes
to an address the host policy (``ranchersync.security.host_policy``) has just checked: the name is resolved once, the
resolved addresses are checked, and the socket is opened to one of those very addresses (DNS rebinding).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import socket
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import (
    DecodeError,
    InsecureRequestWarning,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from ranchersync import __version__
from ranchersync.kernel.errors import MalformedResponse, RancherUnavailable
from ranchersync.kernel.validation import check_token, normalize_rancher_url
from ranchersync.rancher import failures
from ranchersync.security.host_policy import HostPolicy, HostRefused, default_policy
from ranchersync.security.pinning import HEAD_DEADLINE, PinnedAdapter

log = logging.getLogger(__name__)

USER_AGENT: Final = f"rancher-sync-manager/{__version__}"
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_MAX: Final = 30  # seconds; a kube-apiserver asks for 1, and a user is waiting on the other side
BACKOFF_MAX: Final = 10.0
DEADLINE: Final = 60.0  # seconds for one request, answer included (retries too); a read timeout is per recv()
MAX_BODY: Final = 32 * 1024 * 1024  # bytes; a namespace of 500 large workloads is a few MiB
_CHUNK: Final = 64 * 1024
_TOKEN_CHARS = re.compile(r"^[\x21-\x7e]+$")


class Secret:
    """A string that never shows itself in repr, str or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that needs it (the Authorization header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class _Transient(Exception):
    """A failed try that another try may heal: a connection that failed or broke, or a 429/5xx answer."""

    def __init__(self, error: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def retry_delay(attempt: int, backoff: float, retry_after: float | None = None) -> float:
    """How long to wait before try number ``attempt + 2``: exponential backoff with jitter (half fixed, half random,
    so clients that failed together do not come back together), or the server's Retry-After (capped)."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_MAX)
    ceiling = min(BACKOFF_MAX, backoff * (2**attempt))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _retry_after_seconds(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After", "").strip()
    return float(value) if value.isdecimal() else None


def _transient_exception(exc: requests.RequestException) -> bool:
    """Connection failures, resets and timeouts heal by themselves; TLS failures and unsendable requests do not."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    return isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                            requests.exceptions.ChunkedEncodingError))


@dataclass(frozen=True)
class TransportSettings:
    """How a transport waits and retries: connect and read timeouts of one try, extra tries of an idempotent
    request and their first backoff, pooled connections, and the bounds of one whole request (seconds, bytes)."""

    timeout: tuple[float, float] = (3.05, 30.0)
    retries: int = 3
    backoff: float = 0.5
    pool_size: int = 10
    deadline: float = DEADLINE
    max_body: int = MAX_BODY


DEFAULT_SETTINGS = TransportSettings()


class Transport:
    """A requests Session bound to one Rancher server and one token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        verify: str | bool = True,
        settings: TransportSettings = DEFAULT_SETTINGS,
        host_policy: HostPolicy | None = None,
    ) -> None:
        """Args: ``host_policy`` defaults to this installation's (RANCHERSYNC_ALLOWED_HOSTS, the system resolver)."""
        # The https policy belongs to registering a site; a client only needs a well-formed base URL.
        self.base_url = normalize_rancher_url(base_url, allow_http=True)
        self._token = Secret(check_token(token))
        self._deadline = settings.deadline
        self._retries = max(0, settings.retries)
        self._backoff = max(0.0, settings.backoff)
        self._max_body = settings.max_body
        timeout, pool_size = settings.timeout, settings.pool_size
        self._policy = host_policy if host_policy is not None else default_policy()
        # With verify=True, requests would pick REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (the machine's trust, often with
        # the company CA) on each call; resolve that once, as trust_env is off below. A site's own CA bundle or its
        # explicit insecure choice is never overridden by the environment.
        if verify is True:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._verify = verify
        self._timeout = timeout
        parts = urlsplit(self.base_url)
        self._origin = (parts.scheme, parts.netloc.lower())
        self._prefix = parts.path
        self.host = parts.netloc
        self._hostname = parts.hostname or ""
        self._session = requests.Session()
        self._streams: set[Any] = set()  # the sockets of open watches, so another thread can cut them
        # Every request goes to this one server, so the environment's proxy settings (HTTPS_PROXY, NO_PROXY) are
        # resolved once here instead of on each request, which costs ~0.7 ms of CPU per call in requests.
        # trust_env=False also keeps REQUESTS_CA_BUNDLE from overriding the site's own verify= choice.
        self._session.proxies = requests.utils.get_environ_proxies(self.base_url)
        self._session.trust_env = False
        # The Authorization header is added per request, never stored on the session.
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        # Through a proxy, the proxy resolves the name: the policy is then checked per request with our resolver.
        self._proxied = bool(self._session.proxies.get(parts.scheme))
        adapter = PinnedAdapter(
            # Retries are ours (``request``): bounded by the deadline, and never for a PATCH or POST.
            self._policy, max_retries=Retry(total=0, redirect=False, raise_on_status=False),
            pool_connections=pool_size, pool_maxsize=pool_size
        )
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"Transport(url={self.base_url!r})"

    @property
    def token_name(self) -> str:
        """The token's access key (its name, the part before ':'), which is not secret."""
        return self._token.reveal().split(":", 1)[0]

    def close(self) -> None:
        """Release the pooled connections."""
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json_body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send one request and return the decoded JSON body, or raise a ``RancherAPIError`` subclass.

        An idempotent request (GET, HEAD, PUT, DELETE, OPTIONS) that meets a transient failure (429, 500, 502, 503,
        504, a refused, dropped or timed-out connection) is sent again after a backoff with jitter, as long as the
        deadline leaves time for it; a PATCH or POST never is (its caller reads the object back first)."""
        method = method.upper()
        url, shown = self._resolve(method, path)
        headers = {
            "Authorization": f"Bearer {self._token.reveal()}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        data: bytes | None = None
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = content_type
        if self._verify is False:
            self._silence_insecure_warning()
        deadline = time.monotonic() + self._deadline
        retries = self._retries if method in IDEMPOTENT_METHODS else 0
        attempt = 0
        while True:
            try:
                return self._attempt(method, url, shown, params, data, headers, deadline)
            except _Transient as transient:
                delay = retry_delay(attempt, self._backoff, transient.retry_after)
                if attempt >= retries or time.monotonic() + delay >= deadline:
                    raise transient.error from transient.error.__cause__
                log.debug("%s %s: %s; attempt %d again in %.2f s", method, shown, type(transient.error).__name__,
                          attempt + 2, delay)
                time.sleep(delay)
                attempt += 1

    def stream_lines(self, path: str, params: dict[str, str | int], idle_timeout: float) -> Iterator[Any]:
        """GET a streaming answer (a watch) and yield each line's JSON as it arrives; one try, no deadline but
        `idle_timeout` seconds of silence, each line capped at the size limit. Errors are typed as for `request`.
        The caller ends the stream by closing the generator."""
        url, shown = self._resolve("GET", path)
        headers = {"Authorization": f"Bearer {self._token.reveal()}", "Accept": "application/json",
                   "User-Agent": USER_AGENT}
        if self._verify is False:
            self._silence_insecure_warning()
        try:
            if self._proxied:
                self._policy.check_host(self._hostname)
            resp = self._session.get(url, params=params, headers=headers, timeout=(self._timeout[0], idle_timeout),
                                     verify=self._verify, allow_redirects=False, stream=True)
        except HostRefused as exc:
            raise RancherUnavailable(f"Refused to connect to {self.host}: {exc}. Nothing was sent.",
                                     url=self._bare(url)) from None
        except requests.RequestException as exc:
            raise self._scrub(failures.from_exception(exc, "GET", shown, self._bare(url), self.host)) from None
        sock = getattr(getattr(resp.raw, "_connection", None), "sock", None)
        if sock is not None:
            self._streams.add(sock)
        with resp:
            if not 200 <= resp.status_code < 300:
                self._read_body(resp, time.monotonic() + self._deadline, "GET", shown, self._bare(url))
                raise self._scrub(failures.from_response(resp, "GET", shown, self._bare(url)))
            try:
                for line in resp.iter_lines(chunk_size=_CHUNK):
                    if len(line) > self._max_body:
                        raise self._too_large(resp, "GET", shown, self._bare(url))
                    if line.strip():
                        yield json.loads(line)
            except ValueError:
                raise self._scrub(failures.malformed(resp, "GET", shown, self._bare(url))) from None
            except requests.RequestException as exc:
                raise self._scrub(failures.from_exception(exc, "GET", shown, self._bare(url), self.host)) from None
            finally:
                self._streams.discard(sock)

    def abort_streams(self) -> None:
        """Cut every stream open now (from another thread): their readers get an error at once."""
        for sock in list(self._streams):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _attempt(
        self, method: str, url: str, shown: str, params: dict[str, str | int] | None, data: bytes | None,
        headers: dict[str, str], deadline: float,
    ) -> Any:
        """One try: the answer's JSON, a typed error, or ``_Transient`` wrapping one that another try may heal."""
        started = time.perf_counter()
        if time.monotonic() >= deadline:
            raise self._too_slow(method, shown, self._bare(url))
        token = HEAD_DEADLINE.set(deadline)
        try:
            if self._proxied:
                self._policy.check_host(self._hostname)
            resp = self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self._timeout,
                verify=self._verify,
                allow_redirects=False,  # a redirect would carry the token somewhere we did not choose
                stream=True,  # the body is read below, against the deadline and the size cap
            )
        except HostRefused as exc:
            raise RancherUnavailable(
                f"Refused to connect to {self.host}: {exc}. Nothing was sent.", url=self._bare(url)
            ) from None
        except requests.RequestException as exc:
            log.debug("%s %s failed after %.0f ms: %s", method, shown, _ms(started), type(exc).__name__)
            if time.monotonic() >= deadline:  # the head did not come in time: the watchdog cut the connection
                raise self._too_slow(method, shown, self._bare(url)) from None
            error = self._scrub(failures.from_exception(exc, method, shown, self._bare(url), self.host))
            error.__cause__ = exc
            if _transient_exception(exc):
                raise _Transient(error) from exc
            raise error from exc
        finally:
            HEAD_DEADLINE.reset(token)
        try:
            self._read_body(resp, deadline, method, shown, self._bare(url))
        except BaseException:
            resp.close()  # a half-read connection cannot be reused
            raise
        log.debug("%s %s -> %s in %.0f ms", method, shown, resp.status_code, _ms(started))
        if not 200 <= resp.status_code < 300:
            error = self._scrub(failures.from_response(resp, method, shown, self._bare(url)))
            if resp.status_code in RETRY_STATUSES:
                raise _Transient(error, _retry_after_seconds(resp))
            raise error
        try:
            return resp.json()
        except ValueError:
            raise self._scrub(failures.malformed(resp, method, shown, self._bare(url))) from None

    def _read_body(self, resp: requests.Response, deadline: float, method: str, shown: str, url: str) -> None:
        """Read the answer into ``resp`` within the deadline and the size cap, or raise a typed error."""
        declared = resp.headers.get("Content-Length", "")
        if declared.isdecimal() and int(declared) > self._max_body:
            raise self._too_large(resp, method, shown, url)
        raw = resp.raw
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._too_slow(method, shown, url)
            connection = getattr(raw, "connection", None)  # None once the body is complete, and when mocked
            sock = getattr(connection, "sock", None)
            if sock is not None:
                # Each recv() may wait only as long as the deadline leaves (urllib3 resets it for the next request).
                sock.settimeout(min(self._timeout[1], remaining))
            try:
                chunk = raw.read1(_CHUNK, decode_content=True)
            except ReadTimeoutError as exc:
                if time.monotonic() >= deadline:
                    raise self._too_slow(method, shown, url) from None
                wrapped: requests.RequestException = requests.exceptions.ReadTimeout(exc)
                raise _Transient(self._scrub(failures.from_exception(wrapped, method, shown, url, self.host))) \
                    from exc
            except ProtocolError as exc:
                wrapped = requests.exceptions.ChunkedEncodingError(exc)
                raise _Transient(self._scrub(failures.from_exception(wrapped, method, shown, url, self.host))) \
                    from exc
            except DecodeError as exc:
                wrapped = requests.exceptions.ContentDecodingError(exc)
                raise self._scrub(failures.from_exception(wrapped, method, shown, url, self.host)) from exc
            if not chunk:
                break
            size += len(chunk)
            if size > self._max_body:
                raise self._too_large(resp, method, shown, url)
            chunks.append(chunk)
        resp._content = b"".join(chunks)  # what requests' own .content would have read
        resp._content_consumed = True  # type: ignore[attr-defined]

    def _too_slow(self, method: str, shown: str, url: str) -> RancherUnavailable:
        return RancherUnavailable(
            f"Rancher at {self.host} did not finish its answer within {self._deadline:g} s ({method} {shown}): "
            "the request was cut.",
            url=url,
        )

    def _too_large(self, resp: requests.Response, method: str, shown: str, url: str) -> MalformedResponse:
        limit = f"{self._max_body / (1024 * 1024):g} MiB" if self._max_body >= 1024 * 1024 else f"{self._max_body} B"
        return MalformedResponse(
            f"Rancher's answer to {method} {shown} is larger than {limit}: reading stopped. Is the URL the "
            "Rancher server itself?",
            status=resp.status_code,
            url=url,
        )

    def _resolve(self, method: str, path: str) -> tuple[str, str]:
        """Return (absolute URL, path shown in messages); absolute URLs must point back at this server."""
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            if (parts.scheme, parts.netloc.lower()) != self._origin or not parts.path.startswith(self._prefix + "/"):
                raise MalformedResponse(
                    f"Rancher sent a link to another server ({parts.scheme}://{parts.netloc}); it was not followed.",
                    url=self.base_url,
                )
            return path, parts.path[len(self._prefix) :]
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return self.base_url + path, path.split("?", 1)[0]

    def _bare(self, url: str) -> str:
        return url.split("?", 1)[0]

    def _scrub(self, err: Exception) -> Exception:
        # Defence in depth: no message we build quotes the token, but a server could echo it back.
        secret = self._token.reveal()
        if any(secret in str(arg) for arg in err.args):
            err.args = tuple(str(arg).replace(secret, "***") for arg in err.args)
        return err

    def _silence_insecure_warning(self) -> None:
        # The site explicitly chose "skip verification"; the UI shows that choice, so urllib3's per-request warning
        # is noise (and an error under pytest's filterwarnings=error). Only this host's warning is silenced.
        warnings.filterwarnings(
            "ignore",
            message=f"Unverified HTTPS request is being made to host '{re.escape(self._hostname)}'",
            category=InsecureRequestWarning,
        )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
