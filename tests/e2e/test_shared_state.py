"""State you can share, in Chromium on the demo (issue 20, item 5): a dark theme chosen in Settings holds on a cold
deep link to another page (in the same browser, and in a new one), and a link to a filtered comparison or history
reopens it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.helpers import AppServer, background_luminance, by_key, new_page, open_page, screenshot, wait_idle

pytestmark = pytest.mark.browser

_DARK = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    return app && getComputedStyle(app).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)
        .reduce((a, b) => a + b) < 150;
}"""


def test_a_dark_theme_chosen_in_settings_holds_on_a_cold_deep_link(
        browser: Browser, demo_app: AppServer, artifacts: Path) -> None:
    page = new_page(browser)  # the browser prefers light
    open_page(page, f"{demo_app.url}/Settings")
    assert background_luminance(page) > 0.8
    by_key(page, "prefs_theme").locator("button", has_text="Dark").click()
    by_key(page, "prefs_save").locator("button").click()
    page.wait_for_function(_DARK, timeout=20_000)  # the page reloads once, into the chosen theme
    wait_idle(page)
    assert background_luminance(page) < 0.2, "the page the theme was chosen on"
    screenshot(page, artifacts / "settings-theme-dark.png")

    link = demo_app.page_url("Sync history") + "?status=complete"
    cold = page.context.new_page()  # a new tab: nothing of the app loaded yet
    open_page(cold, link)
    assert background_luminance(cold) < 0.2, "a cold deep link to another page opens dark"
    assert cold.evaluate("() => performance.getEntriesByType('navigation')[0].type") == "navigate", "no reload"
    expect(by_key(cold, "hist_status").locator("input")).to_have_value("complete")  # the link's filter, too
    screenshot(cold, artifacts / "history-deep-link-dark-theme.png")

    page.context.close()

    elsewhere = new_page(browser)  # another browser the person signs in from: the setting follows them
    open_page(elsewhere, link)
    elsewhere.wait_for_function(_DARK, timeout=20_000)  # after the one reload a new browser needs
    wait_idle(elsewhere)
    assert background_luminance(elsewhere) < 0.2

    open_page(elsewhere, f"{demo_app.url}/Settings")  # back to the browser's own theme
    by_key(elsewhere, "prefs_theme").locator("button", has_text="The browser's").click()
    by_key(elsewhere, "prefs_save").locator("button").click()
    elsewhere.wait_for_function(f"() => !({_DARK})()", timeout=20_000)
    wait_idle(elsewhere)
    again = elsewhere.context.new_page()
    open_page(again, link)
    assert background_luminance(again) > 0.8, "the browser prefers light: every page follows it again"
    elsewhere.context.close()


def test_a_link_to_a_filtered_comparison_reopens_it(browser: Browser, demo_app: AppServer, artifacts: Path) -> None:
    page = new_page(browser)
    open_page(page, demo_app.page_url("Services") + "?view=compare&compare=Stage&compare=Prod&q=checkout&by=tag")
    expect(by_key(page, "cmp_search").locator("input")).to_have_value("checkout")
    expect(by_key(page, "cmp_envs")).to_contain_text("Stage")
    expect(by_key(page, "cmp_envs")).not_to_contain_text("Dev")
    expect(by_key(page, "sidebar_environment").locator("input")).to_have_value("Prod")  # moved into the comparison
    assert "env=Prod" in page.url and "q=checkout" in page.url, "the address still reopens this view"
    screenshot(page, artifacts / "services-compare-deep-link-light.png")
    page.context.close()
