"""Sync history in a real browser, on the built-in demo: a sync (through the core, for speed) then its rollback from
the history's own button (typed "Prod", progress, flash), and both operations listed; screenshots in both themes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ranchersync import demo
from ranchersync.context import AppContext
from ranchersync.governance.identity import Actor
from ranchersync.sync import SyncOptions, apply_plan, get_operation, new_request_id, plan_environments
from tests.e2e.conftest import Serve
from tests.e2e.helpers import AppServer, by_key, click, fill, new_page, open_page, screenshot, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture
def server(serve: Serve) -> Iterator[AppServer]:
    """The app on the demo (Dev → Stage → Prod, Prod protected), with one sync of frontend into Prod done."""
    app = serve()
    ctx: AppContext = app.context()
    demo.start_demo(ctx)
    with ctx.session() as session:
        plan = plan_environments(session, ctx.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={("Deployment", "frontend"): "all"})
    apply_plan(ctx, plan, actor=Actor("e2e", "admin", "cli"), request_id=new_request_id(), confirm_env="Prod",
               options=SyncOptions(timeout_seconds=60, poll_seconds=0.5))
    yield app
    demo.stop_demo(ctx)
    ctx.engine.dispose()


def select_first_row(page: Page) -> None:
    """Tick the newest operation in the (canvas-drawn) table: the first row under a 35 px header."""
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)
    wait_idle(page)


def test_roll_back_a_sync_from_the_history_and_find_both(browser: Browser, server: AppServer, artifacts: Path) -> None:
    page = new_page(browser)
    open_page(page, server.page_url("Sync history"))
    expect(page.locator("[data-testid='stCaptionContainer']", has_text="1–1 of 1 operation")).to_be_visible()
    select_first_row(page)
    detail = by_key(page, "hist_detail")
    expect(detail).to_contain_text("Sync #1")
    expect(detail).to_contain_text("by e2e")  # the results table is drawn on a canvas: its cells are not text

    click(page, "hist_rollback")
    dialog = page.locator("[data-testid='stDialog']")
    expect(dialog).to_contain_text("2 containers in Prod will go back")
    expect(by_key(page, "rollback_apply").locator("button")).to_be_disabled()
    fill(page, "rollback_confirm", "Prod")
    by_key(page, "rollback_apply").locator("button").click()
    expect(dialog.locator("[data-testid='stExpander']", has_text="Rolling back #1 in Prod")).to_be_visible()
    wait_idle(page, timeout=90_000)  # the demo's rollouts take a few seconds each

    expect(dialog).to_have_count(0)
    expect(page.locator("[data-testid='stToast']", has_text="Rollback #2 of #1 in Prod: complete")).to_be_visible()
    expect(page.locator("[data-testid='stCaptionContainer']", has_text="1–2 of 2 operations")).to_be_visible()
    ctx = server.context()
    try:
        with ctx.session() as session:
            assert get_operation(session, 1).status == "rolled_back"
            assert get_operation(session, 2).kind == "rollback" and get_operation(session, 2).status == "complete"
    finally:
        ctx.engine.dispose()
    select_first_row(page)
    expect(by_key(page, "hist_detail")).to_contain_text("Rollback #2")
    page.wait_for_timeout(4500)  # let the toast go
    screenshot(page, artifacts / "history-light.png")
    page.get_by_role("tab", name="Metrics").click()
    wait_idle(page)
    screenshot(page, artifacts / "history-metrics-light.png")
    page.context.close()

    dark = new_page(browser, dark=True)
    open_page(dark, server.page_url("Sync history"))
    select_first_row(dark)
    screenshot(dark, artifacts / "history-dark.png")
    dark.get_by_role("tab", name="Metrics").click()
    wait_idle(dark)
    screenshot(dark, artifacts / "history-metrics-dark.png")
    dark.context.close()
