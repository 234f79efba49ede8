"""Fixtures shared by every suite: a migrated temporary database, an AppContext, and mandatory-suite checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from ranchersync.config import Settings
from ranchersync.context import AppContext


def require(what: str, available: bool, reason: str) -> None:
    """Skip a test whose tool is missing on a laptop, but fail it in CI, where every suite is mandatory."""
    if available:
        return
    if os.environ.get("CI") or os.environ.get(f"RANCHERSYNC_REQUIRE_{what.upper()}"):
        pytest.fail(f"{reason} (this suite is mandatory in CI)")
    pytest.skip(reason)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh SQLite file and a fresh key."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'ranchersync.db'}",
        secret_keys=(Fernet.generate_key().decode(),),
        key_file=tmp_path / "secret.key",
        user="tester",
    )


@pytest.fixture
def ctx(settings: Settings) -> Iterator[AppContext]:
    """A migrated database and its context."""
    context = AppContext(settings)
    context.upgrade_database()
    yield context
    context.engine.dispose()


@pytest.fixture
def session(ctx: AppContext) -> Iterator[Session]:
    """One unit of work, committed at the end of the test."""
    with ctx.session() as s:
        yield s
