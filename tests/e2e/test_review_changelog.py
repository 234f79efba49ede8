"""Issue 22 in a real browser: the review of a sync from Stage to Prod, whose images live in a real registry
(docker-registry on 127.0.0.1), shows the changelog ("commits a1b2c3d → e4f5a6b") with its compare link and the
pin toggle on for protected Prod; the Quarantine screen lists a quarantined digest with where it runs. Screenshots of
both, in both themes, are kept as artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ranchersync.context import AppContext
from ranchersync.governance import quarantine
from ranchersync.kernel.config import Settings
from tests.builders import ADMIN
from tests.core.registry_fixtures import REV_NEW, REV_OLD, SOURCE, Registries
from tests.e2e.conftest import Serve
from tests.e2e.helpers import AppServer, by_key, click, new_page, open_page, screenshot, wait_idle
from tests.e2e.registry_world import registry_shop
from tests.e2e.test_sync import select_rows, stage_and_prod

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.core.registry_fixtures"]


@pytest.fixture
def server(ctx: AppContext, settings: Settings, registries: Registries, serve: Serve,
           tmp_path: Path) -> Iterator[AppServer]:
    """The app on Stage → Prod (protected) whose images are in the test registry."""
    with registry_shop(ctx, registries):
        yield serve(database=tmp_path / "ranchersync.db", secret_key=settings.secret_keys[0])


def open_review(page: Page, server: AppServer, ctx: AppContext) -> None:
    """The comparison of Stage and Prod, web selected, the review open (its registries resolved)."""
    open_page(page, f"{server.page_url('Services')}?view=compare")
    rows = list(stage_and_prod(ctx).view()["Service"])
    select_rows(page, [rows.index("web")])
    expect(by_key(page, "cmp_sync")).to_contain_text("Sync 1 service (web)")
    click(page, "cmp_review")
    expect(by_key(page, "sync_changelog")).to_be_visible(timeout=30_000)
    wait_idle(page)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_review_shows_the_changelog(browser: Browser, server: AppServer, ctx: AppContext, artifacts: Path,
                                        theme: str) -> None:
    page = new_page(browser, dark=theme == "dark")
    open_review(page, server, ctx)

    changelog = by_key(page, "sync_changelog")
    expect(changelog).to_contain_text("commits a1b2c3d → e4f5a6b")
    expect(changelog.get_by_role("link", name="compare")).to_have_attribute(
        "href", f"{SOURCE}/compare/{REV_OLD}...{REV_NEW}")
    expect(by_key(page, "sync_pin").locator("input")).to_be_checked()  # Prod is protected
    screenshot(page, artifacts / f"sync-review-changelog-{theme}.png")
    click(page, "sync_cancel")
    page.context.close()


def test_the_quarantine_screen_says_where_it_runs(browser: Browser, server: AppServer, ctx: AppContext,
                                                  registries: Registries, artifacts: Path) -> None:
    with ctx.session() as session:
        quarantine.add(session, f"{registries.anonymous}/shop/web@{registries.images['shop/web:2.4.0']}",
                       reason="CVE-2026-0001 in libfoo", actor=ADMIN)
    page = new_page(browser)
    open_page(page, server.page_url("Quarantine"))
    card = by_key(page, "quarantine_1")
    expect(card).to_contain_text("CVE-2026-0001 in libfoo")
    expect(card).to_contain_text("Runs now in 1 place")
    screenshot(page, artifacts / "quarantine-light.png")
    page.context.close()
