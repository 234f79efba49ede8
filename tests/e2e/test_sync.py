"""The issue's "done when", in a real browser on the built-in demo: compare Stage and Prod, select two services
that differ, review the sync, type "Prod" (protected in the demo), apply, and see them equal afterwards. The review
is taken in the dark theme first (then cancelled), the apply in the light one; screenshots are kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.inventory import compare
from ranchersync.inventory import reading as inventory
from ranchersync.models import SyncOperation
from tests.e2e.helpers import AppServer, by_key, click, fill, new_page, open_page, screenshot, wait_idle
from ui.shell import comparison_table

pytestmark = pytest.mark.browser

SERVICES = ("frontend", "ledger")  # frontend runs in two app instances of Prod, ledger in one


@pytest.fixture
def server(demo_app: AppServer) -> AppServer:
    """The app on the demo (tests/e2e/conftest.py): Dev → Stage → Prod with Prod protected."""
    return demo_app


def stage_and_prod(ctx: AppContext) -> comparison_table.ComparisonTable:
    """What the app will show: Stage and Prod compared, read through the core."""
    with ctx.session() as session:
        envs = [environments.get_environment(session, name) for name in ("Stage", "Prod")]
        found = inventory.list_inventories(session, ctx.cipher, envs)
    refs = [inventory.EnvironmentRef.of(e) for e in envs]
    return comparison_table.comparison_table(compare.compare(refs, found), found)


def open_comparison(page: Page, server: AppServer) -> None:
    """The Services screen, compare view, Stage and Prod only, only the differences."""
    open_page(page, server.page_url("Services"))
    by_key(page, "svc_view").get_by_role("radio").nth(1).click()
    wait_idle(page)
    by_key(page, "cmp_envs").get_by_role("button", name="Remove Dev").first.click()
    wait_idle(page)
    by_key(page, "cmp_only").locator("label").click()
    wait_idle(page)
    expect(page.locator("[data-testid='stCaptionContainer']", has_text="differ between Stage, Prod")).to_be_visible()


def select_rows(page: Page, positions: list[int]) -> None:
    """Tick rows of the (canvas-drawn) table by position: 35 px per row under a 35 px header."""
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    for position in positions:
        page.mouse.click(box["x"] + 16, box["y"] + 35 + 35 * position + 17)
        wait_idle(page)


def review(page: Page, server: AppServer) -> None:
    """Select the two services in the comparison and open the review."""
    open_comparison(page, server)
    ctx = server.context()
    try:
        shown = stage_and_prod(ctx).view(only_differences=True)
    finally:
        ctx.engine.dispose()
    select_rows(page, [list(shown["Service"]).index(name) for name in SERVICES])
    expect(by_key(page, "cmp_sync")).to_contain_text("Sync 2 services (frontend, ledger)")
    click(page, "cmp_review")
    dialog = page.locator("[data-testid='stDialog']")
    expect(dialog).to_contain_text("3 workloads will change in Prod")
    both = "Both: shop (prod-us-east), shop (prod-us-west)"  # the default when several app instances run one
    expect(by_key(page, "sync_target_Deployment_frontend").get_by_role("combobox")).to_have_value(both)


def test_promote_two_services_from_stage_to_protected_prod(
    browser: Browser, server: AppServer, artifacts: Path
) -> None:
    dark = new_page(browser, dark=True)
    review(dark, server)
    by_key(dark, "sync_apply").scroll_into_view_if_needed()
    screenshot(dark, artifacts / "sync-dialog-dark.png")
    click(dark, "sync_cancel")
    expect(dark.locator("[data-testid='stDialog']")).to_have_count(0)
    dark.context.close()

    page = new_page(browser)
    review(page, server)
    dialog = page.locator("[data-testid='stDialog']")
    expect(by_key(page, "sync_apply").locator("button")).to_be_disabled()
    screenshot(page, artifacts / "sync-dialog-light.png")

    fill(page, "sync_confirm", "Prod")
    by_key(page, "sync_apply").locator("button").click()
    # The sync runs on the server: the browser lands on its live page at once (the demo's rollouts take 6 s).
    page.wait_for_url(re.compile(r"/Sync_history\?operation=\d+$"))
    newest = int(page.url.rsplit("=", 1)[1])
    ctx = server.context()
    try:
        with ctx.session() as session:  # the newest operation, after the demo's few weeks of history
            assert newest == session.scalar(select(func.max(SyncOperation.id)))
    finally:
        ctx.engine.dispose()
    expect(dialog).to_have_count(0)
    expect(by_key(page, "live_operation")).to_contain_text("Running")
    expect(by_key(page, "hist_detail")).to_contain_text(f"Sync #{newest}")
    expect(by_key(page, "hist_detail")).to_be_in_viewport()  # the page opens on it
    wait_idle(page)
    screenshot(page, artifacts / "sync-live-light.png")
    expect(page.locator("[data-testid='stToast']", has_text=f"Sync #{newest} complete: 3 workloads updated in Prod.")
           ).to_be_visible(timeout=90_000)
    expect(by_key(page, "live_operation")).to_have_count(0)
    expect(by_key(page, "hist_detail")).to_contain_text("complete")
    screenshot(page, artifacts / "sync-report-light.png")
    open_comparison(page, server)
    for name in SERVICES:  # equal now, so "only differences" leaves them out
        fill(page, "cmp_search", name)
        expect(page.locator("[data-testid='stAlert']", has_text="No service matches.")).to_be_visible()

    ctx = server.context()
    try:
        after = stage_and_prod(ctx)
    finally:
        ctx.engine.dispose()
    for name in SERVICES:
        assert not after.differs[f"Deployment/{name}"]
        assert after.text.loc[f"Deployment/{name}", "Stage"] == after.text.loc[f"Deployment/{name}", "Prod"]
    page.context.close()
