"""An air-gapped deployment (issue 20, item 7): no page asks anything of a host other than the dashboard's own. The
browser aborts every request that leaves loopback and the test fails on any attempt, on every page, an operation's
page and the history's charts included. (Before, every page asked fonts.gstatic.com for its tab icon.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, Route, expect

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import Confirmation, SyncOptions, apply_plan, new_request_id, plan_environments
from tests.e2e.conftest import Serve
from tests.e2e.helpers import PAGE_PATHS, AppServer, new_page, open_page, wait_idle
from tests.e2e.world import e2e_world, seed_showcase

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
EVERY_PAGE = {**PAGE_PATHS, "Settings": "Settings"}


@pytest.fixture
def server(serve: Serve, tmp_path: Path) -> Iterator[tuple[AppServer, int]]:
    """The app on the showcase (Dev → Stage → Prod) with one sync done, so the history has a record and charts."""
    database, key = tmp_path / "offline.db", Fernet.generate_key().decode()
    ctx = AppContext(Settings(f"sqlite:///{database}", (key,), tmp_path / "secret.key", "e2e"))
    ctx.upgrade_database()
    with SimulatedRancher(e2e_world(), rollout_seconds=0.5) as rancher:
        seed_showcase(ctx, rancher)
        with ctx.session() as session:
            plan = plan_environments(session, ctx.cipher, "Stage", "Prod", services=["web"])
        synced = apply_plan(ctx, plan, actor=Actor("e2e", "admin", "cli"), request_id=new_request_id(),
                            options=SyncOptions(timeout_seconds=30, poll_seconds=0.2),
                            confirmed=Confirmation(confirm_env="Prod"))
        ctx.engine.dispose()
        yield serve(database, key), synced


def offline(page: Page, where: list[str]) -> list[tuple[str, str]]:
    """Abort every request to another host than loopback; the list of those asked for (to fail on), each with the
    screen that asked (`where[0]`, the one being visited)."""
    asked: list[tuple[str, str]] = []

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or (urlsplit(url).hostname or "") in LOOPBACK:
            route.continue_()
        else:
            asked.append((where[0], url))
            route.abort("internetdisconnected")

    page.route("**/*", guard)
    return asked


def test_no_page_asks_anything_of_another_host(browser: Browser, server: tuple[AppServer, int]) -> None:
    app, synced = server
    page = new_page(browser)
    where = [""]
    asked = offline(page, where)
    for label, path in EVERY_PAGE.items():
        where[0] = label
        open_page(page, f"{app.url}/{path}")
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
    where[0] = "an operation and the history's charts"
    open_page(page, f"{app.page_url('Sync history')}?operation={synced}")
    page.get_by_role("tab", name="Metrics").click()
    wait_idle(page)
    expect(page.locator("[data-testid='stPlotlyChart']").first).to_be_visible()
    page.wait_for_timeout(1000)  # what is loaded after drawing (icons, fonts) has been asked for by now
    assert not asked, f"requests that left loopback: {asked}"
    favicon = page.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\").href")
    assert favicon.startswith("data:image/svg+xml"), "the tab's icon is the app's own"
    page.context.close()
