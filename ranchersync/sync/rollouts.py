"""Waiting for rollouts: every changed workload is watched from the moment its PATCH lands (not once every PATCH
of the operation has), all of them together — each round one list per namespace and kind rather than one read per
workload, one heartbeat for the operation rather than one per workload — and a workload seen rolled out is finished
at once, beside the others (the digests its pods run, its gates and soak to come, its result recorded)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from ranchersync.context import AppContext
from ranchersync.inventory.digests import verified_digests
from ranchersync.inventory.listing import ClientPool
from ranchersync.inventory.reading import InstanceRef
from ranchersync.kernel.errors import RancherAPIError, RancherNotFound, RancherSyncError
from ranchersync.rancher import Pod, RancherClient, Workload, rollout_state
from ranchersync.sync import records
from ranchersync.sync.events import ProgressEvent, ProgressListener
from ranchersync.sync.runs import Move, ServiceRun, SyncOptions, WorkItem, finish, succeed_all
from ranchersync.verification import run as verification

# Watched workloads of one namespace and kind from which one list costs less than a read of each (a list of a big
# namespace is paged; a few reads are cheaper than that).
LIST_FROM = 3
READERS = 8  # threads reading the watched rollouts (one list per namespace and kind)

Reading = tuple[Workload | None, RancherAPIError | None]  # (None, None): the workload is gone


@dataclass
class _Watched:
    run: ServiceRun
    deadline: float  # monotonic: its rollout's timeout, counted from its PATCH
    last_message: str = ""


class RolloutWatch:
    """The rollouts of one operation's runs, checked together in rounds (`check`), each run from when it is added.

    `keep_digests`: a sync's own rollouts (not its automatic rollback's) record the digests their pods run and run
    the target's gates and soak. `stoppable`: a terminate request (read with each round's heartbeat, from any
    process) stops the waiting; the automatic rollback is never stopped. `submit` runs a task in the operation's
    worker pool, guarded against a database outage (the caller's `lost`)."""

    def __init__(self, ctx: AppContext, pool: ClientPool, operation_id: int, options: SyncOptions,
                 say: ProgressListener, submit: Callable[[Callable[[], object]], Future[None]], *,
                 keep_digests: bool, stoppable: bool) -> None:
        self._ctx, self._pool, self._operation_id, self._options, self._say = ctx, pool, operation_id, options, say
        self._submit = submit
        self._keep_digests, self._stoppable = keep_digests, stoppable
        # The rounds' reads have threads of their own: behind the pool's PATCHes and finishing they would lag.
        self._readers = ThreadPoolExecutor(max_workers=min(READERS, max(1, options.concurrency)),
                                           thread_name_prefix="rollouts")
        self._watched: list[_Watched] = []
        self._checks: dict[tuple[int, str], verification.Checks] = {}  # (environment id, service): its gates, soak
        self.finishing: list[Future[None]] = []  # rolled-out runs being finished (digests, checks, record)
        self.stopping = False

    @property
    def busy(self) -> bool:
        """Whether some rollout is still waited for."""
        return bool(self._watched)

    def add(self, run: ServiceRun) -> None:
        """Watch a run whose PATCH just landed (stopped at once when the operation is being terminated)."""
        item = run.item
        self._say(ProgressEvent(item.result_id, item.name, item.target.name, "verifying"))
        if self.stopping:
            run.stopped = True
            return
        self._watched.append(_Watched(run, time.monotonic() + self._options.timeout_seconds))

    def check(self) -> None:
        """One round: read every watched workload (the reads side by side), settle those whose rollout ended, then
        beat the operation's heart and stop waiting if it was asked to terminate."""
        groups: dict[tuple[int, str, str, str], list[_Watched]] = {}
        for watched in self._watched:
            ref = watched.run.item.target
            groups.setdefault((ref.site_id, ref.cluster_id, ref.namespace, watched.run.item.kind), []).append(watched)
        reads = [self._readers.submit(self._read, group) for group in groups.values()]
        still: list[_Watched] = []
        rolled_out: list[list[tuple[ServiceRun, Workload, str]]] = []
        for group, read in zip(groups.values(), reads, strict=True):
            done: list[tuple[ServiceRun, Workload, str]] = []
            for watched, reading in zip(group, read.result(), strict=True):
                if self._settled(watched, reading, done):
                    continue
                still.append(watched)
            if done:
                rolled_out.append(done)
        self._watched = still
        for done in rolled_out:  # each namespace's, beside the others'
            self.finishing.append(self._submit(partial(self._rolled_out, done)))
        if self._watched and records.heartbeat(self._ctx, self._operation_id) and self._stoppable:
            for watched in self._watched:
                watched.run.stopped = True
            self._watched, self.stopping = [], True

    def close(self) -> None:
        """Let the readers go (the rollouts' finishing runs in the operation's own pool)."""
        self._readers.shutdown(wait=True)

    def _read(self, group: Sequence[_Watched]) -> list[Reading]:
        ref = group[0].run.item.target
        client = self._pool.client(ref)
        if len(group) >= LIST_FROM:
            try:
                listed = client.list_workloads(ref.cluster_id, ref.namespace, [group[0].run.item.kind])
            except RancherAPIError:
                pass  # a token that may read each workload but not list them: read them one by one
            else:
                by_name = {workload.name: workload for workload in listed}
                return [(by_name.get(w.run.item.name), None) for w in group]
        readings: list[Reading] = []
        for watched in group:
            item = watched.run.item
            try:
                readings.append((client.get_workload(ref.cluster_id, ref.namespace, item.kind, item.name), None))
            except RancherNotFound:
                readings.append((None, None))
            except RancherAPIError as error:
                readings.append((None, error))
        return readings

    def _settled(self, watched: _Watched, reading: Reading, rolled_out: list[tuple[ServiceRun, Workload, str]]
                 ) -> bool:
        """Judge one reading (the rules of `kubectl rollout status`); True when the run needs no more watching."""
        run, (current, error) = watched.run, reading
        item = run.item
        if current is None and error is None:
            finish(self._ctx, run, "failed", f"{item.kind} {item.name} was deleted during its rollout", self._say)
            return True
        if current is None:
            watched.last_message = f"could not read the rollout: {error}"
        else:
            replaced = _replaced_during_rollout(current, item.moves)
            if replaced:
                finish(self._ctx, run, "failed", f"no longer runs the images it was changed to ({replaced}): "
                       "restored or changed by someone else during its rollout", self._say)
                return True
            state = rollout_state(current)
            observed = (current.observed_generation or 0) >= run.generation
            if observed and state.failed:
                finish(self._ctx, run, "failed", f"rollout failed: {state.message}", self._say)
                return True
            if observed and state.done:
                rolled_out.append((run, current, state.message))
                return True
            watched.last_message = state.message
        if time.monotonic() >= watched.deadline:
            finish(self._ctx, run, "failed", f"rollout not finished after {self._options.timeout_seconds:.0f} s: "
                   f"{watched.last_message}", self._say)
            return True
        return False

    def _digests(self, done: Sequence[tuple[ServiceRun, Workload, str]]) -> list[dict[str, str] | None]:
        """The digests the pods of each rolled-out workload of one namespace run: one list of the namespace's pods
        for several, a list by each one's selector for a few."""
        ref = done[0][0].item.target
        client = self._pool.client(ref)
        pods: list[Pod] | None = None
        if len(done) >= LIST_FROM:
            try:
                pods = client.list_pods(ref.cluster_id, ref.namespace)
            except RancherSyncError:
                pods = None  # read them one by one
        return [_running_digests(client, ref, current, run.item, pods) for run, current, _ in done]

    def _rolled_out(self, done: Sequence[tuple[ServiceRun, Workload, str]]) -> None:
        """The runs of one namespace seen rolled out in one round: the digests their pods run (one list of the
        namespace's pods for several), then those with gates or soak wait for them (`awaiting`), the others
        succeed, recorded in one transaction."""
        digests = self._digests(done) if self._keep_digests else [None] * len(done)
        succeeded: list[tuple[ServiceRun, str, dict[str, str] | None]] = []
        for (run, current, message), found in zip(done, digests, strict=True):
            job = self._checks_job(run, current) if self._keep_digests else None
            if job is not None:  # its gates and soak run with every other service's, once all rolled out
                run.awaiting = (job, found, message)
            else:
                succeeded.append((run, message, found))
        succeed_all(self._ctx, succeeded, self._say)

    def _checks_job(self, run: ServiceRun, workload: Workload) -> verification.Job | None:
        """After a verified rollout, what the target environment's gates and soak will check on this service (the
        verification package); None when the environment has none. The checks are read once per service name."""
        item, ref = run.item, run.item.target
        key = (ref.environment_id, item.name)
        if key not in self._checks:
            self._checks[key] = verification.load_checks(self._ctx, ref.environment_id, item.name)
        checks = self._checks[key]
        if checks.empty:
            return None
        target = verification.Target(item.result_id, ref.cluster_id, ref.namespace, item.name,
                                     workload.selector_string(), tuple(m.new for m in item.moves if not m.init))
        pool, say = self._pool, self._say
        return verification.Job(checks, target, lambda: pool.client(ref),
                                lambda line: say(ProgressEvent(item.result_id, item.name, ref.name, "verifying",
                                                               line)))


def _replaced_during_rollout(current: Workload, moves: Sequence[Move]) -> str:
    """The containers that no longer run their new image while the rollout is checked ('' when all do): a Rancher
    restored from an older state, or someone else's change. Waiting for the rollout would wait for nothing."""
    images = {(c.name, c.init): c.image for c in current.containers}
    return "; ".join(f"container {m.name} runs {images.get((m.name, m.init)) or '(no such container)'}"
                     for m in moves if images.get((m.name, m.init)) != m.new)


def verify_checks(ctx: AppContext, runs: Sequence[ServiceRun], say: ProgressListener, operation_id: int,
                  executor: ThreadPoolExecutor) -> None:
    """Every rolled-out service's gates and soak, together (one clock, batched queries); a failure fails the
    service, and the automatic rollback undoes it as a failed rollout. The results are recorded side by side."""
    jobs = [run.awaiting[0] for run in runs if run.awaiting is not None]
    verdicts = verification.verify_services(ctx, jobs, heartbeat=lambda: records.heartbeat(ctx, operation_id))

    def settle(pair: tuple[ServiceRun, verification.Verdict]) -> None:
        run, verdict = pair
        assert run.awaiting is not None
        _, digests, message = run.awaiting
        if verdict.passed:
            finish(ctx, run, "success", message, say, digests=digests)
        else:
            finish(ctx, run, "failed", verdict.message, say)

    list(executor.map(settle, zip(runs, verdicts, strict=True)))


def _running_digests(client: RancherClient, ref: InstanceRef, workload: Workload, item: WorkItem,
                     pods: Sequence[Pod] | None = None) -> dict[str, str]:
    """The digests the verified rollout's pods run, per changed container ("last promoted" in the service detail),
    from `pods` (its namespace's, listed already) or a list by its selector; {} when the pods cannot be read: the
    sync itself succeeded."""
    changed = {m.name: m.new for m in item.moves if not m.init and m.new != m.expected}
    if not changed or not workload.selector:
        return {}
    if pods is None:
        try:
            pods = client.list_pods(ref.cluster_id, ref.namespace, workload.selector_string())
        except RancherSyncError:
            return {}
    return verified_digests(workload, pods, changed)
