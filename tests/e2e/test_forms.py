"""Forms that help, in a real browser: an empty Add site form says every missing field at once, each error drawn
right under its own field (between it and the next one). Screenshot kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, FloatRect, Locator, expect

from tests.e2e.conftest import Serve
from tests.e2e.helpers import by_key, click, new_page, open_page, screenshot

pytestmark = pytest.mark.browser


def _box(locator: Locator) -> FloatRect:
    found = locator.bounding_box()
    assert found is not None, "drawn"
    return found


def test_an_empty_add_site_form_shows_each_error_under_its_field(
    browser: Browser, serve: Serve, artifacts: Path
) -> None:
    app = serve()
    page = new_page(browser)
    open_page(page, app.page_url("Sites"))
    welcome = page.locator("[data-testid='stDialog']")
    if welcome.count():  # the first visit offers its own form: close it, use the page's button
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
    click(page, "site_add")

    click(page, "add_site_save")

    dialog = page.locator("[data-testid='stDialog']")
    expect(dialog).to_contain_text("3 fields need a change")
    errors = {text: dialog.get_by_text(text, exact=False) for text in (
        "the site name must not be empty", "the Rancher URL must not be empty", "the API token must not be empty")}
    for where in errors.values():
        expect(where).to_be_visible()
    screenshot(page, artifacts / "add-site-every-error-under-its-field.png")

    name, url, token = (_box(by_key(dialog, f"add_site_{f}").locator("input")) for f in ("name", "url", "token"))
    name_error, url_error, token_error = (_box(e) for e in errors.values())
    assert name["y"] + name["height"] <= name_error["y"] < token["y"], "the name's error is under the name"
    assert abs(name_error["x"] - name["x"]) < 20, "in the name's column"
    assert url["y"] + url["height"] <= url_error["y"] < token["y"] and abs(url_error["x"] - url["x"]) < 20
    assert token["y"] + token["height"] <= token_error["y"], "the token's error is under the token"
    page.context.close()
