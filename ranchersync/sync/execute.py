"""Apply planned image changes to target workloads, verify their rollouts, record each step, roll back on failure.

Sync, rollback and resume all come down to the same work: for each target workload, move some containers from
an expected image to a new one. A container that no longer runs the expected image was changed by someone else:
it is never overwritten, the service is re-planned and reported instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

from ranchersync.catalogue.sites import ClientFactory, Connection
from ranchersync.context import AppContext
from ranchersync.inventory.digests import verified_digests
from ranchersync.inventory.listing import ClientPool, client_pool
from ranchersync.inventory.reading import InstanceRef
from ranchersync.kernel.errors import (
    ConflictError,
    DatabaseUnavailable,
    RancherAPIError,
    RancherNotFound,
    RancherSyncError,
    RancherUnavailable,
    ValidationError,
)
from ranchersync.rancher import ImageChange, RancherClient, Workload, retry_delay, rollout_state
from ranchersync.sync import records
from ranchersync.sync.events import ROLLBACK_STAGES, ProgressEvent, ProgressListener
from ranchersync.verification import run as verification

ANNOTATION_OPERATION = "ranchersync.io/operation-id"
ANNOTATION_SOURCE = "ranchersync.io/source-environment"
WRITE_ATTEMPTS = 4  # PATCHes of one workload whose answer was lost or failed, each after reading it back
WRITE_BACKOFF = 0.5  # seconds, doubling, jittered


@dataclass(frozen=True)
class SyncOptions:
    """How an operation runs."""

    verify: bool = True  # wait for each rollout to finish
    timeout_seconds: float = 300.0  # per rollout
    poll_seconds: float = 1.0
    auto_rollback: bool = True  # undo what was changed when any service fails
    concurrency: int = 16
    all_or_nothing: bool = False  # a service skipped while applying (changed since the plan) undoes the rest too


@dataclass(frozen=True)
class Move:
    """One container's expected image and the image to set."""

    name: str
    init: bool
    expected: str
    new: str


@dataclass(frozen=True)
class WorkItem:
    """One target workload to change, tied to its result row."""

    result_id: int
    target: InstanceRef
    kind: str
    name: str
    moves: tuple[Move, ...]
    resource_version: str | None = None  # the planned one: a PATCH conditioned on it answers 409 when it changed


RunStatus = Literal["pending", "success", "failed", "skipped"]


