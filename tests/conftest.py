"""Fixtures shared by every suite: a migrated temporary database, an AppContext, and mandatory-suite checks."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from ranchersync.catalogue import environments, instances, sites
from ranchersync.context import AppContext
from ranchersync.kernel import logs
from ranchersync.kernel.config import Settings
from ranchersync.security import host_policy
from ranchersync.simulator import SimulatedRancher, load_demo_world
from tests.builders import ADMIN


def offline_resolve(host: str) -> list[str]:
    """The tests' resolver: loopback names only; any other name is unknown, so no test ever sends a DNS query."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return ["127.0.0.1"]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (offline test resolver)")


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host policy checks site names against their addresses; in tests it may not ask a real DNS server."""
    monkeypatch.setattr(host_policy, "system_resolve", offline_resolve)


@pytest.fixture(autouse=True)
def logging_as_found() -> Iterator[None]:
    """A test that sets up the app's logging (an AppTest run of the dashboard, at INFO) takes it away again: a later
    test in the same process (the CLI in-process, which logs warnings only) must not inherit its handler and level."""
    root = logging.getLogger()
    had_ours, level = any(h.get_name() == logs.HANDLER_NAME for h in root.handlers), root.level
    yield
    if not had_ours:
        logs.remove_logging()
        root.setLevel(level)


def require(what: str, available: bool, reason: str) -> None:
    """Skip a test whose tool is missing on a laptop, but fail it in CI, where every suite is mandatory."""
    if available:
        return
    if os.environ.get("CI") or os.environ.get(f"RANCHERSYNC_REQUIRE_{what.upper()}"):
        pytest.fail(f"{reason} (this suite is mandatory in CI)")
    pytest.skip(reason)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh SQLite file and a fresh key."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'ranchersync.db'}",
        secret_keys=(Fernet.generate_key().decode(),),
        key_file=tmp_path / "secret.key",
        user="tester",
    )


@pytest.fixture
def ctx(settings: Settings) -> Iterator[AppContext]:
    """A migrated database and its context."""
    context = AppContext(settings)
    context.upgrade_database()
    yield context
    # A notification the test queued may still be on its way in the background sender: let its pass end before the
    # database goes (PostgreSQL drops the test's schema next), or its connection outlives the pool it came from.
    from ranchersync.notify.sender import settle

    settle(context)
    context.engine.dispose()


@pytest.fixture
def session(ctx: AppContext) -> Iterator[Session]:
    """One unit of work, committed at the end of the test."""
    with ctx.session() as s:
        yield s


@pytest.fixture
def rancher() -> Iterator[SimulatedRancher]:
    """The first demo Rancher server (dev-eu-1, stage-eu-1, local), served over real HTTP."""
    with SimulatedRancher(load_demo_world("rancher-eu"), rollout_seconds=1) as server:
        yield server


@pytest.fixture
def rancher_us(request: pytest.FixtureRequest) -> Iterator[SimulatedRancher]:
    """The second demo Rancher server (prod-us-east, prod-us-west); an indirect parameter names images that never
    become ready (or is a dict of `fail_images` and `rollout_seconds`)."""
    param = getattr(request, "param", None)
    options = param if isinstance(param, dict) else {"fail_images": param}  # or {"rollout_seconds": 30, ...}
    with SimulatedRancher(load_demo_world("rancher-us"), rollout_seconds=options.get("rollout_seconds", 1),
                          fail_images=options.get("fail_images")) as server:
        yield server


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def demo(ctx: AppContext, rancher: SimulatedRancher, rancher_us: SimulatedRancher) -> AppContext:
    """Dev and Stage on the EU server, Prod on both US clusters."""
    return make_demo(ctx, rancher, rancher_us)


def make_demo(ctx: AppContext, rancher: SimulatedRancher, rancher_us: SimulatedRancher) -> AppContext:
    """The `demo` catalogue on `ctx` (also for session-wide worlds: tests/api)."""
    with ctx.session() as session:
        for name, server in (("eu", rancher), ("us", rancher_us)):
            sites.add_site(session, ctx.cipher, name=name, connection=sites.make_connection(server.url, server.token),
                           actor=ADMIN)
        for name in ("Dev", "Stage", "Prod"):
            environments.add_environment(session, name=name, actor=ADMIN)
    for name, site, cluster, namespace, env in (
        ("shop-dev", "eu", "dev-eu-1", "shop-dev", "Dev"),
        ("payments-dev", "eu", "dev-eu-1", "payments-dev", "Dev"),
        ("shop-stage", "eu", "stage-eu-1", "shop-stage", "Stage"),
        ("shop-east", "us", "prod-us-east", "shop-prod", "Prod"),
        ("shop-west", "us", "prod-us-west", "shop-prod", "Prod"),
    ):
        with ctx.session() as session:
            placement = instances.check_placement(sites.get_site(session, site), ctx.cipher, cluster, namespace)
            instances.add_instance(session, name=name, site=site, environment=env, placement=placement, actor=ADMIN)
    return ctx
