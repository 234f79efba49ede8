"""Which process owns an operation, when replicas share a database: RANCHERSYNC_REPLICA_NAME tells them apart, and a
replica judges another's operation by its heartbeat only, never by a pid that belongs to its own process table."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from ranchersync.context import AppContext
from ranchersync.models import SyncOperation
from ranchersync.sync import mark_interrupted
from ranchersync.sync.records import Opening, open_operation
from tests.builders import ADMIN


def dead_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                             check=True)
    return int(process.stdout)


def running_operation(ctx: AppContext, owner: str, heartbeat_age: float = 0) -> int:
    operation_id, _ = open_operation(ctx, Opening(kind="sync", mode="full", source=(None, "Stage"),
                                                  target=(None, "Prod"), initiated_by="ops", request_id=f"r-{owner}",
                                                  planned=[]), actor=ADMIN)
    with ctx.session() as session:
        operation = session.get_one(SyncOperation, operation_id)
        operation.owner = owner
        operation.heartbeat_at = operation.heartbeat_at - dt.timedelta(seconds=heartbeat_age)  # type: ignore[operator]
    return operation_id


def status(ctx: AppContext, operation_id: int) -> str:
    with ctx.session() as session:
        return session.get_one(SyncOperation, operation_id).status


def test_the_owner_names_the_replica(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANCHERSYNC_REPLICA_NAME", "dashboard-2")
    operation_id, _ = open_operation(ctx, Opening(kind="sync", mode="full", source=(None, "Stage"),
                                                  target=(None, "Prod"), initiated_by="ops", request_id="r1",
                                                  planned=[]), actor=ADMIN)
    with ctx.session() as session:
        assert (session.get_one(SyncOperation, operation_id).owner or "").startswith("dashboard-2:")


def test_another_replicas_operation_waits_for_its_heartbeat(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANCHERSYNC_REPLICA_NAME", "dashboard-2")
    pid = dead_pid()  # dead here, but it is dashboard-1's pid: it says nothing about dashboard-1's process
    fresh = running_operation(ctx, f"dashboard-1:{pid}")
    with ctx.session() as session:
        assert mark_interrupted(session) == []
    assert status(ctx, fresh) == "running"
    with ctx.session() as session:
        session.get_one(SyncOperation, fresh).heartbeat_at -= dt.timedelta(seconds=121)  # type: ignore[operator]
    with ctx.session() as session:
        assert mark_interrupted(session) == [fresh]
    assert status(ctx, fresh) == "interrupted"


def test_on_its_own_replica_a_dead_pid_is_enough(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANCHERSYNC_REPLICA_NAME", "dashboard-1")
    mine = running_operation(ctx, f"dashboard-1:{dead_pid()}")
    with ctx.session() as session:
        assert mark_interrupted(session) == [mine]
