"""A TCP proxy on 127.0.0.1 in front of the shared PostgreSQL server, to take the database away from one test only
(the server itself keeps running for everyone else): `cut()` closes every open connection and refuses new ones
(accepted, then closed at once: "server closed the connection unexpectedly", as in a failover), `restore()` lets
them through again."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace
from types import TracebackType

from sqlalchemy.engine import make_url

from ranchersync.kernel.config import Settings


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._closed = False
        self.refused = 0  # connections refused while cut: proof that someone tried during the outage

    def __enter__(self) -> TcpProxy:
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._closed = True
        self._listener.close()
        self._close_all()

    def cut(self) -> None:
        """The database goes away: every open session is cut, every new one refused."""
        with self._lock:
            self._cut = True
        self._close_all()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                cut = self._cut
                self.refused += cut
            if cut:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True, name="tcp-proxy-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:  # one side ended: end the other (its pump wakes up and stops), then free both
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                self._open.difference_update((source, sink))
            source.close()


def through(settings: Settings, proxy: TcpProxy) -> Settings:
    """The same settings, the database reached through the proxy."""
    url = make_url(settings.database_url).set(host="127.0.0.1", port=proxy.port)
    return replace(settings, database_url=url.render_as_string(hide_password=False))


def upstream(postgres_url: str) -> tuple[str, int]:
    url = make_url(postgres_url)
    return url.host or "127.0.0.1", url.port or 5432
