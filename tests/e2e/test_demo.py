"""The issue's "done when": on an empty install, the first-visit dialog starts the demo, and within a minute the
sites, environments and app instances are there, in both themes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from ranchersync.context import AppContext
from ranchersync.ops import demo
from tests.e2e.conftest import Serve
from tests.e2e.helpers import AppServer, by_key, new_page, open_page, screenshot, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture
def server(serve: Serve) -> Iterator[AppServer]:
    """An app on an empty database whose demo servers are stopped at the end."""
    app = serve()
    yield app
    ctx: AppContext = app.context()
    demo.stop_demo(ctx)
    ctx.engine.dispose()


def test_the_demo_fills_every_screen_within_a_minute(browser: Browser, server: AppServer, artifacts: Path) -> None:
    page = new_page(browser)
    open_page(page, server.url)
    started = time.monotonic()

    page.get_by_role("tab", name="Try the demo").click()
    by_key(page, "welcome_demo").locator("button").click()
    toast = page.locator("[data-testid='stToast']", has_text="The demo is ready")
    expect(toast).to_be_visible(timeout=60_000)
    wait_idle(page)
    assert time.monotonic() - started < 60

    expect(page.locator("[data-testid='stDialog']")).to_have_count(0)
    expect(page.locator("[data-testid='stMetric']", has_text="Sites")).to_contain_text("2 active")
    expect(page.locator("[data-testid='stMetric']", has_text="Environments").first).to_contain_text("3")
    for theme in ("light", "dark"):
        themed = new_page(browser, dark=theme == "dark")
        for label in ("Overview", "Sites", "Environments", "App instances"):
            open_page(themed, server.page_url(label))
            expect(themed.locator("[data-testid='stException']")).to_have_count(0)
            screenshot(themed, artifacts / f"demo-{label.lower().replace(' ', '-')}-{theme}.png")
        themed.context.close()
    page.context.close()
