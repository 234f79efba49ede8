"""Browser fixtures: Debian's Chromium through Playwright, a simulated Rancher, and the app served for real."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Playwright, sync_playwright

from ranchersync.simulator import SimulatedRancher
from tests.conftest import require
from tests.e2e.helpers import ROOT, AppServer, chromium_available, launch_chromium
from tests.e2e.world import e2e_world

ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
Serve = Callable[..., AppServer]


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    """Playwright's sync driver, once per session."""
    require("browser", chromium_available(), "Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the whole session; each test opens its own contexts."""
    chromium = launch_chromium(playwright_session)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def simulated_rancher() -> Iterator[SimulatedRancher]:
    """A simulated Rancher over real HTTP on loopback."""
    with SimulatedRancher(e2e_world(), rollout_seconds=1) as simulator:
        yield simulator


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., AppServer]]:
    """Start the app on a free port against a fresh database; stopped at the end of the test."""
    servers: list[AppServer] = []

    def start(database: Path | None = None, secret_key: str | None = None) -> AppServer:
        db = database or tmp_path / f"app{len(servers)}.db"
        server = AppServer(
            database_url=f"sqlite:///{db}",
            secret_key=secret_key or Fernet.generate_key().decode(),
            data_dir=tmp_path / f"server{len(servers)}",
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def demo_app(serve: Serve) -> Iterator[AppServer]:
    """The app on the built-in demo (two simulated Rancher servers, Dev → Stage → Prod with Prod protected),
    stopped at the end."""
    from ranchersync.ops import demo

    app = serve()
    ctx = app.context()
    demo.start_demo(ctx)
    yield app
    demo.stop_demo(ctx)
    ctx.engine.dispose()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots are kept (test-artifacts/screenshots)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
