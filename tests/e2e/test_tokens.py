"""API tokens on the People page in a real browser: an admin creates one and sees its secret once (a screenshot is
kept in test-artifacts/screenshots), and that secret authenticates."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, expect

from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.people import tokens
from tests.builders import ADMIN
from tests.e2e.conftest import Serve
from tests.e2e.helpers import by_key, click, fill, new_page, open_page, screenshot, wait_idle

pytestmark = pytest.mark.browser


def test_an_admin_creates_a_token_and_copies_its_secret(browser: Browser, serve: Serve, artifacts: Path,
                                                        tmp_path: Path) -> None:
    database, key = tmp_path / "tokens.db", Fernet.generate_key().decode()
    ctx = AppContext(Settings(f"sqlite:///{database}", (key,), tmp_path / "secret.key", "e2e"))
    ctx.upgrade_database()
    with ctx.session() as session:
        for name in ("Dev", "Stage", "Prod"):
            environments.add_environment(session, name=name, protected=name == "Prod", actor=ADMIN)
        tokens.create_token(session, ADMIN, name="nightly-report", role="viewer", expires_days=365)
    ctx.engine.dispose()
    server = serve(database, key)

    page = new_page(browser)
    open_page(page, server.page_url("People"))
    dialog = page.locator("[data-testid='stDialog']")
    expect(dialog).to_contain_text("Welcome")  # no site yet: the first-visit dialog, closed as a user would
    page.keyboard.press("Escape")
    wait_idle(page)
    click(page, "token_create_open")
    fill(page, "token_name", "ci-promote-prod")
    by_key(page, "token_envs").locator("[role='combobox']").click()
    page.locator("[role='option']", has_text="Prod").first.click()
    page.keyboard.press("Escape")
    wait_idle(page)
    expect(dialog).to_be_visible()
    click(page, "token_create_confirm")
    expect(dialog).to_have_count(0)

    issued = by_key(page, "token_issued")
    expect(issued).to_contain_text("not shown again")
    secret = issued.locator("pre code").first.inner_text().strip()
    by_key(page, "tokens_actions").scroll_into_view_if_needed()
    screenshot(page, artifacts / "people-api-tokens.png")
    assert secret.startswith(tokens.TOKEN_PREFIX), secret
    check = AppContext(Settings(f"sqlite:///{database}", (key,), tmp_path / "secret.key", "e2e"))
    with check.session() as session:
        assert tokens.authenticate(session, secret).email == "token:ci-promote-prod"
    check.engine.dispose()

    click(page, "token_issued_done")
    assert secret not in page.content()
    page.context.close()
