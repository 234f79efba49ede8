"""One registry's HTTP funnel: the same host policy, deadline and size caps as Rancher calls, and its auth.

Every connection goes to an address the host policy has just checked (``security.pinning``), every request has an
overall deadline (the answer's head cut by the watchdog, the body read against it) and a cap on the answer's size.
Authentication follows the registry's challenge (``WWW-Authenticate``): anonymous first; ``Basic`` with the stored
credentials; ``Bearer realm=…,service=…,scope=…`` by asking the realm for a token (with the credentials when there
are some, only over HTTPS or where plain HTTP was allowed), kept per scope for this client's life; once the registry
has named its realm, a new scope's token is asked before the first request (no 401 round trip), and threads that need
the same scope at once ask the realm once (single flight). A redirect is
followed only for a blob, once, without credentials (registries keep blobs on a storage host); a manifest that
redirects is refused. Credentials never appear in a message: every error is built from the host and path alone.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as URLLib3Error
from urllib3.exceptions import SSLError as URLLib3SSLError

from ranchersync import __version__
from ranchersync.registry.errors import (
    ImageNotInRegistry,
    RegistryAnswerRefused,
    RegistryAuthFailed,
    RegistryUnavailable,
)
from ranchersync.security.host_policy import HostPolicy, HostRefused, default_policy
from ranchersync.security.pinning import HEAD_DEADLINE, pinned_pool_manager

USER_AGENT: Final = f"rancher-sync-manager/{__version__}"
DEADLINE: Final = 20.0  # seconds for one request, answer included: a plan waits on it
MAX_MANIFEST: Final = 4 * 1024 * 1024  # bytes; distribution refuses manifests over 4 MiB itself
MAX_BLOB: Final = 8 * 1024 * 1024  # bytes of an image config worth reading
MAX_TOKEN: Final = 256 * 1024  # bytes of a token realm's answer
RETRY_AFTER_MAX: Final = 5.0  # seconds one plan waits for a rate-limited registry, once
POOL_SIZE: Final = 256  # kept-alive connections per registry: as many as a plan's threads ask at once
_CHUNK: Final = 64 * 1024
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class Secret:
    """A password that never shows itself in repr, str or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class Credentials:
    """A registry's stored user name and password (the password held as a Secret)."""

    username: str
    password: Secret

    def basic(self) -> str:
        raw = f"{self.username}:{self.password.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Answer:
    """A registry's answer: status, body and the headers the tool reads."""

    status: int
    body: bytes
    content_type: str
    digest: str  # Docker-Content-Digest, when the registry sends it


