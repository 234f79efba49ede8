"""Sync and rollback for the screens: read both environments, plan (pure), then start the sync (or, where four-eyes
holds, store an approval request) or the rollback as a job on the server and return at once with the operation's
id: its live page (the history's detail of the operation) shows its progress and offers Terminate."""

from __future__ import annotations

from ranchersync import jobs, sync
from ranchersync.access.identity import Actor
from ranchersync.approvals.promote import Requested
from ranchersync.catalogue.environments import get_environment
from ranchersync.governance import four_eyes
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.images import RetagMode
from ranchersync.sync import SyncOptions, SyncPlan, SyncSides, TargetChoice
from ui.shell import deps, queries
from ui.shell import started as started_operations
from ui.shell.outcome import Outcome


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


def check_plan(plan: SyncPlan, *, pin_digests: bool) -> SyncPlan | Outcome:
    """The core's checks after the reads, as the CLI gets them: each new image resolved in its registry (digests,
    changelog, rows the registry refuses, unreachable-registry warnings), a quarantined digest refused, and
    pinning. The registries' answers are cached a short time in the core, so re-planning asks them once."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            return sync.check_plan(session, ctx.cipher, plan, pin_digests=pin_digests,
                                   factory=deps.client_factory())
    except RancherSyncError as error:  # ImageQuarantined: refused with the quarantine's reason
        return Outcome.failed(error)


def start_sync(
    actor: Actor,
    plan: SyncPlan,
    *,
    request_id: str,
    confirm_env: str | None,
    options: SyncOptions,
    override_policy: str | None = None,
) -> int | Outcome:
    """Start a confirmed plan on the server (or request it when the target needs approvals: the core's one way
    in) and return at once: the operation's id, or the request made, or why nothing was done. `request_id` is the
    open confirmation's: the database refuses to apply it twice (a double click, a rerun)."""
    ctx = deps.get_context()
    try:
        started = jobs.start_sync(ctx, actor, plan, request_id=request_id,
                                  confirmed=sync.Confirmation(confirm_env=confirm_env, override_policy=override_policy),
                                  options=options, factory=deps.client_factory())
    except RancherSyncError as error:  # a busy target too: SyncBusy names it and says what to do
        return Outcome.failed(error)
    finally:
        queries.clear_history()
    if isinstance(started, Requested):
        return Outcome.done(requested_text(started))
    return _running(started, options)


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


def start_rollback(actor: Actor, operation_id: int, *, request_id: str, confirm_env: str | None) -> int | Outcome:
    """Start putting back the images an operation replaced, as a new rollback operation on the server, and return
    at once: its id, or why nothing was done. `request_id` is the open confirmation's, so a double click cannot
    roll back twice."""
    options = SyncOptions(poll_seconds=0.5)
    try:
        started = jobs.start_rollback(deps.get_context(), actor, operation_id, request_id=request_id,
                                      confirm_env=confirm_env, options=options, factory=deps.client_factory())
    except RancherSyncError as error:
        return Outcome.failed(error)
    finally:
        queries.clear_history()
    return _running(started, options)


def _running(started: jobs.Started, options: SyncOptions) -> int:
    """Remember an operation this session started (its live page and the message when it ends)."""
    operation_id = started.operation_id
    started_operations.remember(operation_id, options.timeout_seconds if options.verify else None)
    return operation_id
