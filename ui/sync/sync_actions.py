"""Sync and rollback for the screens: read both environments, plan (pure), apply (or, where four-eyes holds, store
an approval request) or roll back in a worker of ours while the script's thread relays the progress events, then
report from the history's detail of the operation — the same read model as the Sync history screen."""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ranchersync import history, jobs, sync
from ranchersync.access.identity import Actor
from ranchersync.approvals.promote import Applied, Promotion, Requested, promote
from ranchersync.catalogue.environments import get_environment
from ranchersync.governance import four_eyes
from ranchersync.history import OperationDetail
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.images import RetagMode
from ranchersync.sync import ProgressEvent, SyncOptions, SyncPlan, SyncSides, TargetChoice
from ui.shell import deps, queries
from ui.shell.outcome import Outcome

OPERATION_TIMEOUTS = "operation_timeouts"  # session state: operation id → its rollout timeout (the live page)
Report = OperationDetail | Outcome  # the finished operation, or the request made, or why nothing was done


def requested_text(requested: Requested) -> str:
    """What the dashboard says when a reviewed sync became an approval request."""
    return (f"Approval request #{requested.request_id} created: the sync into {requested.target} runs once "
            f"{requested.required} other person(s) approve it on the Approvals page.")


def read_sync_sides(source_id: int, target_id: int) -> SyncSides | Outcome:
    """Read both environments from Rancher now (never from the 30 s cache: the plan must show what is there now);
    refused while any of their app instances cannot be read (a plan must not mistake an unreadable app instance
    for a missing service)."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            return sync.read_sides(session, ctx.cipher, source_id, target_id, deps.client_factory())
    except RancherSyncError as error:
        return Outcome.failed(error)


def plan_sync(
    sides: SyncSides,
    keys: list[tuple[str, str]],
    *,
    mode: RetagMode,
    targets: dict[tuple[str, str], TargetChoice],
) -> SyncPlan | Outcome:
    """Plan promoting these services (which the source runs) from what `read_sync_sides` read; pure, so changing
    the mode or a target choice in the dialog re-plans without asking Rancher again."""
    try:
        return sync.plan_sync(sides.source, sides.target, sides.source_services, sides.target_services,
                              selected=keys, mode=mode, targets=targets)
    except RancherSyncError as error:
        return Outcome.failed(error)


def apply_sync(
    actor: Actor,
    plan: SyncPlan,
    *,
    request_id: str,
    confirm_env: str | None,
    options: SyncOptions,
    on_event: Callable[[ProgressEvent], None],
    on_result: Callable[[Report], None],
    override_policy: str | None = None,
) -> Report:
    """Apply a confirmed plan, or request it when the target needs approvals (the core's one way in), and report
    each service's result (also to `on_result`). `request_id` is the open confirmation's: the database refuses to
    apply it twice (a double click, a rerun)."""
    ctx = deps.get_context()
    return _relayed(
        lambda progress: promote(ctx, actor, plan, request_id=request_id,
                                 confirmed=sync.Confirmation(confirm_env=confirm_env,
                                                             override_policy=override_policy), options=options,
                                 progress=progress, factory=deps.client_factory()),
        on_event=on_event, on_result=on_result,
    )


def terminate(actor: Actor, operation_id: int, keep: bool) -> Outcome:
    """Ask the running operation to stop (from whichever replica runs it): roll back what changed, or keep it."""
    try:
        jobs.terminate_operation(deps.get_context(), actor, operation_id, keep=keep)
    except RancherSyncError as error:
        return Outcome.failed(error)
    queries.clear_history()
    return Outcome.done(f"Operation #{operation_id} is asked to stop: it " +
                        ("keeps what changed." if keep else "rolls back what changed."))


def approvals_needed(actor: Actor, target_id: int) -> int:
    """How many approvals a sync by the signed-in actor into this environment needs (0: it applies at once)."""
    ctx = deps.get_context()
    with ctx.session() as session:
        return four_eyes.approvals_needed(get_environment(session, target_id), actor)


def rollback_operation(
    actor: Actor,
    operation_id: int,
    *,
    request_id: str,
    confirm_env: str | None,
    on_event: Callable[[ProgressEvent], None],
    on_result: Callable[[Report], None],
) -> Report:
    """Put back the images an operation replaced, as a new rollback operation, and report each service.
    `request_id` is the open confirmation's, so a double click cannot roll back twice."""
    ctx = deps.get_context()
    return _relayed(
        lambda progress: sync.rollback_operation(ctx, operation_id, actor=actor,
                                                 request_id=request_id, confirm_env=confirm_env,
                                                 options=SyncOptions(poll_seconds=0.5), progress=progress,
                                                 factory=deps.client_factory()),
        on_event=on_event, on_result=on_result,
    )


def _relayed(
    run: Callable[[Callable[[ProgressEvent], None]], Promotion | int],
    *,
    on_event: Callable[[ProgressEvent], None],
    on_result: Callable[[Report], None],
) -> Report:
    """Run a sync or rollback in a worker of ours while this (the script's) thread relays its progress events.

    The core reports progress from its worker threads, where Streamlit must not be called. When drawing an event
    stops the script (a rerun, a closed tab), the operation still runs to its end, `on_result` still gets its
    report, and only then is the stop let through.
    """
    events: queue.SimpleQueue[ProgressEvent] = queue.SimpleQueue()
    stopped: BaseException | None = None
    result: Report
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rsm-operation") as worker:
            future = worker.submit(run, events.put)
            while not (future.done() and events.empty()):
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if stopped is None:
                    try:
                        on_event(event)
                    except BaseException as stop:  # Streamlit stops the script at a drawing call
                        stopped = stop
            done = future.result()
        if isinstance(done, Requested):
            result = Outcome.done(requested_text(done))
        else:
            operation_id = done.operation_id if isinstance(done, Applied) else done
            with deps.get_context().session() as session:
                result = history.get_operation_detail(session, operation_id)
    except RancherSyncError as error:  # a busy target too: SyncBusy names it and says what to do
        result = Outcome.failed(error)
    finally:
        queries.clear_services()  # the next run shows the versions as they are now
        queries.clear_history()
    on_result(result)
    if stopped is not None:
        raise stopped
    return result
