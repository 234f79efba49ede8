"""The Snapshots screen's reads and actions: one session per action, the core (ranchersync.snapshots,
ranchersync.trains) called as the actor the frame read; each write returns an Outcome instead of raising.

A promotion or restore is planned from what the target runs now (never from a cache), then started as a job on the
server through the one way in for a sync (`jobs.start_sync` → `approvals.promote`), with a train's options: all or
nothing. Its live page (the history's detail of the operation) shows its progress.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ranchersync import jobs, sync
from ranchersync.access.identity import Actor
from ranchersync.approvals.promote import Requested
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.snapshots import entries, store
from ranchersync.sync import SyncOptions, SyncPlan
from ranchersync.trains import schedules, trains
from ui.shell import deps, queries
from ui.shell import started as started_operations
from ui.shell.outcome import Outcome


@dataclass(frozen=True)
class SnapshotRow:
    """A snapshot as the screen lists it."""

    id: int
    name: str
    kind: str
    environment_id: int | None
    environment: str
    created_by: str
    created_at: dt.datetime
    service_count: int
    operation_id: int | None


def list_snapshots(environment_id: int | None = None, *, automatic: bool = True) -> tuple[SnapshotRow, ...]:
    """Snapshots, newest first (read from the database each run: they are few, and one taken must show at once)."""
    ctx = deps.get_context()
    with ctx.session() as session:
        views = store.list_snapshots(session, environment_id, automatic=automatic)
    return tuple(SnapshotRow(v.id, v.name, v.kind, v.environment_id, v.environment, v.created_by, v.created_at,
                             len(v.entries), v.operation_id) for v in views)


def snapshot_services(snapshot_id: int) -> list[dict[str, Any]]:
    """One row per container of every service the snapshot holds: app instance, image, digest."""
    ctx = deps.get_context()
    with ctx.session() as session:
        view = store.get_snapshot(session, snapshot_id)
    return [{"Service": e.name, "Kind": e.kind, "App instance": e.instance,
             "Container": f"{c.name} (init)" if c.init else c.name, "Image": c.image, "Digest": c.digest or "—"}
            for e in view.entries for c in e.containers]


def create(actor: Actor, environment_id: int, name: str) -> Outcome:
    """Record every service of the environment now under `name`."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            view = store.create_snapshot(session, ctx.cipher, actor, environment=environment_id, name=name,
                                         factory=deps.client_factory())
    except RancherSyncError as error:
        return Outcome.failed(error)
    return Outcome.done(f"Snapshot {view.name} of {view.environment} taken: {len(view.entries)} service(s).")


def compare(snapshot_id: int, *, other_snapshot: int | None = None,
            environment_id: int | None = None) -> tuple[str, str, list[entries.DiffRow]] | Outcome:
    """A snapshot (left) against another snapshot or against what an environment runs now (right): the left name,
    the right name and the rows."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            if environment_id is not None:
                left, rows = store.diff_with_environment(session, ctx.cipher, snapshot_id, environment_id,
                                                         factory=deps.client_factory())
                env = queries.environment(environment_id)
                return left.name, f"{env.name if env else 'the environment'} now", rows
            if other_snapshot is None:
                raise ValueError("compare with a snapshot or an environment")
            left, right = store.get_snapshot(session, snapshot_id), store.get_snapshot(session, other_snapshot)
            return left.name, right.name, entries.diff(left.entries, right.entries)
    except RancherSyncError as error:
        return Outcome.failed(error)


def plan(snapshot_id: int, target_id: int) -> SyncPlan | Outcome:
    """Plan putting the snapshot in place in the target, read from Rancher now: a restore when the target is the
    snapshot's own environment, else a promotion."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            view = store.get_snapshot(session, snapshot_id)
            if view.environment_id == target_id:
                return trains.plan_restore(session, ctx.cipher, target_id, snapshot_id, deps.client_factory())
            return trains.plan_snapshot_promotion(session, ctx.cipher, snapshot_id, target_id,
                                                  deps.client_factory())
    except RancherSyncError as error:
        return Outcome.failed(error)


def start(actor: Actor, plan: SyncPlan, *, request_id: str, confirm_env: str | None,
          options: SyncOptions) -> int | Outcome:
    """Start the reviewed plan as one operation on the server (all or nothing) and return at once with its id; or
    the approval request made (a target that needs approvals), or why nothing was done. `request_id` is the open
    review's: the database refuses to apply it twice."""
    if not plan.to_apply:
        return Outcome(False, "Nothing to change: the target runs the snapshot's images already.",
                       title="Nothing to do")
    ctx = deps.get_context()
    try:
        started = jobs.start_sync(ctx, actor, plan, request_id=request_id,
                                  confirmed=sync.Confirmation(confirm_env=confirm_env),
                                  options=trains.train_options(options), factory=deps.client_factory())
    except RancherSyncError as error:
        return Outcome.failed(error)
    finally:
        queries.clear_history()
        queries.clear_services()
    if isinstance(started, Requested):
        return Outcome.done(f"Approval request #{started.request_id} created: the snapshot goes into "
                            f"{started.target} once {started.required} other person(s) approve it on the Approvals "
                            "page.")
    started_operations.remember(started.operation_id, options.timeout_seconds if options.verify else None)
    return started.operation_id


def schedule(actor: Actor, snapshot_id: int, target_id: int, fire_at: dt.datetime, timezone: str,
             confirm_env: str | None) -> Outcome:
    """Schedule putting the snapshot in place at `fire_at`; into a target that needs approvals, its approval request
    is made now (approvable before it fires)."""
    try:
        ctx = deps.get_context()
        row = schedules.schedule_with_approvals(ctx, actor, schedules.Schedule(
            target=target_id, fire_at=fire_at, timezone=timezone, snapshot=snapshot_id, confirm_env=confirm_env),
            factory=deps.client_factory())
    except RancherSyncError as error:
        return Outcome.failed(error)
    ahead = (f" Approval request #{row.approval_request_id} can be approved before then on the Approvals page."
             if row.approval_request_id else "")
    return Outcome.done(f"Scheduled request #{row.id} ({schedules.describe(row)}) fires "
                        f"{fire_at.strftime('%Y-%m-%d %H:%M')} {timezone}; it is planned and checked again then."
                        + ahead)
