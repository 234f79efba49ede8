"""Sync history in a real browser, on the built-in demo: a sync (through the core, for speed) then its rollback from
the history's own button (typed "Prod", its live page, the flash when it ends), and both operations listed;
screenshots in both themes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.models import SyncOperation
from ranchersync.ops import demo
from ranchersync.sync import Confirmation, SyncOptions, apply_plan, get_operation, new_request_id, plan_environments
from tests.e2e.conftest import Serve
from tests.e2e.helpers import AppServer, by_key, click, fill, new_page, open_page, screenshot, wait_idle

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Demo:
    """The app on the demo, the sync the fixture made, and how many operations the history then holds."""

    app: AppServer
    sync_id: int
    operations: int


@pytest.fixture
def server(serve: Serve) -> Iterator[Demo]:
    """The app on the demo (Dev → Stage → Prod, Prod protected), with one sync of frontend into Prod done."""
    app = serve()
    ctx: AppContext = app.context()
    demo.start_demo(ctx)
    with ctx.session() as session:
        plan = plan_environments(session, ctx.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={("Deployment", "frontend"): "all"})
    sync_id = apply_plan(ctx, plan, actor=Actor("e2e", "admin", "cli"), request_id=new_request_id(),
                         options=SyncOptions(timeout_seconds=60, poll_seconds=0.5),
                         confirmed=Confirmation(confirm_env="Prod"))
    with ctx.session() as session:  # the demo comes with a few weeks of history: ours is the newest of them
        operations = session.scalar(select(func.count()).select_from(SyncOperation)) or 0
    yield Demo(app, sync_id, operations)
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


def test_roll_back_a_sync_from_the_history_and_find_both(browser: Browser, server: Demo, artifacts: Path) -> None:
    total, sync_id, app = server.operations, server.sync_id, server.app
    page = new_page(browser)
    open_page(page, app.page_url("Sync history"))
    # The first page of the history (its size is the person's rows-per-page) out of all operations.
    expect(page.locator("[data-testid='stCaptionContainer']", has_text=f" of {total} operations")).to_be_visible()
    select_first_row(page)
    detail = by_key(page, "hist_detail")
    expect(detail).to_contain_text(f"Sync #{sync_id}")
    expect(detail).to_contain_text("by e2e")  # the results table is drawn on a canvas: its cells are not text

    click(page, "hist_rollback")
    dialog = page.locator("[data-testid='stDialog']")
    expect(dialog).to_contain_text("2 containers in Prod will go back")
    expect(by_key(page, "rollback_apply").locator("button")).to_be_disabled()
    fill(page, "rollback_confirm", "Prod")
    by_key(page, "rollback_apply").locator("button").click()
    # The rollback runs on the server: the dialog closes at once on the rollback's live page.
    rollback_id = sync_id + 1
    expect(dialog).to_have_count(0)
    page.wait_for_url(lambda url: url.endswith(f"?operation={rollback_id}"))
    expect(by_key(page, "hist_detail")).to_contain_text(f"Rollback #{rollback_id}")
    # The demo's rollouts take a few seconds each; the live panel turns into the record and says how it ended.
    expect(page.locator("[data-testid='stToast']", has_text=f"Rollback #{rollback_id} of #{sync_id} in Prod: complete")
           ).to_be_visible(timeout=90_000)
    expect(by_key(page, "live_operation")).to_have_count(0)
    expect(page.locator("[data-testid='stCaptionContainer']", has_text=f" of {total + 1} operations")).to_be_visible()
    ctx = app.context()
    try:
        with ctx.session() as session:
            assert get_operation(session, sync_id).status == "rolled_back"
            rollback = get_operation(session, rollback_id)
            assert rollback.kind == "rollback" and rollback.status == "complete"
    finally:
        ctx.engine.dispose()
    select_first_row(page)
    expect(by_key(page, "hist_detail")).to_contain_text(f"Rollback #{rollback_id}")
    page.wait_for_timeout(4500)  # let the toast go
    screenshot(page, artifacts / "history-light.png")
    page.get_by_role("tab", name="Metrics").click()
    wait_idle(page)
    screenshot(page, artifacts / "history-metrics-light.png")
    page.context.close()

    dark = new_page(browser, dark=True)
    open_page(dark, app.page_url("Sync history"))
    select_first_row(dark)
    screenshot(dark, artifacts / "history-dark.png")
    dark.get_by_role("tab", name="Metrics").click()
    wait_idle(dark)
    screenshot(dark, artifacts / "history-metrics-dark.png")
    dark.context.close()
