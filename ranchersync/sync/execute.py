"""Apply planned image changes to target workloads, verify their rollouts, record each step, roll back on failure.

Sync, rollback and resume all come down to the same work: for each target workload, move some containers from
an expected image to a new one. A container that no longer runs the expected image was changed by someone else:
it is never overwritten, the service is re-planned and reported instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from functools import partial

from ranchersync.catalogue.sites import ClientFactory, Connection
from ranchersync.context import AppContext
from ranchersync.inventory.listing import ClientPool, client_pool
from ranchersync.kernel.errors import (
    ConflictError,
    DatabaseUnavailable,
    RancherAPIError,
    RancherNotFound,
    RancherSyncError,
    RancherUnavailable,
    ValidationError,
)
from ranchersync.rancher import ImageChange, RancherClient, Workload, retry_delay
from ranchersync.sync import records
from ranchersync.sync.events import ROLLBACK_STAGES, ProgressEvent, ProgressListener
from ranchersync.sync.rollouts import RolloutWatch, verify_checks
from ranchersync.sync.runs import Move, ServiceRun, SyncOptions, WorkItem, finish

__all__ = ["ANNOTATION_OPERATION", "ANNOTATION_SOURCE", "Move", "ServiceRun", "SyncOptions", "WorkItem",
           "new_request_id", "reverse", "rollback_incomplete", "run_items", "undo_runs"]

ANNOTATION_OPERATION = "ranchersync.io/operation-id"
ANNOTATION_SOURCE = "ranchersync.io/source-environment"
WRITE_ATTEMPTS = 4  # PATCHes of one workload whose answer was lost or failed, each after reading it back
WRITE_BACKOFF = 0.5  # seconds, doubling, jittered


def new_request_id() -> str:
    """An id for one confirmed plan; the database refuses to apply the same one twice."""
    return uuid.uuid4().hex


def run_items(
    ctx: AppContext,
    operation_id: int,
    items: Sequence[WorkItem],
    connections: Mapping[int, Connection],
    *,
    options: SyncOptions,
    annotations: dict[str, str],
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
    undoing: bool = False,
) -> list[ServiceRun]:
    """Patch every item (bounded concurrency), each rollout watched from the moment its PATCH lands, all of them
    together (`RolloutWatch`); then the gates and soak of those rolled out; record each step.

    `undoing`: this is the automatic rollback of the same operation, and its events say so (`ROLLBACK_STAGES`).
    Raises `records.RecordIncomplete` (naming what was changed) when the database stayed unreachable past its
    outage budget: no further item is started then, and those under way finish their Rancher work first.
    """
    listener = progress or (lambda _event: None)
    say = (lambda event: listener(replace(event, stage=ROLLBACK_STAGES[event.stage]))) if undoing else listener
    if not undoing:
        for item in items:
            say(ProgressEvent(item.result_id, item.name, item.target.name, "planned"))
    workers = max(1, options.concurrency)
    lost: list[DatabaseUnavailable] = []
    runs: list[ServiceRun] = []

    def guarded(step: Callable[[], object]) -> None:
        if lost:
            return  # the record cannot follow any more: start nothing new on Rancher
        try:
            step()
        except DatabaseUnavailable as error:
            lost.append(error)

    with client_pool(connections, factory) as pool, ThreadPoolExecutor(max_workers=workers) as executor:
        runs = [ServiceRun(item) for item in items]

        def submit(step: Callable[[], object]) -> Future[None]:
            return executor.submit(guarded, step)

        applying = {submit(partial(_apply, ctx, pool, run, annotations, options, say)): run for run in runs}
        watch = RolloutWatch(ctx, pool, operation_id, options, say, submit, keep_digests=not undoing,
                             stoppable=not undoing) if options.verify else None
        to_verify: list[ServiceRun] = []
        try:
            _drive(applying, watch, to_verify, lost, options.poll_seconds)
        finally:
            if watch is not None:
                watch.close()
        wait([*applying, *(watch.finishing if watch is not None else ())])
        checked = [r for r in to_verify if r.awaiting is not None and r.status == "pending" and not r.stopped]
        if checked and not lost:
            try:
                verify_checks(ctx, checked, say, operation_id, executor)
            except DatabaseUnavailable as error:
                lost.append(error)
        try:
            for run in to_verify:
                # Not verified (verification off): the PATCH itself is the success. A stopped run is the caller's
                # (run_operation): kept or rolled back, as the terminate request says.
                if run.status == "pending" and not run.stopped and not lost:
                    run.status = "success"
                    records.update_result(ctx, run.item.result_id, status="success")
                    say(ProgressEvent(run.item.result_id, run.item.name, run.item.target.name, "success"))
        except DatabaseUnavailable as error:
            lost.append(error)
    if lost:
        raise records.RecordIncomplete(operation_id, [r.describe() for r in runs if r.touched],
                                       budget=ctx.settings.db_outage_seconds,
                                       kind="rollback" if undoing else "") from lost[0]
    return runs


def _drive(applying: Mapping[Future[None], ServiceRun], watch: RolloutWatch | None, to_verify: list[ServiceRun],
           lost: list[DatabaseUnavailable], poll_seconds: float) -> None:
    """Until every PATCH is answered and every rollout settled: watch each run whose PATCH landed (`to_verify`)
    at once, and check the watched rollouts every `poll_seconds`. Stops early when the database is lost."""
    waiting = set(applying)
    next_round = time.monotonic()
    while (waiting or (watch is not None and watch.busy)) and not lost:
        pause = max(0.0, next_round - time.monotonic()) if watch is not None and watch.busy else None
        if waiting:
            landed, waiting = wait(waiting, timeout=pause, return_when=FIRST_COMPLETED)
        else:
            time.sleep(pause or 0.0)
            landed = set()
        for future in landed:
            run = applying[future]
            if run.applied and run.status == "pending":
                to_verify.append(run)
                if watch is not None:
                    watch.add(run)
        if watch is not None and watch.busy and time.monotonic() >= next_round:
            next_round = time.monotonic() + poll_seconds  # a round every poll_seconds, however long its reads take
            try:
                watch.check()
            except DatabaseUnavailable as error:
                lost.append(error)


def _apply(
    ctx: AppContext, pool: ClientPool, run: ServiceRun, annotations: dict[str, str], options: SyncOptions,
    say: ProgressListener,
) -> ServiceRun:
    item = run.item
    say(ProgressEvent(item.result_id, item.name, item.target.name, "applying"))
    client = pool.client(item.target)
    ref = item.target
    try:
        todo: list[Move] = list(item.moves)
        version = item.resource_version  # a fresh plan's: it guards the PATCH, so no read of our own is needed
        if not version:
            # A rollback or a resume: see what each container runs now before touching it.
            current = client.get_workload(ref.cluster_id, ref.namespace, item.kind, item.name)
            todo, drifted = _pending_moves(current, item.moves)
            if drifted:
                return finish(ctx, run, "skipped", _drift_message(drifted), say)
            if not todo:  # already there (applied before a crash, or by someone else)
                return _landed(ctx, run, current.generation, say, quiet=True)
            version = current.resource_version
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                patched = client.patch_images(
                    ref.cluster_id, ref.namespace, item.kind, item.name,
                    ImageChange(containers={m.name: m.new for m in todo if not m.init},
                                init_containers={m.name: m.new for m in todo if m.init}, annotations=annotations),
                    resource_version=version,
                )
            except ConflictError:
                if attempt == WRITE_ATTEMPTS or (item.resource_version and item.generation is None):
                    raise
                # A status update between the read the PATCH is conditioned on (the plan's, or a rollback's own a
                # moment ago) and the PATCH is no reason to give up: a rollout going on writes its status often.
                # Read again; a fresh plan goes on only while the spec is the one reviewed (same generation).
                current = client.get_workload(ref.cluster_id, ref.namespace, item.kind, item.name)
                if item.resource_version and current.generation != item.generation:
                    raise  # the spec was edited since the plan: what was reviewed is not what is there
                todo, drifted = _pending_moves(current, item.moves)
                if drifted:
                    return finish(ctx, run, "skipped", _drift_message(drifted), say)
                if not todo:
                    return _landed(ctx, run, current.generation, say)
                version = current.resource_version
                continue
            except RancherNotFound:
                raise
            except RancherAPIError as error:
                if not _patch_may_have_landed(error):
                    raise
                # The answer was lost or Rancher failed: never send it again blind. Read the workload back: its
                # containers tell whether the PATCH took (then it is done), or not (then it is sent again, on the
                # resourceVersion just read, so a change by someone else in between still answers 409).
                run.uncertain = True
                try:
                    current = client.get_workload(ref.cluster_id, ref.namespace, item.kind, item.name)
                except RancherSyncError as read_error:
                    return finish(ctx, run, "failed", f"{error}; reading it back failed too ({read_error}): whether "
                                   "the change landed is unknown", say)
                run.uncertain = False
                todo, drifted = _pending_moves(current, item.moves)
                if drifted:
                    return finish(ctx, run, "skipped", _drift_message(drifted), say)
                if not todo:
                    return _landed(ctx, run, current.generation, say)
                if attempt == WRITE_ATTEMPTS:
                    return finish(ctx, run, "failed", f"{error} ({WRITE_ATTEMPTS} tries; read back each time: the "
                                   "workload still runs its previous images)", say)
                version = current.resource_version
                time.sleep(retry_delay(attempt - 1, WRITE_BACKOFF))
            else:
                return _landed(ctx, run, patched.generation, say)
    except ConflictError:
        return finish(ctx, run, "skipped", _replan(client, item), say)
    except RancherNotFound:
        return finish(ctx, run, "skipped", f"{item.kind} {item.name} was deleted since the plan", say)
    except RancherAPIError as error:
        return finish(ctx, run, "failed", str(error), say)
    except ValidationError as error:
        return finish(ctx, run, "failed", str(error), say)
    return run


def _landed(ctx: AppContext, run: ServiceRun, generation: int, say: ProgressListener, *, quiet: bool = False
            ) -> ServiceRun:
    """The PATCH took (or the workload was already there): remember it first, then record it."""
    run.applied, run.uncertain, run.generation = True, False, generation
    records.update_result(ctx, run.item.result_id, applied=True)
    if not quiet:
        say(ProgressEvent(run.item.result_id, run.item.name, run.item.target.name, "applied"))
    return run


def _pending_moves(current: Workload, moves: Sequence[Move]) -> tuple[list[Move], list[tuple[Move, str]]]:
    """Moves still to make, and containers that run neither the expected nor the new image (changed by others)."""
    images = {(c.name, c.init): c.image for c in current.containers}
    todo, drifted = [], []
    for move in moves:
        now = images.get((move.name, move.init))
        if now == move.new:
            continue
        if now == move.expected:
            todo.append(move)
        else:
            drifted.append((move, now or "(no such container)"))
    return todo, drifted


def _drift_message(drifted: Sequence[tuple[Move, str]]) -> str:
    parts = [f"container {m.name} now runs {now} (planned from {m.expected})" for m, now in drifted]
    return "changed since the plan, not overwritten: " + "; ".join(parts) + ". Review and sync again."


def _replan(client: RancherClient, item: WorkItem) -> str:
    ref = item.target
    try:
        current = client.get_workload(ref.cluster_id, ref.namespace, item.kind, item.name)
    except RancherSyncError as error:
        return f"changed since the plan (409), and re-reading it failed: {error}"
    todo, drifted = _pending_moves(current, item.moves)
    if drifted:
        return _drift_message(drifted)
    changes = ", ".join(f"{m.name}: {m.expected} → {m.new}" for m in todo) or "nothing left to change"
    return f"changed since the plan (another field was edited), not overwritten; re-planned: {changes}. Sync again."


def _patch_may_have_landed(error: RancherAPIError) -> bool:
    """A PATCH whose answer was lost (timeout, dropped connection) or that met a server error (5xx, 429) may or may
    not have been applied: only reading the workload back tells."""
    return isinstance(error, RancherUnavailable) or (error.status or 0) >= 500 or error.status == 429


def reverse(item: WorkItem) -> WorkItem:
    """The work that undoes an item: every container back from its new image to its expected one."""
    return replace(
        item,
        moves=tuple(Move(m.name, m.init, m.new, m.expected) for m in item.moves),
        resource_version=None,
    )


UNDO_PASSES = 3  # an undo whose PATCH failed is tried again (after re-reading the workload), up to this many passes


def undo_runs(
    ctx: AppContext,
    operation_id: int,
    applied: Sequence[ServiceRun],
    connections: Mapping[int, Connection],
    *,
    options: SyncOptions,
    annotations: dict[str, str],
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
) -> list[ServiceRun]:
    """The automatic rollback of what `applied` changed; one run per applied run, in the same order.

    An undo whose PATCH could not be made (Rancher errors past the retries) is tried again in a later pass: each
    pass reads the workload first, so one that was put back already is left as it is. A rollout that fails is not
    tried again: its images were put back."""
    items = [reverse(run.item) for run in applied]
    done: dict[int, ServiceRun] = {}
    todo = list(range(len(items)))
    for attempt in range(UNDO_PASSES):
        runs = run_items(ctx, operation_id, [items[i] for i in todo], connections, options=options,
                         annotations=annotations, progress=progress, factory=factory, undoing=True)
        done.update(zip(todo, runs, strict=True))
        todo = [i for i, run in zip(todo, runs, strict=True) if run.status == "failed" and not run.applied]
        if not todo:
            break
        if attempt + 1 < UNDO_PASSES:
            time.sleep(retry_delay(attempt, 2.0))
    return [done[i] for i in range(len(items))]


def rollback_incomplete(operation_id: int, pairs: Sequence[tuple[ServiceRun, ServiceRun]]) -> str:
    """The record of an automatic rollback that could not finish: which service is left on which images, why, and
    the command that finishes it (`rollback` again reads each workload and changes only what is left)."""
    parts = []
    for original, undo in pairs:
        ref = original.item.target
        where = f"site {ref.site_name}, cluster {ref.cluster_id}, namespace {ref.namespace}"
        new = ", ".join(m.new for m in original.item.moves)
        old = ", ".join(m.expected for m in original.item.moves)
        if undo.status == "skipped":
            state = f"changed by someone else meanwhile, left as it is ({undo.message})"
        elif undo.applied:
            state = f"put back on {old}, but that rollout did not finish ({undo.message})"
        elif undo.uncertain:
            state = f"on {new} or {old}: it could not be read back ({undo.message})"
        else:
            state = f"left on {new} ({undo.message})"
        parts.append(f"{original.item.name} ({where}): {state}")
    return (f"rollback incomplete: {'; '.join(parts)}. Run `python -m ranchersync rollback {operation_id}` to finish "
            "it: it puts back only what is left.")
