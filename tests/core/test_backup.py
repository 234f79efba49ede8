"""`db backup` / `db restore` on SQLite: a round trip through the CLI keeps the catalogue, the tokens (under the same
key) and the history; a database holding data is refused without --force; an older backup is upgraded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from ranchersync.access.identity import Actor
from ranchersync.catalogue.sites import site_connection
from ranchersync.context import AppContext
from ranchersync.history import list_operations
from ranchersync.models import AuditHead, Site, SyncOperation
from ranchersync.ops.backup import BackupRefused, backup, restore, table_counts
from ranchersync.storage import db
from ranchersync.sync import SyncOptions, apply_plan, new_request_id, plan_environments
from tests.builders import ADMIN

ROOT = Path(__file__).resolve().parents[2]


def cli(database_url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": database_url, "RANCHERSYNC_SECRET_KEY": key}
    return subprocess.run([sys.executable, "-m", "ranchersync", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def snapshot(ctx: AppContext) -> dict[str, object]:
    """What a user would check after a restore: rows per table, the sites' tokens, the operations."""
    with ctx.session() as session:
        tokens = {s.name: site_connection(s, ctx.cipher).token for s in session.scalars(select(Site))}
        operations = [(o.id, o.status, o.target_environment_name, [r.status for r in o.results])
                      for o in session.scalars(select(SyncOperation).order_by(SyncOperation.id))]
    return {"counts": table_counts(ctx.engine), "tokens": tokens, "operations": operations}


