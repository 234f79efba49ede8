"""The Services screen in a real browser, on the showcase world: one environment's table with its filters, the
comparison, and the service counts on the Overview, in both themes; the screenshots are kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, expect

from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.simulator import SimulatedRancher
from tests.e2e.conftest import Serve
from tests.e2e.helpers import AppServer, by_key, fill, new_page, open_page, screenshot, wait_idle
from tests.e2e.test_sync import open_comparison, select_rows
from tests.e2e.world import seed_showcase

pytestmark = pytest.mark.browser


def caption(page: Page, text: str) -> None:
    expect(page.locator("[data-testid='stCaptionContainer']", has_text=text).first).to_be_visible()


def test_the_services_table_the_comparison_and_the_overview_counts(
    browser: Browser, simulated_rancher: SimulatedRancher, serve: Serve, artifacts: Path, tmp_path: Path
) -> None:
    database, key = tmp_path / "showcase.db", Fernet.generate_key().decode()
    ctx = AppContext(Settings(f"sqlite:///{database}", (key,), tmp_path / "secret.key", "e2e"))
    ctx.upgrade_database()
    seed_showcase(ctx, simulated_rancher)
    with ctx.session() as session:
        dev = environments.get_environment(session, "Dev").id
    ctx.engine.dispose()
    server = serve(database, key)
    secret = simulated_rancher.token.split(":")[1]

    for theme in ("light", "dark"):
        page = new_page(browser, dark=theme == "dark")
        open_page(page, server.url)
        expect(page.locator("[data-testid='stMetric']", has_text="Services")).to_have_count(3)

        open_page(page, server.page_url("Services"))
        caption(page, "4 services")
        caption(page, "Data as of")
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        if theme == "light":
            select_rows(page, [0])
            expect(by_key(page, "svc_sync")).to_contain_text("Sync 1 service (api)")
        screenshot(page, artifacts / f"services-table-{theme}.png")
        fill(page, f"svc_search_{dev}", "api")
        caption(page, "2 of 4 services")

        by_key(page, "svc_view").get_by_role("radio").nth(1).click()
        wait_idle(page)
        caption(page, "2 of 2 services differ between Dev, Stage, Prod.")
        expect(by_key(page, "cmp_sync")).to_contain_text("Select services below")
        screenshot(page, artifacts / f"services-compare-{theme}.png")
        assert secret not in page.content()
        page.context.close()


@pytest.fixture
def demo_server(demo_app: AppServer) -> AppServer:
    """The app on the built-in demo (tests/e2e/conftest.py)."""
    return demo_app


def test_a_sidecar_difference_shows_in_the_comparison_without_a_review(
    browser: Browser, demo_server: AppServer, artifacts: Path
) -> None:
    """The demo's redis runs 7.2.4 in Stage and Prod; only its exporter sidecar differs: the cell says so, with no
    review opened. The CronJobs sit apart, in a table that cannot be selected."""
    for theme in ("light", "dark"):
        page = new_page(browser, dark=theme == "dark")
        open_comparison(page, demo_server)
        # The canvas-drawn grid keeps an accessible table of its cells: what a screen reader, and this test, read.
        grid = page.locator("[data-testid='stDataFrame']").first
        cells = grid.locator("td[role='gridcell']")
        expect(cells.filter(has_text=re.compile(r"^7\.2\.4 · ≠ sidecar differs$"))).to_have_count(1)
        expect(page.locator("[data-testid='stCaptionContainer']", has_text="≠: the shown tag is the same")
               ).to_be_visible()
        screenshot(page, artifacts / f"services-compare-explained-{theme}.png")

        by_key(page, "cmp_only").locator("label").click()  # every service: the CronJobs too (equal here)
        wait_idle(page)
        readonly = by_key(page, "cmp_readonly")
        expect(readonly).to_contain_text("Not promoted by this tool (CronJob)")
        expect(readonly.locator("td[role='gridcell']").filter(has_text=re.compile("^nightly-report$"))
               ).to_have_count(1)
        expect(cells.filter(has_text=re.compile("^nightly-report$"))).to_have_count(0)
        page.context.close()