@dataclass
class ServiceRun:
    """How the work on one item went: its final status, why, and whether its PATCH landed."""

    item: WorkItem
    status: RunStatus = "pending"
    message: str = ""
    applied: bool = False
    uncertain: bool = False  # a PATCH was sent and whether it landed could not be read back
    stopped: bool = False  # its rollout was not waited for to the end: the operation was asked to terminate
    generation: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    # Rolled out, its gates and soak still to run (with every other service's, together): the checks, the
    # digests its pods run and the rollout's message for its success.
    awaiting: tuple[verification.Job, dict[str, str] | None, str] | None = None

    @property
    def touched(self) -> bool:
        """Whether this run changed, or may have changed, its workload."""
        return self.applied or self.uncertain

    def describe(self) -> str:
        """What this run did on Rancher, for a message: service, site, cluster, namespace and images."""
        ref = self.item.target
        images = ", ".join(f"{m.name} {m.expected} → {m.new}" for m in self.item.moves)
        verb = "may have been changed" if self.uncertain and not self.applied else "changed"
        return (f"{self.item.kind} {self.item.name} {verb} on site {ref.site_name}, cluster {ref.cluster_id}, "
                f"namespace {ref.namespace} ({images})")


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
    """Patch every item (bounded concurrency), then verify the rollouts together; record each step.

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

    def guarded(step: Callable[[ServiceRun], object]) -> Callable[[ServiceRun], None]:
        def run(service_run: ServiceRun) -> None:
            if lost:
                return  # the record cannot follow any more: start nothing new on Rancher
            try:
                step(service_run)
            except DatabaseUnavailable as error:
                lost.append(error)
        return run

    with client_pool(connections, factory) as pool, ThreadPoolExecutor(max_workers=workers) as executor:
        runs = [ServiceRun(item) for item in items]
        list(executor.map(guarded(lambda r: _apply(ctx, pool, r, annotations, options, say)), runs))
        to_verify = [o for o in runs if o.applied and o.status == "pending"]
        if options.verify and to_verify and not lost:
            list(executor.map(guarded(lambda o: _verify(ctx, pool, o, options, say, operation_id, not undoing,
                                                        stoppable=not undoing)), to_verify))
        checked = [r for r in to_verify if r.awaiting is not None and r.status == "pending" and not r.stopped]
        if checked and not lost:
            try:
                _verify_checks(ctx, checked, say, operation_id, executor)
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
                return _finish(ctx, run, "skipped", _drift_message(drifted), say)
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
                if item.resource_version or attempt == WRITE_ATTEMPTS:
                    raise  # a fresh plan's version changed: what was reviewed is not what is there
                # A rollback or a resume conditions its PATCH on its own read of a moment ago: a rollout's status
                # update in between is no reason to give up. Read again, check the containers again, send again.
                current = client.get_workload(ref.cluster_id, ref.namespace, item.kind, item.name)
                todo, drifted = _pending_moves(current, item.moves)
                if drifted:
                    return _finish(ctx, run, "skipped", _drift_message(drifted), say)
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
                    return _finish(ctx, run, "failed", f"{error}; reading it back failed too ({read_error}): whether "
                                   "the change landed is unknown", say)
                run.uncertain = False
                todo, drifted = _pending_moves(current, item.moves)
                if drifted:
                    return _finish(ctx, run, "skipped", _drift_message(drifted), say)
                if not todo:
                    return _landed(ctx, run, current.generation, say)
                if attempt == WRITE_ATTEMPTS:
                    return _finish(ctx, run, "failed", f"{error} ({WRITE_ATTEMPTS} tries; read back each time: the "
                                   "workload still runs its previous images)", say)
                version = current.resource_version
                time.sleep(retry_delay(attempt - 1, WRITE_BACKOFF))
            else:
                return _landed(ctx, run, patched.generation, say)
    except ConflictError:
        return _finish(ctx, run, "skipped", _replan(client, item), say)
    except RancherNotFound:
        return _finish(ctx, run, "skipped", f"{item.kind} {item.name} was deleted since the plan", say)
    except RancherAPIError as error:
        return _finish(ctx, run, "failed", str(error), say)
    except ValidationError as error:
        return _finish(ctx, run, "failed", str(error), say)
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


def _verify(
    ctx: AppContext, pool: ClientPool, run: ServiceRun, options: SyncOptions, say: ProgressListener,
    operation_id: int, keep_digests: bool = False, *, stoppable: bool = True,
) -> None:
    """Wait for one rollout, polling; cooperative cancellation: each poll beats the operation's heart and reads its
    terminate request (from any process), and a `stoppable` wait (not the automatic rollback's) stops there."""
    item, ref = run.item, run.item.target
    client = pool.client(ref)
    say(ProgressEvent(item.result_id, item.name, ref.name, "verifying"))
    deadline = time.monotonic() + options.timeout_seconds
    last_message = ""
    while True:
        try:
            current = client.get_workload(ref.cluster_id, ref.namespace, item.kind, item.name)
        except RancherNotFound:
            _finish(ctx, run, "failed", f"{item.kind} {item.name} was deleted during its rollout", say)
            return
        except RancherAPIError as error:
            last_message = f"could not read the rollout: {error}"
        else:
            replaced = _replaced_during_rollout(current, item.moves)
            if replaced:
                _finish(ctx, run, "failed", f"no longer runs the images it was changed to ({replaced}): restored or "
                        "changed by someone else during its rollout", say)
                return
            state = rollout_state(current)
            observed = (current.observed_generation or 0) >= run.generation
            if observed and state.failed:
                _finish(ctx, run, "failed", f"rollout failed: {state.message}", say)
                return
            if observed and state.done:
                found = _running_digests(client, ref, current, item) if keep_digests else None
                job = _checks_job(ctx, pool, run, current, say) if keep_digests else None
                if job is not None:  # its gates and soak run with every other service's, once all rolled out
                    run.awaiting = (job, found, state.message)
                    return
                _finish(ctx, run, "success", state.message, say, digests=found)
                return
            last_message = state.message
        if time.monotonic() >= deadline:
            _finish(ctx, run, "failed",
                    f"rollout not finished after {options.timeout_seconds:.0f} s: {last_message}", say)
            return
        if records.heartbeat(ctx, operation_id) and stoppable:
            run.stopped = True
            return
        time.sleep(options.poll_seconds)


def _replaced_during_rollout(current: Workload, moves: Sequence[Move]) -> str:
    """The containers that no longer run their new image while the rollout is checked ('' when all do): a Rancher
    restored from an older state, or someone else's change. Waiting for the rollout would wait for nothing."""
    images = {(c.name, c.init): c.image for c in current.containers}
    return "; ".join(f"container {m.name} runs {images.get((m.name, m.init)) or '(no such container)'}"
                     for m in moves if images.get((m.name, m.init)) != m.new)


def _checks_job(ctx: AppContext, pool: ClientPool, run: ServiceRun, workload: Workload, say: ProgressListener
                ) -> verification.Job | None:
    """After a verified rollout, what the target environment's gates and soak will check on this service (the
    verification package); None when the environment has none."""
    item, ref = run.item, run.item.target
    checks = verification.load_checks(ctx, ref.environment_id, item.name)
    if checks.empty:
        return None
    target = verification.Target(item.result_id, ref.cluster_id, ref.namespace, item.name,
                                 workload.selector_string(), tuple(m.new for m in item.moves if not m.init))
    return verification.Job(checks, target, lambda: pool.client(ref),
                            lambda line: say(ProgressEvent(item.result_id, item.name, ref.name, "verifying", line)))


def _verify_checks(ctx: AppContext, runs: Sequence[ServiceRun], say: ProgressListener, operation_id: int,
                   executor: ThreadPoolExecutor) -> None:
    """Every rolled-out service's gates and soak, together (one clock, batched queries); a failure fails the
    service, and the automatic rollback undoes it as a failed rollout. The results are recorded side by side."""
    jobs = [run.awaiting[0] for run in runs if run.awaiting is not None]
    verdicts = verification.verify_services(ctx, jobs, heartbeat=lambda: records.heartbeat(ctx, operation_id))

    def finish(pair: tuple[ServiceRun, verification.Verdict]) -> None:
        run, verdict = pair
        assert run.awaiting is not None
        _, digests, message = run.awaiting
        if verdict.passed:
            _finish(ctx, run, "success", message, say, digests=digests)
        else:
            _finish(ctx, run, "failed", verdict.message, say)

    list(executor.map(finish, zip(runs, verdicts, strict=True)))


def _running_digests(client: RancherClient, ref: InstanceRef, workload: Workload, item: WorkItem) -> dict[str, str]:
    """The digests the verified rollout's pods run, per changed container ("last promoted" in the service detail);
    {} when the pods cannot be read: the sync itself succeeded."""
    changed = {m.name: m.new for m in item.moves if not m.init and m.new != m.expected}
    if not changed or not workload.selector:
        return {}
    try:
        pods = client.list_pods(ref.cluster_id, ref.namespace, workload.selector_string())
    except RancherSyncError:
        return {}
    return verified_digests(workload, pods, changed)


def _finish(
    ctx: AppContext, run: ServiceRun, status: Literal["success", "failed", "skipped"], message: str,
    say: ProgressListener, digests: dict[str, str] | None = None,
) -> ServiceRun:
    run.status, run.message = status, message
    item = run.item
    extra = {"verified_digests": digests} if digests else {}
    records.update_result(ctx, item.result_id, status=status, error=message if status != "success" else None,
                          **extra)
    say(ProgressEvent(item.result_id, item.name, item.target.name, status, message))
    return run


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
