"""DESIGN.md's check of the classic multipage layout: a deep link that arrives first after a server start gets the
frame and the menu, for that visitor and for the next ones."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Serve
from tests.e2e.helpers import PAGE_PATHS, new_page, open_page

pytestmark = pytest.mark.browser


def test_a_deep_link_first_after_a_start_gets_the_frame(browser: Browser, serve: Serve) -> None:
    server = serve()

    for label in ("Services", "Sites"):  # the first request after the start, then a second visitor
        page = new_page(browser)
        open_page(page, server.page_url(label))

        expect(page.locator("h1").first).to_have_text(label)
        menu = page.locator("[data-testid='stSidebar'] a")
        # Each link's text starts with its icon's ligature name (e.g. "dnsSites").
        # The menu in its sections, the empty pipeline's call to action, then the person's Settings.
        expected = [*PAGE_PATHS, "Create the pipeline", "Settings"]
        expect(menu).to_have_text([re.compile(f"{label}$") for label in expected])
        expect(page.locator("[data-testid='stDialog']")).to_contain_text("Welcome to Rancher Sync Manager")
        page.context.close()
