"""The audit chain: every event linked to the one before, so an edit, an insertion or a deletion is found."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.context import AppContext

ALICE = Actor("alice@example.com", "admin", "dashboard", address="127.0.0.1")
BOB = Actor("bob", "operator", "cli")


def write_three(ctx: AppContext) -> None:
    with ctx.session() as session:
        _three(session)


def tamper(ctx: AppContext, sql: str, **params: object) -> None:
    with ctx.session() as session:
        session.execute(text(sql), params)


def verify(ctx: AppContext) -> audit.ChainReport:
    with ctx.session() as session:
        return audit.verify(session)


def _three(session: Session) -> None:
    audit.record(session, ALICE, "site.create", object_type="site", object_id=1, object_name="eu",
                 after={"name": "eu", "url": "https://rancher.example", "token": "token-abc:secret"})
    audit.record(session, ALICE, "site.update", object_type="site", object_id=1, object_name="eu",
                 before={"url": "https://rancher.example"}, after={"url": "https://r2.example", "token": "new"})
    audit.record(session, BOB, "sync.start", object_type="operation", object_id=7, detail="Stage → Prod")


def test_an_untouched_chain_verifies_and_holds_no_secret(ctx: AppContext) -> None:
    write_three(ctx)
    report = verify(ctx)
    assert report.ok and report.checked == 3
    with ctx.session() as session:
        rows = session.execute(text("SELECT * FROM audit_events ORDER BY id")).all()
    assert "token-abc" not in repr(rows) and "'new'" not in repr(rows)
    assert [r.actor for r in rows] == ["alice@example.com", "alice@example.com", "bob"]


def test_an_edited_row_is_found(ctx: AppContext) -> None:
    write_three(ctx)
    tamper(ctx, "UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
    report = verify(ctx)
    assert (report.ok, report.broken_at, report.checked) == (False, 2, 1)
    assert "changed" in report.problem


def test_a_deleted_row_in_the_middle_is_found(ctx: AppContext) -> None:
    write_three(ctx)
    tamper(ctx, "DELETE FROM audit_events WHERE id = 2")
    report = verify(ctx)
    assert (report.ok, report.broken_at) == (False, 2)
    assert "missing" in report.problem


def test_deleting_the_newest_events_is_found(ctx: AppContext) -> None:
    write_three(ctx)
    tamper(ctx, "DELETE FROM audit_events WHERE id = 3")
    report = verify(ctx)
    assert (report.ok, report.broken_at) == (False, 3)


def test_a_forged_row_with_a_recomputed_hash_breaks_the_next_link(ctx: AppContext) -> None:
    write_three(ctx)
    tamper(ctx, "UPDATE audit_events SET detail = 'nothing happened' WHERE id = 2")
    with ctx.session() as session:
        forged = session.get(audit.AuditEvent, 2)
        assert forged is not None
        session.execute(text("UPDATE audit_events SET hash = :h WHERE id = 2"), {"h": audit.digest(forged)})
    report = verify(ctx)
    assert (report.ok, report.broken_at) == (False, 3)
    assert "link" in report.problem


def test_a_rolled_back_change_leaves_no_event(ctx: AppContext) -> None:
    write_three(ctx)
    with pytest.raises(RuntimeError, match="the change failed"), ctx.session() as session:
        audit.record(session, BOB, "sync.start", object_type="operation", object_id=8)
        raise RuntimeError("the change failed")
    assert verify(ctx).checked == 3
    with ctx.session() as session:
        audit.record(session, BOB, "sync.start", object_type="operation", object_id=9)
    report = verify(ctx)
    assert report.ok and report.checked == 4
