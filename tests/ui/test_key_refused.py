"""A key that does not open the database stops every screen with the reason, not a traceback."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from tests.ui.conftest import PAGES, OpenApp, Seed, assert_ok
from tests.ui.fakes import GOOD_TOKEN


@pytest.mark.parametrize("page", [None, PAGES[0]])
def test_a_wrong_key_shows_a_clear_message_page(
    open_app: OpenApp, seed: Seed, monkeypatch: pytest.MonkeyPatch, page: str | None
) -> None:
    seed()  # a site whose token is encrypted under the test's key
    wrong = Fernet.generate_key().decode()
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", wrong)
    at = open_app(page)
    assert_ok(at)
    errors = "\n".join(e.value for e in at.error).replace("\\", "")  # Markdown escapes aside
    assert "encryption key cannot be used" in errors and "RANCHERSYNC_SECRET_KEY" in errors
    assert wrong not in errors and GOOD_TOKEN.split(":")[1] not in errors
    assert not at.dataframe and not at.button  # stopped before any screen was drawn
