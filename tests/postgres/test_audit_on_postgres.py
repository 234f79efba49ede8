"""The audit log on PostgreSQL: the trigger refuses UPDATE, DELETE and TRUNCATE; with the trigger disabled (what a
superuser can do), `verify` still finds an edited or deleted row through the hash chain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.governance import freeze

ADMIN = Actor("alice@example.com", "admin", "cli")


@pytest.fixture
def chain(ctx: AppContext) -> AppContext:
    """Four events through the use-cases: the environment added, a window added, stop-all, lift-all."""
    with ctx.session() as session:
        environments.add_environment(session, name="Prod", actor=ADMIN)
        freeze.add_window(session, ADMIN, environment="Prod", weekly="Fri 16:00-Mon 08:00", timezone="Europe/Berlin",
                          reason="weekend")
        freeze.stop_all(session, ADMIN, "INC-42")
        freeze.lift_all(session, ADMIN, "resolved")
    return ctx


@pytest.fixture
def trigger_off(chain: AppContext) -> Iterator[AppContext]:
    """The append-only trigger disabled, as the superuser test role may do, and enabled again afterwards."""
    with chain.session() as session:
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    yield chain
    with chain.session() as session:
        session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))


def _verify(ctx: AppContext) -> audit.ChainReport:
    with ctx.session() as session:
        return audit.verify(session)


@pytest.mark.parametrize(("sql", "operation"), [
    ("UPDATE audit_events SET actor = 'mallory' WHERE id = 2", "UPDATE"),
    ("DELETE FROM audit_events WHERE id = 2", "DELETE"),
    ("TRUNCATE audit_events", "TRUNCATE"),
])
def test_the_trigger_refuses_changes_to_events(chain: AppContext, sql: str, operation: str) -> None:
    with pytest.raises(DBAPIError) as refused:
        with chain.session() as session:
            session.execute(text(sql))
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"  # insufficient_privilege
    assert f"audit_events is append-only: {operation} refused" in str(refused.value.orig)
    report = _verify(chain)
    assert report.ok and report.checked == 4


def test_with_the_trigger_disabled_an_edit_is_found(trigger_off: AppContext) -> None:
    with trigger_off.session() as session:
        session.execute(text("UPDATE audit_events SET detail = 'nothing happened' WHERE id = 2"))
    report = _verify(trigger_off)
    assert (report.ok, report.broken_at, report.checked) == (False, 2, 1)
    assert "changed after it was written" in report.problem


def test_with_the_trigger_disabled_a_deletion_is_found(trigger_off: AppContext) -> None:
    with trigger_off.session() as session:
        session.execute(text("DELETE FROM audit_events WHERE id = 2"))
    report = _verify(trigger_off)
    assert (report.ok, report.broken_at) == (False, 2)
    assert "missing" in report.problem


def test_with_the_trigger_disabled_deleting_the_newest_event_is_found(trigger_off: AppContext) -> None:
    with trigger_off.session() as session:
        session.execute(text("DELETE FROM audit_events WHERE id = 4"))
    report = _verify(trigger_off)
    assert (report.ok, report.broken_at) == (False, 4)


def test_the_trigger_enabled_again_refuses_again(chain: AppContext) -> None:
    with chain.session() as session:
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    with pytest.raises(DBAPIError):
        with chain.session() as session:
            session.execute(text("DELETE FROM audit_events"))


def test_reading_the_log_on_postgres(chain: AppContext) -> None:
    with chain.session() as session:
        family = audit.list_events(session, audit.AuditFilter(action="freeze")).items
        exact = audit.list_events(session, audit.AuditFilter(action="freeze.stop_all")).items
        by_object = audit.list_events(session, audit.AuditFilter(object="Prod")).items
        lines = list(audit.iter_csv(session, audit.AuditFilter(actor="alice@example.com")))
    assert [e.action for e in family] == ["freeze.lift_all", "freeze.stop_all", "freeze.add"]
    assert [e.id for e in exact] == [3]
    assert [e.action for e in by_object] == ["freeze.add", "environment.add"]
    assert len(lines) == 5 and lines[0].startswith("id,at,actor")