def test_round_trip_through_the_cli(demo: AppContext, tmp_path: Path) -> None:
    with demo.session() as session:
        plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["checkout"], default_target="all")
    apply_plan(demo, plan, actor=Actor("tester", "admin", "cli"), request_id=new_request_id(),
               options=SyncOptions(timeout_seconds=20, poll_seconds=0.2))
    before = snapshot(demo)
    key = demo.settings.secret_keys[0]
    file = tmp_path / "backup.db"

    made = cli(demo.settings.database_url, key, "db", "backup", "--to", str(file), "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["revision"] in db.head_revisions()
    again = cli(demo.settings.database_url, key, "db", "backup", "--to", str(file))
    assert again.returncode == 2 and "exists already" in again.stderr  # never overwrites

    fresh = AppContext(demo.settings.__class__(f"sqlite:///{tmp_path / 'fresh.db'}", (key,), tmp_path / "k", "t"))
    restored = cli(fresh.settings.database_url, key, "db", "restore", "--from", str(file))
    assert restored.returncode == 0, restored.stderr
    after = snapshot(fresh)
    assert after["counts"]["audit_events"] == before["counts"]["audit_events"] + 1  # type: ignore[index]
    after["counts"]["audit_events"] -= 1  # type: ignore[index]  # the restore's own event
    assert after == before
    with fresh.session() as session:
        assert [o.status for o in list_operations(session).items] == ["complete"]


def test_a_database_holding_data_is_refused_without_force(demo: AppContext, ctx_other: AppContext,
                                                           tmp_path: Path) -> None:
    file = tmp_path / "demo.db"
    backup(demo.engine, file)
    # ctx_other holds one environment of its own.
    from ranchersync.catalogue import environments
    with ctx_other.session() as session:
        environments.add_environment(session, actor=ADMIN, name="Mine")
    key = ctx_other.settings.secret_keys[0]
    refused = cli(ctx_other.settings.database_url, key, "db", "restore", "--from", str(file))
    assert refused.returncode == 2
    assert "holds data (audit_events: 1, environments: 1)" in refused.stderr and "--force" in refused.stderr
    assert table_counts(ctx_other.engine) == {"audit_events": 1, "environments": 1}  # untouched

    restore(ctx_other.engine, file, force=True, actor=ADMIN)
    counts = table_counts(demo.engine)
    assert table_counts(ctx_other.engine) == {**counts, "audit_events": counts["audit_events"] + 1}


def test_restore_force_needs_an_admin_a_verified_chain_and_is_audited(
    demo: AppContext, ctx_other: AppContext, tmp_path: Path
) -> None:
    import sqlite3

    from ranchersync.catalogue import environments
    from ranchersync.people import directory

    file = tmp_path / "demo.db"
    backup(demo.engine, file)
    with demo.session() as session:
        head = session.get_one(AuditHead, 1)
        head_id, head_hash = head.last_id, head.last_hash
    with ctx_other.session() as session:
        environments.add_environment(session, actor=ADMIN, name="Mine")
        directory.set_role(session, ADMIN, "bob", "operator")
    key = ctx_other.settings.secret_keys[0]
    url = ctx_other.settings.database_url
    before = table_counts(ctx_other.engine)

    as_bob = cli_as(url, key, "bob", "db", "restore", "--from", str(file), "--force")
    assert as_bob.returncode == 3 and "admin" in as_bob.stderr
    assert table_counts(ctx_other.engine) == before

    tampered = tmp_path / "tampered.db"
    backup(demo.engine, tampered)
    with sqlite3.connect(tampered) as raw:
        raw.execute("UPDATE audit_events SET actor = 'someone-else' WHERE id = 1")
    raw.close()
    refused = cli_as(url, key, "root", "db", "restore", "--from", str(tampered), "--force")
    assert refused.returncode == 2 and "audit chain does not verify" in refused.stderr
    assert table_counts(ctx_other.engine) == before

    done = cli_as(url, key, "root", "db", "restore", "--from", str(file), "--force")
    assert done.returncode == 0, done.stderr
    verified = cli_as(url, key, "root", "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["checked"] == head_id + 1
    assert report["restores"] == [{"eventId": head_id + 1, "at": report["restores"][0]["at"], "actor": "root",
                                   "file": str(file), "chainHeadId": head_id, "chainHeadHash": head_hash}]
    assert "Restored from a backup" in cli_as(url, key, "root", "audit", "verify").stdout


def cli_as(database_url: str, key: str, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": database_url, "RANCHERSYNC_SECRET_KEY": key,
           "RANCHERSYNC_USER": user}
    return subprocess.run([sys.executable, "-m", "ranchersync", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def ctx_other(tmp_path: Path) -> AppContext:
    from cryptography.fernet import Fernet

    from ranchersync.kernel.config import Settings

    other = AppContext(Settings(f"sqlite:///{tmp_path / 'other' / 'o.db'}", (Fernet.generate_key().decode(),),
                                tmp_path / "other" / "secret.key", "t"))
    other.upgrade_database()
    return other


def test_an_older_backup_is_upgraded_after_the_restore(tmp_path: Path, ctx: AppContext) -> None:
    old = db.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    db.upgrade(old, "0004")
    file = tmp_path / "old-backup.db"
    assert backup(old, file).revision == "0004"
    info = restore(ctx.engine, file, force=False)  # ctx: migrated but empty
    assert info.upgraded and db.is_current(ctx.engine)


def test_files_that_are_not_backups_are_refused(tmp_path: Path, ctx: AppContext) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(BackupRefused, match="neither a SQLite database nor a pg_dump archive"):
        restore(ctx.engine, text)
    newer = tmp_path / "newer.db"
    backup(ctx.engine, newer)
    import sqlite3

    with sqlite3.connect(newer) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.close()
    with pytest.raises(BackupRefused, match="newer version of the app"):
        restore(ctx.engine, newer)
    pg = tmp_path / "dump.pgc"
    pg.write_bytes(b"PGDMP\x01\x0e\x00")
    with pytest.raises(BackupRefused, match="postgresql backup; the database is sqlite"):
        restore(ctx.engine, pg)


def test_the_database_its_backups_and_reports_are_created_owner_only(tmp_path: Path) -> None:
    import datetime as dt
    import stat

    from cryptography.fernet import Fernet

    from ranchersync.kernel.config import Settings
    from ranchersync.reports import write_delivery_report

    old = os.umask(0o022)  # the usual default: files readable by everyone unless the app says otherwise
    try:
        fresh = AppContext(Settings(f"sqlite:///{tmp_path / 'db' / 'rs.db'}", (Fernet.generate_key().decode(),),
                                    tmp_path / "db" / "secret.key", "t"))
        fresh.upgrade_database()
        backup(fresh.engine, tmp_path / "copy.db")
        with fresh.session() as session:
            january = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
            write_delivery_report(session, *january, tmp_path / "delivery.html")
    finally:
        os.umask(old)
    for name in ("db/rs.db", "copy.db", "delivery.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
