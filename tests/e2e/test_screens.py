"""Every screen, filled through the core against a simulated Rancher, in the light and the dark theme; the
screenshots are kept in test-artifacts/screenshots."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, expect

from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.simulator import SimulatedRancher
from tests.e2e.conftest import Serve
from tests.e2e.helpers import PAGE_PATHS, background_luminance, new_page, open_page, screenshot
from tests.e2e.world import seed_showcase

TITLES = {"Display": "Delivery pipeline"}  # the wall display's title says what a room reads on it

pytestmark = pytest.mark.browser


def test_every_screen_reads_in_both_themes(
    browser: Browser, simulated_rancher: SimulatedRancher, serve: Serve, artifacts: Path, tmp_path: Path
) -> None:
    database, key = tmp_path / "showcase.db", Fernet.generate_key().decode()
    ctx = AppContext(Settings(f"sqlite:///{database}", (key,), tmp_path / "secret.key", "e2e"))
    ctx.upgrade_database()
    seed_showcase(ctx, simulated_rancher)
    ctx.engine.dispose()
    server = serve(database, key)

    for theme in ("light", "dark"):
        page = new_page(browser, dark=theme == "dark")
        for label in PAGE_PATHS:
            open_page(page, server.page_url(label))

            expect(page.locator("h1").first).to_have_text(TITLES.get(label, label))
            expect(page.locator("[data-testid='stException']")).to_have_count(0)
            expect(page.locator("[data-testid='stDialog']")).to_have_count(0)
            luminance = background_luminance(page)
            assert (luminance > 0.8) if theme == "light" else (luminance < 0.2), (label, theme, luminance)
            assert simulated_rancher.token.split(":")[1] not in page.content()
            screenshot(page, artifacts / f"{label.lower().replace(' ', '-')}-{theme}.png")
        page.context.close()
