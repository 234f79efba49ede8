"""Run the repository tests against the real PostgreSQL server, each test in a schema of its own.

The server is the one RANCHERSYNC_TEST_DATABASE_URL names (CI's); without it, on a machine with PostgreSQL's
binaries (`pg_ctl`, Debian's /usr/lib/postgresql/N/bin), a throwaway server is started for the session with
pytest-postgresql, or, as root (a fresh container; PostgreSQL refuses to run as root), with initdb and pg_ctl run as
the unprivileged `postgres` user, so `make test` covers PostgreSQL on a newcomer's machine too; without either, the
suite skips (and fails in CI, which sets RANCHERSYNC_REQUIRE_POSTGRES).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
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
    """A PostgreSQL server for this session only: its URL, or "" and why there is none. As root (a fresh container)
    it runs as an unprivileged user, since PostgreSQL refuses to start as root; otherwise pytest-postgresql runs it."""
    executable = pg_ctl()
    if executable is None:
        return "", "RANCHERSYNC_TEST_DATABASE_URL is not set and PostgreSQL's binaries (pg_ctl) are not installed"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return request.getfixturevalue("throwaway_postgres_as_user")
    proc = request.getfixturevalue("throwaway_postgres")
    return f"postgresql+psycopg://{proc.user}@{proc.host}:{proc.port}/postgres", ""


def unprivileged_user() -> str | None:
    """The account a root session runs the throwaway server as: `postgres` (Debian's package makes it), else
    `nobody`; None when neither exists or `runuser` is missing."""
    if shutil.which("runuser") is None:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def throwaway_postgres_as_user() -> Iterator[tuple[str, str]]:
    """initdb and pg_ctl run through `runuser -u USER --`, in a folder of the system's temporary directory that user
    owns (not under pytest's, which pytest keeps at mode 0700: the server's user could not reach it); the server
    listens on 127.0.0.1 only, with trust authentication, and is stopped (its folder removed) after the session."""
    user, bin_dir = unprivileged_user(), Path(pg_ctl() or "pg_ctl").parent
    if user is None:
        yield "", "running as root, PostgreSQL needs an unprivileged user, and runuser or a 'postgres' user is missing"
        return
    account = pwd.getpwnam(user)
    home = Path(tempfile.mkdtemp(prefix="ranchersync-postgres-"))
    os.chown(home, account.pw_uid, account.pw_gid)
    data, log, port = home / "data", home / "server.log", free_port()

    def as_user(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", user, "--", *command], cwd=home, capture_output=True, text=True,
                              timeout=120, check=False)

    made = as_user(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                   "-E", "UTF8", "--locale", "C")
    if made.returncode != 0:
        yield "", f"initdb as {user} failed: {made.stderr.strip()[-500:]}"
        return
    started = as_user(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
                      f"-h 127.0.0.1 -p {port} -k {home} -c fsync=off", "start")
    try:
        if started.returncode != 0:
            yield "", f"pg_ctl start as {user} failed: {started.stderr.strip()} {log.read_text()[-500:]}"
            return
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", ""
    finally:
        as_user(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(home, ignore_errors=True)


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
