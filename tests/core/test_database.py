"""The database itself: migrations, SQLite settings, constraints users rely on, and UTC timestamps."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ranchersync.context import AppContext
from ranchersync.models import Environment, SyncOperation
from ranchersync.storage import db


def test_migrations_create_every_table_and_go_down_and_up_again(ctx: AppContext) -> None:
    tables = set(inspect(ctx.engine).get_table_names())
    assert {"sites", "environments", "app_instances", "sync_operations", "sync_results"} <= tables
    db.downgrade(ctx.engine, "base")
    assert set(inspect(ctx.engine).get_table_names()) <= {"alembic_version"}
    db.upgrade(ctx.engine)
    db.upgrade(ctx.engine)  # idempotent
    assert "sync_results" in inspect(ctx.engine).get_table_names()


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(ctx: AppContext) -> None:
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with ctx.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_foreign_keys_are_enforced(session: Session) -> None:
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "INSERT INTO app_instances (name, site_id, cluster_id, cluster_name, namespace, environment_id,"
                " created_at, updated_at) VALUES ('x', 999, 'c', '', 'ns', 999, :now, :now)"
            ),
            {"now": dt.datetime.now(dt.UTC)},
        )


def _operation(env: Environment, status: str) -> SyncOperation:
    return SyncOperation(
        source_environment_name="Stage",
        target_environment_id=env.id,
        target_environment_name=env.name,
        status=status,
        initiated_by="tester",
    )


def test_only_one_active_operation_per_target_environment(ctx: AppContext) -> None:
    with ctx.session() as session:
        prod = Environment(name="Prod")
        session.add(prod)
        session.flush()
        session.add(_operation(prod, "running"))
        session.add(_operation(prod, "complete"))
        session.add(_operation(prod, "failed"))  # finished operations do not hold the environment
    with pytest.raises(IntegrityError), ctx.session() as session:
        env = session.scalars(select(Environment)).one()
        session.add(_operation(env, "pending"))
    with ctx.session() as session:
        assert len(session.scalars(select(SyncOperation)).all()) == 3


def test_unknown_statuses_are_refused(session: Session) -> None:
    env = Environment(name="Prod")
    session.add(env)
    session.flush()
    session.add(_operation(env, "done-ish"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_timestamps_come_back_timezone_aware_utc(ctx: AppContext) -> None:
    with ctx.session() as session:
        session.add(Environment(name="Dev"))
    with ctx.session() as session:
        created = session.scalars(select(Environment)).one().created_at
    assert created.tzinfo is not None and created.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - created) < dt.timedelta(minutes=1)
