"""`db backup` / `db restore` on PostgreSQL (pg_dump --format=custom / pg_restore), in the test's own schema: a
round trip keeps the catalogue, the tokens and the history; a schema holding data is refused without --force; the
password never reaches the tools' command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments
from ranchersync.catalogue.sites import site_connection
from ranchersync.context import AppContext
from ranchersync.models import Site, SyncOperation
from ranchersync.ops import backup as backup_module
from ranchersync.ops.backup import BackupRefused, backup, restore, table_counts
from ranchersync.sync import SyncOptions, apply_plan, new_request_id, plan_environments
from tests.builders import ADMIN

ROOT = Path(__file__).resolve().parents[2]


def snapshot(ctx: AppContext) -> dict[str, object]:
    with ctx.session() as session:
        tokens = {s.name: site_connection(s, ctx.cipher).token for s in session.scalars(select(Site))}
        operations = [(o.id, o.status, [r.status for r in o.results])
                      for o in session.scalars(select(SyncOperation).order_by(SyncOperation.id))]
    return {"counts": table_counts(ctx.engine), "tokens": tokens, "operations": operations}


def schema_of(ctx: AppContext) -> str:
    with ctx.engine.connect() as connection:
        return str(connection.scalar(text("SELECT current_schema()")))


def empty_schema(ctx: AppContext) -> None:
    """Drop and re-create the test's schema: a new, empty database as far as the app can tell."""
    schema = schema_of(ctx)
    ctx.engine.dispose()
    with ctx.engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))


def test_round_trip_on_postgres(demo: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with demo.session() as session:
        plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["checkout"], default_target="all")
    apply_plan(demo, plan, actor=Actor("tester", "admin", "cli"), request_id=new_request_id(),
               options=SyncOptions(timeout_seconds=20, poll_seconds=0.2))
    before = snapshot(demo)
    file = tmp_path / "rs.pgdump"
    commands: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(command: list[str], *args: object, **kwargs: object) -> object:
        commands.append(list(command))
        return real_run(command, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(backup_module.subprocess, "run", recording_run)
    info = backup(demo.engine, file)
    assert file.read_bytes().startswith(b"PGDMP") and info.database == "postgresql"

    with pytest.raises(BackupRefused, match=r"holds data \(.*sites: 2"):
        restore(demo.engine, file)

    empty_schema(demo)
    restored = restore(demo.engine, file)
    assert not restored.upgraded
    assert without_restore_event(snapshot(demo)) == before

    with demo.session() as session:  # changed since the backup: --force puts the backup's state back
        environments.add_environment(session, actor=ADMIN, name="Later")
    restore(demo.engine, file, force=True, actor=ADMIN)
    assert without_restore_event(snapshot(demo)) == before

    password = make_url(demo.settings.database_url).password
    assert commands and all(not password or password not in " ".join(c) for c in commands)
    assert all("postgresql://" not in " ".join(c) for c in commands)  # no connection string at all


def without_restore_event(state: dict[str, object]) -> dict[str, object]:
    """A restore appends its own audit event (`db.restore`): the rest is the backup's."""
    counts = dict(state["counts"])  # type: ignore[call-overload]
    counts["audit_events"] -= 1
    return {**state, "counts": counts}


def test_a_backup_of_another_schema_is_refused(ctx: AppContext, postgres_url: str, tmp_path: Path) -> None:
    with ctx.session() as session:
        environments.add_environment(session, actor=ADMIN, name="Dev")
    file = tmp_path / "rs.pgdump"
    backup(ctx.engine, file)
    other = make_url(postgres_url)  # the server's default schema (public), not the test's
    from ranchersync.storage.db import make_engine

    engine = make_engine(other.render_as_string(hide_password=False))
    try:
        with pytest.raises(BackupRefused, match="holds schema rs_test_"):
            restore(engine, file, force=True, actor=ADMIN)
    finally:
        engine.dispose()


def test_the_cli_round_trip_on_postgres(ctx: AppContext, tmp_path: Path) -> None:
    with ctx.session() as session:
        environments.add_environment(session, actor=ADMIN, name="Dev")
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": ctx.settings.database_url,
           "RANCHERSYNC_SECRET_KEY": ctx.settings.secret_keys[0]}
    file = tmp_path / "cli.pgdump"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ranchersync", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    made = cli("db", "backup", "--to", str(file), "--json")
    assert made.returncode == 0, made.stderr
    refused = cli("db", "restore", "--from", str(file))
    assert refused.returncode == 2 and "environments: 1" in refused.stderr
    empty_schema(ctx)
    done = cli("db", "restore", "--from", str(file), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["database"] == "postgresql"
    assert table_counts(ctx.engine) == {"audit_events": 2, "environments": 1}  # the backup's event, then the restore's
