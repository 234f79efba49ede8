"""Connections pinned to checked addresses: every new connection goes to an address the host policy
(``ranchersync.security.host_policy``) has just checked.
The name is resolved once, the resolved addresses are checked, and
the socket is opened to one of those very addresses, never to a second lookup's answer (DNS rebinding). The TLS
name stays the host's. ``PinnedAdapter`` plugs this into a requests session."""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from contextvars import ContextVar
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from ranchersync.security.host_policy import HostPolicy, HostRefused

# The monotonic time by which the request being sent from this thread must have its answer's head (status line and
# headers); set by the Transport around each attempt. A per-socket read timeout alone lets a server that drips one
# header byte at a time hold a request for ever.
HEAD_DEADLINE: ContextVar[float | None] = ContextVar("HEAD_DEADLINE", default=None)


class _Watchdog:
    """One thread for the whole process that shuts down the sockets whose answer's head is late."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, socket.socket] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, sock: socket.socket, deadline: float) -> int:
        """Cut `sock` at `deadline` unless disarmed before; returns the ticket to disarm with."""
        with self._cond:
            ticket = next(self._ids)
            self._armed[ticket] = sock
            heapq.heappush(self._heap, (deadline, ticket))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rancher-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()
            return ticket

    def disarm(self, ticket: int) -> None:
        """The head arrived in time."""
        with self._cond:
            self._armed.pop(ticket, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][0] <= now or self._heap[0][1] not in self._armed):
                    _, ticket = heapq.heappop(self._heap)
                    sock = self._armed.pop(ticket, None)
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)  # the reader's recv() returns at once
                        except OSError:
                            pass
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_WATCHDOG = _Watchdog()


class _PinnedConnectionMixin:
    """Opens its socket to an address the host policy has just checked, never to a second lookup's answer."""

    _dns_host: str
    host: str
    port: int
    policy: HostPolicy | None = None

    def _new_conn(self) -> socket.socket:
        if self.policy is None:  # pragma: no cover - every pool of _PinnedPoolManager sets it
            return super()._new_conn()  # type: ignore[misc]
        name = self._dns_host
        try:
            addresses = self.policy.vetted_addresses(name)
        except HostRefused:
            raise
        except OSError as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        last: Exception | None = None
        for address in addresses:
            self._dns_host = address  # the TLS name (server_hostname) stays `host`
            try:
                return super()._new_conn()  # type: ignore[misc]
            except (NewConnectionError, ConnectTimeoutError) as exc:
                last = exc
            finally:
                self._dns_host = name
        if last is None:
            raise NameResolutionError(self.host, self, socket.gaierror("no address"))  # type: ignore[arg-type]
        raise last

    def getresponse(self) -> Any:
        """Read the answer's head, cut at the request's deadline however slowly its bytes come."""
        deadline = HEAD_DEADLINE.get()
        sock = getattr(self, "sock", None)
        if deadline is None or sock is None:
            return super().getresponse()  # type: ignore[misc]
        ticket = _WATCHDOG.arm(sock, deadline)
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            _WATCHDOG.disarm(ticket)


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    def __init__(self, *args: Any, policy: HostPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    def __init__(self, *args: Any, policy: HostPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _PinnedPoolManager(PoolManager):
    def __init__(self, policy: HostPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.conn_kw["policy"] = self.policy  # handed to every connection the pool opens
        return pool


def pinned_pool_manager(policy: HostPolicy, *, maxsize: int, ca_certs: str | None = None,
                        num_pools: int = 4) -> PoolManager:
    """A urllib3 pool manager whose connections go only to checked addresses, verifying TLS against `ca_certs`
    (a PEM file; None: the certifi bundle requests uses), for callers that skip requests' per-request work."""
    import certifi

    return _PinnedPoolManager(policy, num_pools=num_pools, maxsize=maxsize, cert_reqs="CERT_REQUIRED",
                              ca_certs=ca_certs or certifi.where())


class PinnedAdapter(HTTPAdapter):
    """requests' adapter, with connection pools whose connections go only to checked addresses."""

    def __init__(self, policy: HostPolicy, **kwargs: Any) -> None:
        self._policy = policy  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        """Build the pinned pool manager (requests calls this from its constructor)."""
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        self.poolmanager = _PinnedPoolManager(
            self._policy, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )
