"""Run the repository tests against the real PostgreSQL server, each test in a schema of its own.

The server is the one RANCHERSYNC_TEST_DATABASE_URL names (CI's); without it, on a machine with PostgreSQL's
binaries (`pg_ctl`, Debian's /usr/lib/postgresql/N/bin), a throwaway server is started for the session with
pytest-postgresql, so `make test` covers PostgreSQL on a newcomer's laptop too; without either, the suite skips.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ranchersync.kernel.config import Settings
from tests.conftest import require

pytestmark = pytest.mark.postgres


def pg_ctl() -> str | None:
    """PostgreSQL's pg_ctl: on the PATH, else the newest of Debian's versioned folders."""
    found = shutil.which("pg_ctl")
    if found:
        return found
    versioned = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                       key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return str(versioned[-1]) if versioned else None


def throwaway_server(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A PostgreSQL server for this session only (pytest-postgresql): its URL, or "" and why there is none."""
    executable = pg_ctl()
    if executable is None:
        return "", "RANCHERSYNC_TEST_DATABASE_URL is not set and PostgreSQL's binaries (pg_ctl) are not installed"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "", "RANCHERSYNC_TEST_DATABASE_URL is not set, and PostgreSQL refuses to start a server as root"
    proc = request.getfixturevalue("throwaway_postgres")
    return f"postgresql+psycopg://{proc.user}@{proc.host}:{proc.port}/postgres", ""


def _throwaway_postgres() -> object:
    from pytest_postgresql import factories

    return factories.postgresql_proc(executable=pg_ctl() or "pg_ctl", port=None)


throwaway_postgres = _throwaway_postgres()


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The server named by RANCHERSYNC_TEST_DATABASE_URL, else a throwaway one; checked to answer."""
    url = os.environ.get("RANCHERSYNC_TEST_DATABASE_URL", "")
    reason = ""
    if not url:
        url, reason = throwaway_server(request)
    require("postgres", bool(url), reason)
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
