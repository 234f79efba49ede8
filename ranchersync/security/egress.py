"""Connections made for us by code we do not own (Apprise's notification plugins) kept inside the host policy.

While ``guarded(policy)`` is active in a context — and in the worker threads Apprise starts with a copy of that
context — every socket connection goes only to an address the policy allows (the check is made on the very address
being connected to, so DNS rebinding and redirects gain nothing), every HTTP request's host is checked by name too
(the allow-list), redirects are not followed, and an HTTP answer is read streamed up to a small cap and an overall
deadline. Outside such a block the hooks do nothing: Rancher's own transport pins its connections itself.

The hooks wrap ``socket.socket.connect``/``connect_ex`` and ``requests.Session.send`` once per process (again if
something, a test's monkeypatch for instance, replaced them since).
"""

from __future__ import annotations

import contextvars
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from ranchersync.security.host_policy import HostPolicy, HostRefused, literal_address, refused_reason

MAX_ANSWER: Final = 64 * 1024  # bytes of a notification service's answer worth reading
_CHUNK: Final = 16 * 1024
_MARK: Final = "__ranchersync_egress__"


class EgressRefused(ConnectionRefusedError):
    """A connection the host policy refused; libraries treat it as a connection that failed."""


@dataclass
class Guard:
    """One guarded block: its policy, deadline (time.monotonic) and answer cap, and whether anything was refused."""

    policy: HostPolicy
    deadline: float
    max_answer: int = MAX_ANSWER
    refused: list[str] = field(default_factory=list)  # what was refused, for a log line (never shown to viewers)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


_ACTIVE: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("ranchersync_egress", default=None)


@contextmanager
def guarded(policy: HostPolicy, seconds: float, max_answer: int = MAX_ANSWER) -> Iterator[Guard]:
    """Keep every connection this context makes inside `policy` for `seconds` (see the module's docstring)."""
    install()
    guard = Guard(policy, time.monotonic() + seconds, max_answer)
    token = _ACTIVE.set(guard)
    try:
        yield guard
    finally:
        _ACTIVE.reset(token)


def install() -> None:
    """Wrap the socket and requests entry points (once; again if they were replaced since)."""
    for name in ("connect", "connect_ex"):
        current = getattr(socket.socket, name)
        if not getattr(current, _MARK, False):
            setattr(socket.socket, name, _wrap_connect(current))
    if not getattr(requests.Session.send, _MARK, False):
        requests.Session.send = _wrap_send(requests.Session.send)  # type: ignore[method-assign]


def _refuse(guard: Guard, what: str) -> EgressRefused:
    guard.refused.append(what)
    return EgressRefused("refused by the host policy")


def _wrap_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        guard = _ACTIVE.get()
        if guard is not None and self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            host = str(address[0])
            literal = literal_address(host)
            if literal is None:  # a name: resolve it through the policy and connect to the address it vetted
                try:
                    vetted = guard.policy.vetted_addresses(host)
                except HostRefused:
                    raise _refuse(guard, host) from None
                address = (vetted[0], *address[1:])
            elif refused_reason(literal) is not None:
                raise _refuse(guard, host)
            if guard.remaining() <= 0:
                raise TimeoutError("the notification's time is up")
        return original(self, address)

    setattr(connect, _MARK, True)
    return connect


def _wrap_send(original: Callable[..., requests.Response]) -> Callable[..., requests.Response]:
    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        guard = _ACTIVE.get()
        if guard is None:
            return original(self, request, **kwargs)
        host = urlsplit(request.url or "").hostname or ""
        try:
            guard.policy.vetted_addresses(host)
        except HostRefused:
            guard.refused.append(host)
            raise requests.exceptions.ConnectionError("refused by the host policy") from None
        except OSError:
            pass  # an unknown name: connecting will say so
        remaining = guard.remaining()
        if remaining <= 0:
            raise requests.exceptions.Timeout("the notification's time is up")
        kwargs["allow_redirects"] = False  # a redirect is an answer, not a second request
        kwargs["stream"] = True  # read below, against the cap and the deadline
        kwargs["timeout"] = (min(remaining, 10.0), min(remaining, 10.0))
        response = original(self, request, **kwargs)
        _read_capped(response, guard)
        return response

    setattr(send, _MARK, True)
    return send


def _read_capped(response: requests.Response, guard: Guard) -> None:
    """Read an answer into `response` up to the guard's cap and deadline; a RequestException beyond them."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdecimal() and int(declared) > guard.max_answer:
        response.close()
        raise requests.exceptions.ContentDecodingError("the answer was larger than the notification limit")
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            remaining = guard.remaining()
            if remaining <= 0:
                raise requests.exceptions.Timeout("the answer did not finish in time")
            sock = getattr(getattr(response.raw, "connection", None), "sock", None)
            if sock is not None:
                sock.settimeout(remaining)
            try:
                chunk = response.raw.read1(_CHUNK, decode_content=True)
            except (ReadTimeoutError, ProtocolError, OSError) as exc:
                raise requests.exceptions.ConnectionError("the answer could not be read") from exc
            if not chunk:
                break
            size += len(chunk)
            if size > guard.max_answer:
                raise requests.exceptions.ContentDecodingError("the answer was larger than the notification limit")
            chunks.append(chunk)
    except requests.RequestException:
        response.close()
        raise
    response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]
