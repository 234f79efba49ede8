"""A database that cannot be used stops every screen with a sentence, not a SQLAlchemy traceback."""

from __future__ import annotations

import pytest

from tests.conftest import closed_port_url
from tests.ui.conftest import OpenApp, assert_ok
from tests.ui.fakes import shown


def test_a_database_that_does_not_answer_is_a_sentence(open_app: OpenApp, monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port_url().rsplit(":", 1)[1]
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL",
                       f"postgresql+psycopg://ops:hunter2@127.0.0.1:{port}/ranchersync?connect_timeout=2")
    at = open_app(None)
    assert_ok(at)
    text = shown("\n".join(e.value for e in at.error))
    assert "The database could not be used" in text and "RANCHERSYNC_DATABASE_URL" in text
    assert "hunter2" not in text and "Traceback" not in text and "sqlalchemy" not in text.lower()
    assert not at.button
