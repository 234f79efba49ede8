"""One real API server for the whole session (uvicorn on 127.0.0.1, a free port), on the demo catalogue over two
simulated Rancher servers, with a token per role; tests speak HTTP to it like a pipeline."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Mount

from ranchersync.api.app import PROBLEM_HANDLERS, create_app
from ranchersync.api.limits import Limit
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.models import ApiToken, utcnow
from ranchersync.people import tokens
from ranchersync.simulator import SimulatedRancher, load_demo_world
from tests.builders import ADMIN
from tests.conftest import make_demo


@dataclass
class ApiWorld:
    """The running server: its base URL, the context behind it, the simulators, and a secret per token name."""

    url: str
    limited_url: str  # the same API with a limit of 2 calls a minute per token (429)
    ctx: AppContext
    eu: SimulatedRancher
    us: SimulatedRancher
    secrets: dict[str, str]

    def call(self, method: str, path: str, token: str | None = "admin", *, base: str | None = None,
             **kwargs: Any) -> requests.Response:
        """One call with token `token` (a name in `secrets`, a literal secret, or None for none)."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {self.secrets.get(token, token)}"
        return requests.request(method, (base or self.url) + path, headers=headers, timeout=60, **kwargs)


TOKENS = {  # name: (role, environments)
    "admin": ("admin", ()),
    "releaser": ("releaser", ()),
    "approver": ("releaser", ()),
    "viewer": ("viewer", ()),
    "ci-stage": ("admin", ("Stage",)),
    "expired": ("admin", ()),
    "revoked": ("admin", ()),
}


def _serve(app: Starlette) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}/api/v1"


@contextlib.contextmanager
def serve_world(root: Path, *, allowed_hosts: tuple[str, ...] = ()) -> Iterator[ApiWorld]:
    """An API server on its own database under `root` (the demo catalogue over two simulators, a token per role)."""
    settings = Settings(database_url=f"sqlite:///{root / 'ranchersync.db'}",
                        secret_keys=(Fernet.generate_key().decode(),), key_file=root / "secret.key", user="tester",
                        allowed_hosts=allowed_hosts)
    ctx = AppContext(settings)
    ctx.upgrade_database()
    with SimulatedRancher(load_demo_world("rancher-eu"), rollout_seconds=1) as eu, \
            SimulatedRancher(load_demo_world("rancher-us"), rollout_seconds=1) as us:
        make_demo(ctx, eu, us)
        secrets: dict[str, str] = {}
        with ctx.session() as session:
            for name, (role, envs) in TOKENS.items():
                secrets[name] = tokens.create_token(session, ADMIN, name=name, role=role,  # type: ignore[arg-type]
                                                    environments=envs, expires_days=30).secret
            tokens.revoke_token(session, ADMIN, "revoked")
            expired = session.scalar(select(ApiToken).where(ApiToken.name == "expired"))
            assert expired is not None
            expired.expires_at = utcnow() - dt.timedelta(minutes=1)
        app = Starlette(routes=[
            Mount("/limited/api/v1", app=create_app(ctx, limit=Limit(per_minute=2, burst=2))),
            Mount("/api/v1", app=create_app(ctx, limit=Limit(per_minute=60_000, burst=10_000))),
        ], exception_handlers=PROBLEM_HANDLERS)  # as `python -m ranchersync api` (server.build_app)
        server, thread, url = _serve(app)
        try:
            yield ApiWorld(url, url.replace("/api/v1", "/limited/api/v1"), ctx, eu, us, secrets)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            ctx.engine.dispose()


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    """The API server, started once for the session."""
    with serve_world(tmp_path_factory.mktemp("api")) as world:
        yield world
