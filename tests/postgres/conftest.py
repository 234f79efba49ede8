"""Run the repository tests against the real PostgreSQL server, each test in a schema of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ranchersync.config import Settings
from tests.conftest import require

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The server named by RANCHERSYNC_TEST_DATABASE_URL, checked to answer."""
    url = os.environ.get("RANCHERSYNC_TEST_DATABASE_URL", "")
    require("postgres", bool(url), "RANCHERSYNC_TEST_DATABASE_URL is not set")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        require("postgres", False, f"PostgreSQL does not answer at {make_url(url).host}: {error.orig}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def settings(postgres_url: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings whose database is a fresh schema, dropped after the test."""
    schema = f"rs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    yield Settings(
        database_url=url.render_as_string(hide_password=False),
        secret_keys=(Fernet.generate_key().decode(),),
        key_file=tmp_path / "secret.key",
        user="tester",
    )
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
