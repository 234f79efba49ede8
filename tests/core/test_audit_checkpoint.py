"""Signed checkpoints of the audit chain: whoever can write to the database can recompute the whole chain, but not a
checkpoint published outside it (the log stream, the exporter), so `audit verify --checkpoint` catches the rewrite."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.models import AuditEvent, AuditHead
from ranchersync.ops.exporter import DatabaseCollector
from ranchersync.security import checkpoint
from ranchersync.security.crypto import TokenCipher
from tests.builders import CliRun, cli_runner
from tests.core.test_exporter import scrape

ALICE = Actor("alice@example.com", "admin", "dashboard")


@pytest.fixture
def cli(ctx: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    return cli_runner(ctx, monkeypatch, capsys)


def write(ctx: AppContext, count: int) -> None:
    with ctx.session() as session:
        for i in range(count):
            audit.record(session, ALICE, "environment.add", object_type="environment", object_name=f"env-{i}")


def rewrite_everything(ctx: AppContext, event_id: int, detail: str) -> None:
    """What a database writer can do: change an event, then recompute every hash after it and the head."""
    with ctx.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        previous = audit.GENESIS
        for event in events:
            if event.id == event_id:
                event.detail = detail
            event.prev_hash = previous
            event.hash = previous = audit.digest(event)
        session.execute(update(AuditHead).values(last_hash=previous))


def verify(cli: CliRun, *args: str) -> tuple[int, dict]:
    status, out, err = cli("ops@example.com", "audit", "verify", "--json", *args)
    return status, json.loads(out)


def test_a_recomputed_chain_passes_the_chain_check_but_not_a_checkpoint_made_before(ctx: AppContext, cli) -> None:
    write(ctx, 3)
    status, before = verify(cli)
    assert status == 0 and before["checkpoint"].startswith("rsmcp1.")
    write(ctx, 2)
    assert verify(cli, "--checkpoint", before["checkpoint"])[0] == 0, "an appended log still extends it"

    rewrite_everything(ctx, 2, "nothing happened here")
    status, plain = verify(cli)
    assert status == 0, "the attack works against the chain alone"
    status, proved = verify(cli, "--checkpoint", before["checkpoint"])
    assert status == 1 and not proved["ok"]
    assert "rewritten" in proved["checkpoints"][0]["problem"]


def test_a_log_cut_back_below_a_checkpoint_is_found(ctx: AppContext, cli) -> None:
    write(ctx, 4)
    _, before = verify(cli)
    with ctx.session() as session:
        session.execute(AuditEvent.__table__.delete().where(AuditEvent.id > 2))
        session.execute(update(AuditHead).values(last_id=2, last_hash=session.scalar(
            select(AuditEvent.hash).where(AuditEvent.id == 2))))
    assert verify(cli)[0] == 0, "a consistent shorter chain"
    status, proved = verify(cli, "--checkpoint", before["checkpoint"])
    assert status == 1 and "no longer holds event #" in proved["checkpoints"][0]["problem"]


def test_a_checkpoint_is_only_believed_with_our_signature(ctx: AppContext, cli) -> None:
    write(ctx, 2)
    _, before = verify(cli)
    prefix, event_id, event_hash, signature = before["checkpoint"].split(".")
    forged = f"{prefix}.{event_id}.{'0' * 64}.{signature}"
    status, proved = verify(cli, "--checkpoint", forged)
    assert status == 1 and "not signed by any configured key" in proved["checkpoints"][0]["problem"]
    other = checkpoint.sign(TokenCipher([Fernet.generate_key().decode()]), int(event_id), event_hash)
    assert verify(cli, "--checkpoint", other.text)[0] == 1, "another installation's key"
    status, out, err = cli("ops@example.com", "audit", "verify", "--checkpoint", "not-a-checkpoint")
    assert status == 2 and "no audit checkpoint found" in err


def test_a_checkpoint_still_verifies_after_a_key_rotation(ctx: AppContext, cli, monkeypatch) -> None:
    write(ctx, 2)
    _, before = verify(cli)
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", f"{Fernet.generate_key().decode()},{ctx.settings.secret_keys[0]}")
    assert verify(cli, "--checkpoint", before["checkpoint"])[0] == 0


def test_the_log_stream_gets_a_checkpoint_every_so_many_events_once_committed(
        ctx: AppContext, cli, caplog: pytest.LogCaptureFixture, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "CHECKPOINT_EVERY", 5)
    caplog.set_level(logging.INFO, logger="ranchersync.security.checkpoint")
    write(ctx, 4)
    with pytest.raises(RuntimeError), ctx.session() as session:  # the 5th event, rolled back: no checkpoint of it
        audit.record(session, ALICE, "environment.add", object_name="never")
        raise RuntimeError("the use-case failed")
    assert "audit checkpoint" not in caplog.text
    write(ctx, 7)  # events 5…11: the 5th and the 10th are published
    published = checkpoint.parse(caplog.text)
    assert [c.event_id for c in published] == [5, 10]
    # A log export holding them is what --checkpoint is given: every checkpoint in it is checked.
    export = tmp_path / "log.jsonl"
    export.write_text("\n".join(f'{{"message": "audit checkpoint {c.text}"}}' for c in published))
    status, proved = verify(cli, "--checkpoint", str(export))
    assert status == 0 and [p["eventId"] for p in proved["checkpoints"]] == [5, 10]


def test_the_exporter_serves_the_signed_head(ctx: AppContext, cli) -> None:
    write(ctx, 3)
    samples = scrape(DatabaseCollector(ctx.engine, cache_seconds=0, cipher=ctx.cipher))
    [(labels, value)] = [(labels, value) for (name, labels), value in samples.items()
                         if name == "ranchersync_audit_head_event"]
    assert value == 3
    assert verify(cli, "--checkpoint", dict(labels)["checkpoint"])[0] == 0
    unsigned = scrape(DatabaseCollector(ctx.engine, cache_seconds=0))
    assert not [name for name, _ in unsigned if name == "ranchersync_audit_head_event"], "no key, no checkpoint"