class RegistryHTTP:
    """Requests to one registry (``https://host`` or, when allowed, ``http://host``)."""

    def __init__(
        self,
        host: str,
        *,
        credentials: Credentials | None = None,
        verify: str | bool = True,
        allow_http: bool = False,
        deadline: float = DEADLINE,
        host_policy: HostPolicy | None = None,
    ) -> None:
        self.host = host
        self.base = f"{'http' if allow_http else 'https'}://{host}"
        self._allow_http = allow_http
        self._credentials = credentials
        self._deadline = deadline
        self._policy = host_policy if host_policy is not None else default_policy()
        if verify is True:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        if verify is False:
            raise ValueError("a registry's TLS is always verified (add its CA with --ca-file)")
        self._tokens: dict[str, str] = {}  # scope -> the Authorization header to send
        self._lock = threading.Lock()
        self._scope_locks: dict[str, threading.Lock] = {}  # one token request per scope at a time
        self._challenge = ""  # the registry's Bearer challenge, once seen: its realm and service (no secret)
        # urllib3 itself, not requests: a plan sends hundreds of small requests at once, and requests' own work per
        # request (preparing, cookies, hooks) is half of the CPU each costs. No proxy from the environment, no
        # retries, no redirects followed here (see `_redirected`).
        self._pool = pinned_pool_manager(self._policy, maxsize=POOL_SIZE,
                                         ca_certs=verify if isinstance(verify, str) else None)

    def __repr__(self) -> str:
        return f"RegistryHTTP(host={self.host!r})"

    def close(self) -> None:
        self._pool.clear()

    def get(self, path: str, *, scope: str, accept: str = "", cap: int = MAX_MANIFEST, blob: bool = False) -> Answer:
        """GET `path` (``/v2/…``), authenticating as the registry asks; raises a typed error for anything but 200.

        404 is ImageNotInRegistry; 401/403 after authenticating is RegistryAuthFailed; 429 is waited out once (its
        Retry-After, if short) then RegistryUnavailable."""
        deadline = time.monotonic() + self._deadline
        headers = {"Accept": accept} if accept else {}
        url = self.base + path
        waited = False
        authenticated = False
        if self._challenge and self._authorization(scope) is None:
            self._authenticate(self._challenge, scope, deadline)  # the realm is known: no 401 round trip
            authenticated = True
        while True:
            auth = self._authorization(scope)
            if auth:
                headers["Authorization"] = auth
            answer, challenge, location, retry_after = self._send(url, headers, deadline, cap, path)
            if answer.status == 401 and not authenticated:
                self._authenticate(challenge, scope, deadline)
                authenticated = True
                continue
            if answer.status == 429 and not waited:
                wait = retry_after if retry_after is not None else 1.0
                if wait <= RETRY_AFTER_MAX and time.monotonic() + wait < deadline:
                    time.sleep(wait)
                    waited = True
                    continue
            if answer.status in (301, 302, 303, 307, 308):
                return self._redirected(location, path, deadline, cap, blob, url)
            return self._checked(answer, path, retry_after)

    # ---- one request ---------------------------------------------------------------------------------------------

    def _send(self, url: str, headers: dict[str, str], deadline: float, cap: int,
              path: str) -> tuple[Answer, str, str, float | None]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._too_slow(path)
        token = HEAD_DEADLINE.set(deadline)
        sent = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip, deflate", **headers}
        try:
            resp = self._pool.urlopen("GET", url, headers=sent, redirect=False, retries=False,
                                      preload_content=False, decode_content=True,
                                      timeout=urllib3.Timeout(connect=min(3.05, remaining),
                                                              read=min(10.0, remaining)))
        except HostRefused as exc:
            raise RegistryUnavailable(f"Refused to connect to {urlsplit(url).netloc}: {exc}. Nothing was sent.") \
                from None
        except URLLib3SSLError:
            raise RegistryUnavailable(f"The TLS certificate of {urlsplit(url).netloc} could not be verified: add "
                                      "its CA with `registries add --ca-file PEM`.") from None
        except (URLLib3Error, OSError) as exc:
            if time.monotonic() >= deadline:
                raise self._too_slow(path) from None
            raise RegistryUnavailable(f"{urlsplit(url).netloc} could not be reached ({type(exc).__name__}).") \
                from None
        finally:
            HEAD_DEADLINE.reset(token)
        complete = False
        try:
            body = self._read(resp, deadline, cap, path) if resp.status in (200, 401, 404) else b""
            complete = resp.status in (200, 401, 404)
        finally:
            if complete:
                resp.release_conn()  # read to its end: the connection is kept for the next request
            else:
                resp.close()  # an answer left unread: its connection is not reused
                resp.release_conn()
        retry = resp.headers.get("Retry-After", "").strip()
        answer = Answer(resp.status, body, resp.headers.get("Content-Type", ""),
                        resp.headers.get("Docker-Content-Digest", ""))
        return (answer, resp.headers.get("WWW-Authenticate", ""), resp.headers.get("Location", ""),
                float(retry) if retry.isdecimal() else None)

    def _read(self, resp: urllib3.BaseHTTPResponse, deadline: float, cap: int, path: str) -> bytes:
        declared = resp.headers.get("Content-Length", "")
        if declared.isdecimal() and int(declared) > cap:
            raise self._too_large(path, cap)
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._too_slow(path)
            sock = getattr(resp.connection, "sock", None)
            if sock is not None:
                sock.settimeout(min(10.0, remaining))
            try:
                chunk = resp.read1(_CHUNK)
            except Exception:  # a timeout, a reset, a broken chunked encoding: all "could not be read"
                if time.monotonic() >= deadline:
                    raise self._too_slow(path) from None
                raise RegistryUnavailable(f"The answer of {self.host} to {path} could not be read.") from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > cap:
                raise self._too_large(path, cap)
            chunks.append(chunk)

    def _checked(self, answer: Answer, path: str, retry_after: float | None) -> Answer:
        if answer.status == 200:
            return answer
        if answer.status == 404:
            raise ImageNotInRegistry(f"{self.host} has no {path.removeprefix('/v2/')}")
        if answer.status in (401, 403):
            raise RegistryAuthFailed(f"{self.host} refused access to {path} (HTTP {answer.status})")
        if answer.status == 429:
            after = f" (it asks to wait {retry_after:g} s)" if retry_after is not None else ""
            raise RegistryUnavailable(f"{self.host} is rate-limiting requests{after}: try again later",
                                      title="The registry is rate-limiting requests")
        raise RegistryUnavailable(f"{self.host} answered HTTP {answer.status} to {path}")

    def _redirected(self, location: str, path: str, deadline: float, cap: int, blob: bool, url: str) -> Answer:
        target = urljoin(url, location)
        if not blob:
            raise RegistryAnswerRefused(f"{self.host} redirected {path} to {urlsplit(target).netloc or 'nowhere'}: "
                                        "a manifest is read only from the registry itself")
        if urlsplit(target).scheme != "https" and not self._allow_http:
            raise RegistryAnswerRefused(f"{self.host} redirected {path} to plain HTTP: not followed")
        answer, _, _, retry_after = self._send(target, {}, deadline, cap, path)  # no credentials to a storage host
        if answer.status in (301, 302, 303, 307, 308):
            raise RegistryAnswerRefused(f"{self.host} redirected {path} more than once: not followed")
        return self._checked(answer, path, retry_after)

    # ---- authentication ------------------------------------------------------------------------------------------

    def _authorization(self, scope: str) -> str | None:
        with self._lock:
            token = self._tokens.get(scope)
        if token is not None:
            return token
        return None

    def _authenticate(self, challenge: str, scope: str, deadline: float) -> None:
        """Answer a 401's challenge: remember the header to send for `scope`, or raise RegistryAuthFailed. Threads
        that need the same scope at once wait for the first one's token instead of asking the realm each."""
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            if self._credentials is None:
                raise RegistryAuthFailed(f"{self.host} wants credentials and none are stored for it")
            with self._lock:
                self._tokens[scope] = self._credentials.basic()
            return
        if scheme != "bearer":
            raise RegistryAuthFailed(f"{self.host} asks for an authentication the tool does not speak "
                                     f"({scheme or 'none'})")
        params = dict(_CHALLENGE.findall(challenge))
        with self._lock:
            flight = self._scope_locks.setdefault(scope, threading.Lock())
            before = self._tokens.get(scope)
        with flight:
            with self._lock:
                now = self._tokens.get(scope)
            if now is not None and now != before:
                return  # another thread got it meanwhile
            value = "Bearer " + self._token(params, scope, deadline)
            with self._lock:
                self._tokens[scope] = value
                # The realm and service, not the scope: a later scope asks its token before its first request.
                self._challenge = 'Bearer ' + ",".join(f'{k}="{v}"' for k, v in params.items() if k != "scope")

    def _token(self, params: dict[str, str], scope: str, deadline: float) -> str:
        realm = params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise RegistryAuthFailed(f"{self.host} names no usable token realm")
        query = {k: v for k, v in (("service", params.get("service", "")),
                                   ("scope", params.get("scope") or scope)) if v}
        url = realm + ("&" if parts.query else "?") + urlencode(query)
        headers: dict[str, str] = {"Accept": "application/json"}
        if self._credentials is not None:
            if parts.scheme != "https" and not self._allow_http:
                raise RegistryAuthFailed(f"the token realm of {self.host} is plain HTTP ({parts.netloc}): the "
                                         "credentials are not sent there")
            headers["Authorization"] = self._credentials.basic()
        answer, _, _, _ = self._send(url, headers, deadline, MAX_TOKEN, "its token realm")
        if answer.status in (401, 403):
            raise RegistryAuthFailed(f"the token realm of {self.host} ({parts.netloc}) refused the credentials")
        if answer.status != 200:
            raise RegistryAuthFailed(f"the token realm of {self.host} ({parts.netloc}) answered HTTP {answer.status}")
        try:
            data = json.loads(answer.body)
        except ValueError:
            data = None
        token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryAuthFailed(f"the token realm of {self.host} ({parts.netloc}) gave no token")
        return token

    # ---- messages ------------------------------------------------------------------------------------------------

    def _too_slow(self, path: str) -> RegistryUnavailable:
        return RegistryUnavailable(f"{self.host} did not finish its answer to {path} within {self._deadline:g} s: "
                                   "the request was cut.")

    def _too_large(self, path: str, cap: int) -> RegistryAnswerRefused:
        return RegistryAnswerRefused(f"the answer of {self.host} to {path} is larger than "
                                     f"{cap / (1024 * 1024):g} MiB: reading stopped")
