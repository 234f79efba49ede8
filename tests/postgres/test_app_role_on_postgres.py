"""The owner/app split on PostgreSQL: `db upgrade` run as the owner with RANCHERSYNC_DB_APP_ROLE grants the app's role
what it needs, and no more: the app works (syncs' records, audit events, verify), but cannot change or remove an
audit event, so a rewrite of the log needs the owner's credentials (the compose file and the CNPG overlay do this)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.models import Environment

ADMIN = Actor("ada@example.com", "admin", "dashboard")


@pytest.fixture
def split(postgres_url: str, settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, Settings]]:
    """A database owned by a fresh owner role, and a fresh app role: (owner's settings, app's settings)."""
    suffix = uuid.uuid4().hex[:8]
    owner, app, database = f"rs_owner_{suffix}", f"rs_app_{suffix}", f"rs_split_{suffix}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {owner} LOGIN"))
        conn.execute(text(f"CREATE ROLE {app} LOGIN"))
        conn.execute(text(f"CREATE DATABASE {database} OWNER {owner}"))
    url = make_url(postgres_url).set(database=database, password=None)
    as_owner = dataclasses.replace(settings, database_url=url.set(username=owner).render_as_string(False),
                                   db_app_role=app)
    as_app = dataclasses.replace(settings, database_url=url.set(username=app).render_as_string(False))
    yield as_owner, as_app
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {database} WITH (FORCE)"))
        conn.execute(text(f"DROP ROLE {app}"))
        conn.execute(text(f"DROP ROLE {owner}"))
    admin.dispose()


def test_the_app_role_appends_to_the_audit_log_but_cannot_rewrite_it(split, monkeypatch, capsys) -> None:
    as_owner, as_app = split
    from ranchersync.cli import main

    # The migration job: `db upgrade` as the owner, naming the app's role.
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", as_owner.database_url)
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", as_owner.secret_keys[0])
    monkeypatch.setenv("RANCHERSYNC_DB_APP_ROLE", as_owner.db_app_role)
    assert main(["db", "upgrade"]) == 0
    assert f"The role {as_owner.db_app_role} may use it" in capsys.readouterr().out

    app = AppContext(as_app)
    try:
        app.upgrade_database()  # at the head already: the app's start reads the version, changes nothing
        with app.session() as session:
            environments.add_environment(session, actor=ADMIN, name="Prod", protected=True)
            environments.add_environment(session, actor=ADMIN, name="Stage")
        with app.session() as session:
            environments.remove_environment(session, "Stage", actor=ADMIN)  # a plain table: deletable
        with app.session() as session:
            assert session.scalars(select(Environment.name)).all() == ["Prod"]
            assert audit.verify(session).checked == 3
        for statement in ("UPDATE audit_events SET detail = 'nothing happened'", "DELETE FROM audit_events",
                          "TRUNCATE audit_events", "DELETE FROM alembic_version", "DROP TABLE environments"):
            with pytest.raises(ProgrammingError, match="permission denied|must be owner"), app.session() as session:
                session.execute(text(statement))
        with app.session() as session:
            assert audit.verify(session).ok and audit.verify(session).checked == 3
    finally:
        app.engine.dispose()


def test_an_app_role_on_sqlite_is_refused_with_a_sentence() -> None:
    from ranchersync.kernel.errors import ValidationError
    from ranchersync.storage import db

    sqlite = create_engine("sqlite://")
    with pytest.raises(ValidationError, match="for PostgreSQL"):
        db.grant_app_role(sqlite, "ranchersync_app")


def test_a_role_name_that_is_not_one_is_refused() -> None:
    from ranchersync.kernel.errors import ValidationError

    with pytest.raises(ValidationError, match="RANCHERSYNC_DB_APP_ROLE"):
        Settings.from_env({"RANCHERSYNC_DB_APP_ROLE": "app; DROP TABLE x"})


def test_compose_makes_the_app_role_and_runs_the_app_as_it(postgres_url: str, settings: Settings) -> None:
    """compose.yaml on a real server: the postgres image's init script (run here with psql, as the image does on a
    new volume) makes the app's role, the migrate service's environment grants it, the app's URL uses it."""
    import os
    import shutil
    import subprocess
    import sys

    import yaml

    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "compose.yaml").read_text())
    services = compose["services"]
    init = next(v.split(":")[0] for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v)
    migrate_env = services["migrate"]["environment"]
    app_url = make_url(services["dashboard"]["environment"]["RANCHERSYNC_DATABASE_URL"].replace("${", "").replace(
        ":?set POSTGRES_APP_PASSWORD in .env}", ""))
    owner_url = make_url(migrate_env["RANCHERSYNC_DATABASE_URL"].replace("${", "").replace(
        ":?set POSTGRES_PASSWORD in .env}", ""))
    assert migrate_env["RANCHERSYNC_DB_APP_ROLE"] == app_url.username != owner_url.username

    server = make_url(postgres_url)
    suffix = uuid.uuid4().hex[:8]
    owner, database = f"rs_owner_{suffix}", f"rs_compose_{suffix}"
    app_role = f"{app_url.username}_{suffix}"  # the server is shared: a name of this test's own
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # the image's POSTGRES_USER is a superuser; creating roles is what it needs here
        conn.execute(text(f"CREATE ROLE {owner} LOGIN CREATEROLE"))
        conn.execute(text(f"CREATE DATABASE {database} OWNER {owner}"))
    try:
        psql = shutil.which("psql")
        assert psql, "psql (PostgreSQL's client) runs the image's init script"
        env = {**os.environ, "PGHOST": server.host or "127.0.0.1", "PGPORT": str(server.port or 5432),
               "POSTGRES_USER": owner, "POSTGRES_DB": database, "POSTGRES_APP_USER": app_role,
               "POSTGRES_APP_PASSWORD": "app-password-not-a-secret"}
        made = subprocess.run(["sh", str(root / init.removeprefix("./"))], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert made.returncode == 0, made.stderr

        target = server.set(database=database, password=None)
        migrate = {**os.environ, "RANCHERSYNC_DATABASE_URL": target.set(username=owner).render_as_string(False),
                   "RANCHERSYNC_SECRET_KEY": settings.secret_keys[0], "RANCHERSYNC_DB_APP_ROLE": app_role}
        upgraded = subprocess.run([sys.executable, "-m", "ranchersync", "db", "upgrade"], cwd=root, env=migrate,
                                  capture_output=True, text=True, timeout=120, check=False)
        assert upgraded.returncode == 0, upgraded.stderr

        app = AppContext(dataclasses.replace(settings, database_url=target.set(username=app_role)
                                             .render_as_string(False)))
        try:
            with app.session() as session:
                environments.add_environment(session, actor=ADMIN, name="Prod")
            with pytest.raises(ProgrammingError, match="permission denied"), app.session() as session:
                session.execute(text("UPDATE audit_events SET actor = 'mallory'"))
        finally:
            app.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {database} WITH (FORCE)"))
            conn.execute(text(f"DROP ROLE IF EXISTS {app_role}"))
            conn.execute(text(f"DROP ROLE {owner}"))
        admin.dispose()
