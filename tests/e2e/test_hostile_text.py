"""Text from Rancher is data, never Markdown: a simulated Rancher whose user display name, cluster display name and
403/500 bodies carry an image from a local listener, a link and `:red[…]`, shown in Chromium on every screen that
shows them. No request may reach the listener, no link to it or "re-enter token" may exist, and the text must be
visible exactly as Rancher sent it (which also proves no `:red[…]` became coloured text)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, expect

from ranchersync.simulator import SimulatedRancher
from ranchersync.simulator.apierrors import norman_error
from tests.e2e.helpers import AppServer, by_key, choose, click, new_page, open_page, screenshot, wait_idle
from tests.e2e.hostile_world import hostile, hostile_world, seed_hostile
from tests.e2e.test_sync import select_rows

pytestmark = pytest.mark.browser


class Listener:
    """An HTTP server on loopback that records every request: an image or a prefetch would show up here."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        record = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                record.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    """The listener the hostile texts point at."""
    server = Listener()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rancher(listener: Listener) -> Iterator[SimulatedRancher]:
    """The hostile Rancher."""
    with SimulatedRancher(hostile_world(listener.url), rollout_seconds=1) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def app(rancher: SimulatedRancher, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One Streamlit server for the module, on a database seeded with the hostile site."""
    data = tmp_path_factory.mktemp("hostile")
    server = AppServer(database_url=f"sqlite:///{data / 'app.db'}", secret_key=Fernet.generate_key().decode(),
                       data_dir=data / "server")
    ctx = server.context()
    ctx.upgrade_database()
    seed_hostile(ctx, rancher)
    ctx.engine.dispose()
    with server:
        yield server


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    """One browser context for the module."""
    tab = new_page(browser)
    yield tab
    tab.context.close()


def assert_inert(page: Page, listener: Listener, *, shown: list[str], artifacts: Path, name: str) -> None:
    """Nothing reached the listener, no link or image points at it, and each of `shown` is on screen as text."""
    screenshot(page, artifacts / f"hostile-{name}.png")
    page.wait_for_timeout(300)  # an image request would be on its way by now
    assert listener.requests == []
    anchors: list[str] = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    host = listener.url.removeprefix("http://")
    assert [a for a in anchors if host in a or "re-enter" in a] == []
    sources: list[str] = page.evaluate("() => [...document.querySelectorAll('img[src]')].map(i => i.src)")
    assert [s for s in sources if host in s] == []
    text: str = page.evaluate("() => document.body.innerText.replace(/\\u2060/g, '')")
    for literal in shown:
        assert literal in text, f"{literal!r} is not shown as text on {name}"


def test_rancher_text_stays_text_on_every_screen(
    page: Page, app: AppServer, rancher: SimulatedRancher, listener: Listener, artifacts: Path
) -> None:
    user, cluster = hostile(listener.url, "USERNAME"), hostile(listener.url, "CLUSTERNAME")
    forbidden, failing = hostile(listener.url, "FORBIDDEN"), hostile(listener.url, "SERVERERROR")

    open_page(page, app.url)
    assert_inert(page, listener, shown=[user], artifacts=artifacts, name="overview")

    # Sites: the user's display name, then a connection test refused with a hostile body (flash and caption).
    open_page(page, app.page_url("Sites"))
    assert_inert(page, listener, shown=[user], artifacts=artifacts, name="sites")
    refused = hostile(listener.url, "TESTERROR")
    rancher.fail_next(r"^/v3", 403, norman_error(403, "PermissionDenied", refused), count=50)
    click(page, "site_test_1")
    rancher.clear_faults()
    expect(page.get_by_text("TESTERROR").first).to_be_visible()
    assert_inert(page, listener, shown=[user, refused], artifacts=artifacts, name="sites-test-failed")
    click(page, "site_remove_1")  # the confirmation lists the app instances with their clusters' names
    assert_inert(page, listener, shown=[cluster], artifacts=artifacts, name="sites-remove")
    page.keyboard.press("Escape")

    # App instances: the clusters picked from Rancher, and the 403 of a cluster when its namespaces are read.
    open_page(page, app.page_url("App instances"))
    click(page, "inst_add")
    assert_inert(page, listener, shown=[], artifacts=artifacts, name="instances-add")
    choose(page, "add_inst_cluster_1", "denied")
    expect(page.get_by_text("FORBIDDEN").first).to_be_visible()
    assert_inert(page, listener, shown=[forbidden], artifacts=artifacts, name="instances-forbidden")

    # Services: the review of a sync Dev → Stage, whose target image holds backticks, `|` and an image.
    open_page(page, app.page_url("Services"))
    select_rows(page, [0, 1])
    click(page, "svc_review")
    dialog = page.locator("[data-testid='stDialog']")
    dialog.get_by_text("Copy as Markdown").click()
    ticket = dialog.locator("[data-testid='stCode']")
    expect(ticket).to_contain_text("Current image")
    # The hostile current image is one table cell: a fence longer than its backticks, its `|` escaped.
    assert f"``registry.example.com/shop/api:`x`\\|![x]({listener.url}/pixel)``" in ticket.inner_text()
    assert_inert(page, listener, shown=[], artifacts=artifacts, name="sync-review")
    by_key(dialog, "sync_mode").get_by_text("Tag only").click()  # now the target image is parsed, and refused
    wait_idle(page)
    expect(ticket).to_contain_text("invalid image")
    assert "\\!\\[x\\]\\(http\u2060\\:" in (ticket.text_content() or "")  # the skip detail, as escaped text
    assert_inert(page, listener, shown=[], artifacts=artifacts, name="sync-review-tag")
    page.keyboard.press("Escape")

    # Services of the environment whose two app instances refuse: each with Rancher's words.
    choose(page, "sidebar_environment", "Broken")
    # Reading a Rancher that answers 500 retries within its deadline first: slow on a loaded machine.
    expect(page.get_by_text("SERVERERROR").first).to_be_visible(timeout=30_000)
    assert_inert(page, listener, shown=[forbidden, failing], artifacts=artifacts, name="services-unreadable")
