"""Nothing hides under Streamlit's top bar: the History's CSV and Metrics JSON buttons, and a flash message at the
top of a page (here the warning that an app instance's namespace will be created later, saved from the form), are
drawn wholly below the header, in both themes. Screenshots kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import AppServer, by_key, click, fill, new_page, open_page, screenshot, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture
def app(demo_app: AppServer) -> AppServer:
    """The app on the demo (tests/e2e/conftest.py)."""
    return demo_app


def header_bottom(page: Page) -> float:
    """Where Streamlit's fixed top bar ends, in viewport pixels."""
    box = page.locator("[data-testid='stHeader']").bounding_box()
    assert box is not None and box["height"] > 0, "the top bar is drawn"
    return box["y"] + box["height"]


def assert_below_header(page: Page, element: Locator, what: str) -> None:
    """The element's whole box is below the top bar at the page's top (not scrolled)."""
    page.evaluate("window.scrollTo(0, 0)")
    box = element.bounding_box()
    assert box is not None, f"{what} is drawn"
    assert box["y"] >= header_bottom(page), f"{what} starts at {box['y']} px, under the top bar"


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_history_downloads_are_below_the_top_bar(
    browser: Browser, app: AppServer, artifacts: Path, dark: bool
) -> None:
    page = new_page(browser, dark=dark)
    open_page(page, app.page_url("Sync history"))

    for key, label in (("hist_csv", "History CSV"), ("hist_json", "Metrics JSON")):
        button = by_key(page, key).locator("button")
        expect(button).to_contain_text(label)
        assert_below_header(page, button, label)
    assert_below_header(page, page.locator("h1").first, "the page's title")
    screenshot(page, artifacts / f"top-bar-history-{'dark' if dark else 'light'}.png")
    page.context.close()


def test_a_flash_message_at_the_top_of_a_page_is_below_the_top_bar(
    browser: Browser, app: AppServer, artifacts: Path
) -> None:
    page = new_page(browser)
    open_page(page, app.page_url("App instances"))
    click(page, "inst_add")
    dialog = page.locator("[data-testid='stDialog']")
    namespace = dialog.locator("[class*='st-key-add_inst_ns_'] [role='combobox']").first
    namespace.click()
    page.locator("[role='option']", has_text="Another namespace").first.click()
    wait_idle(page)
    fill(page, "add_inst_ns_new", "shop-canary")
    click(page, "add_inst_save")
    expect(dialog).to_contain_text("does not exist on cluster")  # refused, said under the namespace
    screenshot(page, artifacts / "add-instance-namespace-refused.png")
    by_key(page, "add_inst_ns_later").locator("label").click()
    wait_idle(page)
    click(page, "add_inst_save")

    flash = page.locator("[data-testid='stAlert']", has_text="will show no services until it is created").first
    expect(flash).to_be_visible()
    assert_below_header(page, flash, "the flash message")
    screenshot(page, artifacts / "top-bar-flash.png")
    page.context.close()
