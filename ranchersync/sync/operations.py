"""Sync use-cases: plan between environments, apply a confirmed plan, run and read an operation (rolling back and
resuming one: `ranchersync.sync.undo`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ranchersync import notify, registry
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.governance import quarantine
from ranchersync.governance.four_eyes import check_may_apply
from ranchersync.governance.freeze import check_sync_allowed
from ranchersync.governance.locks import check_unlocked
from ranchersync.inventory.reading import EnvironmentRef, Service, list_inventories, site_connections
from ranchersync.kernel.errors import DatabaseUnavailable, NotFoundError, OperationFailed, ValidationError
from ranchersync.kernel.images import RetagMode
from ranchersync.models import SyncOperation, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.security.crypto import TokenCipher
from ranchersync.security.host_policy import HostPolicy
from ranchersync.sync import records
from ranchersync.sync.events import ProgressEvent, ProgressListener, log, logged
from ranchersync.sync.execute import (
    ANNOTATION_OPERATION,
    ANNOTATION_SOURCE,
    Move,
    ServiceRun,
    SyncOptions,
    WorkItem,
    rollback_incomplete,
    run_items,
    undo_runs,
)
from ranchersync.sync.plan import SyncPlan, TargetChoice, plan_sync
from ranchersync.sync.preflight import check_quarantine, preflight
from ranchersync.sync.records import PlannedResult
from ranchersync.sync.targets import read_targets


@dataclass(frozen=True)
class SyncSides:
    """Both environments of a sync as Rancher shows them now; services hold no token, so this can be kept by an
    open confirmation while the user changes the mode or a target choice (re-planning is then pure)."""

    source: EnvironmentRef
    target: EnvironmentRef
    target_protected: bool
    source_services: tuple[Service, ...]
    target_services: tuple[Service, ...]
    target_pins_digests: bool = False  # the target's setting: the review's "Pin digests" starts at it

    def source_has(self, key: tuple[str, str]) -> bool:
        """Whether the source runs this (kind, name)."""
        return any(s.key == key for s in self.source_services)

    def target_instances(self, key: tuple[str, str]) -> list[tuple[int, str]]:
        """(id, name) of the target app instances that run this service, by name."""
        return sorted({(s.instance.id, s.instance.name) for s in self.target_services if s.key == key},
                      key=lambda pair: pair[1])


class UnreadableInstances(OperationFailed):
    """A plan needs both environments complete: an unreadable app instance would look like a missing service."""

    kind = "unreadable_instances"
    default_title = "Some app instances cannot be read"
    default_hint = (
        "A plan needs both environments complete, or it would take an unreadable app instance for a missing "
        "service. Try again once Rancher answers, or fix the app instance."
    )


def read_sides(
    session: Session,
    cipher: TokenCipher,
    source: int | str,
    target: int | str,
    factory: ClientFactory = RancherClient,
) -> SyncSides:
    """Read the source and target environments from Rancher, with what their pods run, refusing while any of their
    app instances is unreadable."""
    src, dst = get_environment(session, source), get_environment(session, target)
    # Fresh (what a sync patches must be current), with the digests the pods run: a source whose pods disagree is
    # not promoted (`source_health`), and quarantine and pinning look at them.
    inventories = list_inventories(session, cipher, [src, dst], factory=factory, stored=False, digests=True)
    failures = inventories[src.id].failures + inventories[dst.id].failures
    if failures:
        listed = "; ".join(f"{f.instance.name}: {f.message}" for f in failures)
        raise UnreadableInstances(f"cannot plan while app instances are unreadable ({listed})")
    return SyncSides(EnvironmentRef.of(src), EnvironmentRef.of(dst), dst.protected, inventories[src.id].services,
                     inventories[dst.id].services, dst.pins_digests)


def plan_environments(
    session: Session,
    cipher: TokenCipher,
    source: int | str,
    target: int | str,
    *,
    services: Collection[str] | None = None,
    mode: RetagMode = "full",
    targets: Mapping[tuple[str, str], TargetChoice] | None = None,
    default_target: TargetChoice | None = None,
    factory: ClientFactory = RancherClient,
    check_registries: bool = True,
    pin_digests: bool | None = None,
    policy: HostPolicy | None = None,
) -> SyncPlan:
    """Read both environments from Rancher and plan promoting `services` (names, or "Kind/name") or, when None,
    everything that differs; then the preflight (`check_registries`): each new image resolved in its registered
    registry, and a quarantined digest refused (ImageQuarantined, exit 3). With `pin_digests` (None: the
    target's setting, `envs update E --pin-digests`; on for a protected target until set) each change whose digest is
    known promotes ``repo:tag@sha256:…``."""
    if pin_digests is None:
        pin_digests = get_environment(session, target).pins_digests
    sides = read_sides(session, cipher, source, target, factory)
    selected = None if services is None else _resolve_names(services, sides.source_services, sides.source.name)
    plan = plan_sync(sides.source, sides.target, sides.source_services, sides.target_services, selected=selected,
                     mode=mode, targets=targets, default_target=default_target)
    return check_plan(session, cipher, plan, pin_digests=pin_digests, policy=policy,
                      check_registries=check_registries, factory=factory)


def check_plan(
    session: Session,
    cipher: TokenCipher,
    plan: SyncPlan,
    *,
    pin_digests: bool,
    policy: HostPolicy | None = None,
    check_registries: bool = True,
    factory: ClientFactory = RancherClient,
) -> SyncPlan:
    """What every plan gets after the reads, wherever it was made (the CLI, the API, the dashboard's review): each
    new image resolved in its registered registry (digests, changelog; a missing tag or platform skipped, an
    unreachable registry a warning), a quarantined digest refused (ImageQuarantined, exit 3), then with
    `pin_digests` each change whose digest is known promoting ``repo:tag@sha256:…``."""
    registries = registry.accesses(session, cipher) if check_registries else {}
    if registries:
        facts = read_targets(session, cipher, plan, factory=factory)  # the nodes' platforms (and pull secrets)
        plan = preflight(plan, registries, targets=facts, policy=policy)
    check_quarantine(plan, quarantine.active_by_digest(session))
    return plan.pinned() if pin_digests else plan


def _resolve_names(names: Collection[str], services: Any, env_name: str) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    for raw in names:
        kind, _, name = raw.rpartition("/")
        matches = sorted({s.key for s in services if s.name == name and (not kind or s.kind.lower() == kind.lower())})
        if not matches:
            raise ValidationError(f"{env_name} has no service '{raw}'")
        if len(matches) > 1:
            kinds = ", ".join(f"{k}/{n}" for k, n in matches)
            raise ValidationError(f"'{raw}' is ambiguous in {env_name} ({kinds}): name it as Kind/name")
        keys.append(matches[0])
    return keys


class ConfirmationRequired(ValidationError):
    """A protected environment is changed only after its name was typed back."""

    kind = "confirmation_required"
    default_title = "Type the environment's name to confirm"
    default_hint = "It is protected: every change to it is confirmed by its name, typed exactly (case-sensitive)."


def check_confirmation(target: EnvironmentRef | Any, protected: bool, confirm_env: str | None) -> None:
    """A protected environment needs its name typed back exactly, case included (the dashboard's field, the CLI's
    --confirm-env)."""
    typed = (confirm_env or "").strip()
    if protected and typed != target.name:
        case = " (the name is case-sensitive: check capitals)" if typed.casefold() == target.name.casefold() else ""
        raise ConfirmationRequired(
            f"{target.name} is protected: type its name to confirm the change{case} (CLI: --confirm-env "
            f"{target.name})"
        )


@dataclass(frozen=True)
class Confirmation:
    """What clears a sync beyond the actor's role: the name typed back for a protected target, an admin's reason to
    override a freeze window, and the approved request it runs for (the last approver's run)."""

    confirm_env: str | None = None
    override_freeze: str | None = None
    approval: int | None = None
    override_policy: str | None = None  # a releaser's reason to promote an unhealthy source (audited)


UNCONFIRMED = Confirmation()  # nothing typed, no override, no approval


def apply_plan(
    ctx: AppContext,
    plan: SyncPlan,
    *,
    actor: Actor,
    request_id: str,
    confirmed: Confirmation = UNCONFIRMED,
    options: SyncOptions | None = None,
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
) -> int:
    """Apply a confirmed plan and return the operation id; the operation records every step as it happens.

    Callers that may meet a target needing approvals use `ranchersync.approvals.promote`, which requests instead.
    A frozen target refuses it (EnvironmentFrozen) unless an admin gives `confirmed.override_freeze`, a reason; a
    target that still needs approvals refuses it (NeedsApprovalRequest); `confirmed.approval` is the approved request
    the last approver runs (its requester is the operation's `initiatedBy`, the approver the audit event's actor).
    Raises PermissionDenied (exit 3) below operator, and below releaser into a protected environment.
    """
    options = options or SyncOptions()
    with ctx.session() as session:
        target_env = get_environment(session, plan.target.id)
        require(actor, "sync", protected=target_env.protected, environment=target_env.name)
        requested_by = check_may_apply(session, target_env, actor, confirmed.approval)
        check_confirmation(plan.target, target_env.protected, confirmed.confirm_env)
        check_sync_allowed(session, actor, target_env, utcnow(), confirmed.override_freeze)
        check_quarantine(plan, quarantine.active_by_digest(session))  # the last word, whoever made the plan
        check_unlocked(session, target_env, {i.name for i in plan.to_apply})  # release trains: locks
    initiated_by = requested_by or actor.email
    approval = confirmed.approval
    if not plan.to_apply:
        raise ValidationError("nothing to change: every selected service is skipped (see the plan)")
    planned = [
        PlannedResult(
            service=i.name, kind=i.kind,
            target_app_instance_id=i.target.instance.id if i.target else None,
            source_app_instance_id=i.source.instance.id if i.source else None,
            site_name=i.target.instance.site_name if i.target else "",
            cluster_id=i.target.instance.cluster_id if i.target else "",
            namespace=i.target.instance.namespace if i.target else "",
            containers=tuple({"name": c.name, "init": c.init, "previous": c.current, "new": c.new,
                              **({"newDigest": c.new_digest} if c.new_digest else {}),
                              **({"sourceDigest": c.source_digest} if c.source_digest else {}),
                              **({"changelog": c.changelog.payload()} if c.changelog else {})}
                             for c in i.containers if c.changes),
            skip_reason=None if i.will_change else f"{i.skip_reason}{': ' + i.detail if i.detail else ''}",
        )
        for i in plan.items
    ]
    operation_id, result_ids = records.open_operation(ctx, records.Opening(
        kind="sync", mode=plan.mode, source=(plan.source.id, plan.source.name),
        target=(plan.target.id, plan.target.name), initiated_by=initiated_by, request_id=request_id, planned=planned,
        detail=f"{f'snapshot {plan.snapshot}' if plan.snapshot else plan.source.name} → {plan.target.name}: "
               f"{', '.join(dict.fromkeys(i.name for i in plan.to_apply))}"
               + (f" (approval request #{approval}, asked by {initiated_by})" if approval else ""),
    ), actor=actor)
    try:
        _snapshot_before(ctx, operation_id, plan, initiated_by)  # release trains: "what ran before", one click away
    except BaseException:
        _close_quietly(ctx, operation_id)  # nothing was changed: the record must not stay "running"
        raise
    items = [
        WorkItem(rid, item.target.instance, item.kind, item.name,
                 tuple(Move(c.name, c.init, c.current, c.new) for c in item.changes),
                 item.target.workload.resource_version, item.target.workload.generation)
        for rid, item in zip(result_ids, plan.items, strict=True)
        if item.will_change and item.target is not None
    ]
    annotations = {ANNOTATION_OPERATION: str(operation_id), ANNOTATION_SOURCE: plan.source.name}
    return run_operation(ctx, operation_id, items, options, annotations, progress, factory)


def _snapshot_before(ctx: AppContext, operation_id: int, plan: SyncPlan, initiated_by: str) -> None:
    """Keep the target's services as the plan read them with the operation, before anything changes."""
    from ranchersync.snapshots.store import record_before_sync

    services = list({(i.target.instance.id, i.kind, i.name): i.target for i in plan.items
                     if i.target is not None}.values())
    with ctx.session() as session:
        record_before_sync(session, operation_id, (plan.target.id, plan.target.name), initiated_by, services)


def run_operation(
    ctx: AppContext,
    operation_id: int,
    items: list[WorkItem],
    options: SyncOptions,
    annotations: dict[str, str],
    progress: ProgressListener | None,
    factory: ClientFactory,
    on_complete: Callable[[Session], None] | None = None,
) -> int:
    """Run an opened operation's work items (a sync, a rollback, a resume) and close it with its final status;
    `on_complete` runs in the transaction that closes it `complete` (a rollback marks its original there)."""
    with ctx.session() as session:
        operation = session.get_one(SyncOperation, operation_id)
        kind, actor, environment = operation.kind, operation.initiated_by, operation.target_environment_name
    progress = logged(progress, kind=kind, operation_id=operation_id, actor=actor, environment=environment)
    log.info("%s #%s into %s started by %s: %d service(s)", kind, operation_id, environment, actor, len(items),
             extra={"event": f"{kind}.started", "operation_id": operation_id, "actor": actor,
                    "environment": environment})
    touched: list[ServiceRun] = []  # what this process changed (or may have) on Rancher, for an outage's message
    try:
        # Tokens are read now, not at planning time: a token replaced since then is the one to use.
        with ctx.session() as session:
            connections = site_connections(session, ctx.cipher, {i.target.site_id for i in items})
        runs = run_items(ctx, operation_id, items, connections, options=options, annotations=annotations,
                         progress=progress, factory=factory)
        failed = [o for o in runs if o.status == "failed" or (options.all_or_nothing and o.status == "skipped")]
        applied = [o for o in runs if o.touched]  # a PATCH of unknown fate is undone too: undoing is a no-op then
        touched = list(applied)
        stop = records.termination(ctx, operation_id) if any(o.stopped for o in runs) else None
        # A terminated rollback is kept: rolling it back would re-apply what the person wants gone.
        keep = stop is not None and (stop.keep or kind == "rollback")
        reason: str | None = None
        if keep and stop is not None:
            for run in runs:
                if run.stopped:
                    records.update_result(ctx, run.item.result_id, status="success",
                                          error=f"not verified: terminated by {stop.by}, kept")
            status = _final_status(ctx, operation_id, runs)
            error: str | None = f"terminated by {stop.by}: kept what changed without waiting for its rollouts"
        elif (stop is not None or (failed and options.auto_rollback)) and applied:
            undo = undo_runs(ctx, operation_id, applied, connections, options=options, annotations=annotations,
                             progress=progress, factory=factory)
            not_undone = [(o, u) for o, u in zip(applied, undo, strict=True) if u.status != "success"]
            for original, reverted in zip(applied, undo, strict=True):
                if reverted.status == "success":
                    note = f"{original.message} (rolled back)" if original.status == "failed" else "rolled back"
                    records.update_result(ctx, original.item.result_id,
                                          status="failed" if original.status == "failed" else "rolled_back",
                                          error=note)
            why = (f"{len(failed)} service(s) failed" if failed or stop is None else f"terminated by {stop.by}")
            reason = "failed" if failed else "decided"
            if not_undone:
                status, error = "failed", rollback_incomplete(operation_id, not_undone)
            else:
                status, error = "rolled_back", f"{why}: every change was rolled back"
        else:
            status, error = _final_status(ctx, operation_id, runs), None
        records.close_operation(ctx, operation_id, status, error, rollback_reason=reason,
                                also=on_complete if status == "complete" else None)
    except records.RecordIncomplete as lost:
        # The database stayed away past its budget: one quick try to mark the operation (else the next start marks
        # it once this process is gone), and a message that names what changed on Rancher.
        _close_quietly(ctx, operation_id)
        changed = list(dict.fromkeys([*(r.describe() for r in touched), *lost.changed]))
        raise records.RecordIncomplete(operation_id, changed, budget=ctx.settings.db_outage_seconds) from lost
    except DatabaseUnavailable as lost:
        _close_quietly(ctx, operation_id)
        raise records.RecordIncomplete(operation_id, [r.describe() for r in touched],
                                       budget=ctx.settings.db_outage_seconds) from lost
    except BaseException:
        # Whatever stopped us (Ctrl+C, a bug), the trail must not stay "running" for ever.
        records.close_operation(ctx, operation_id, "interrupted", "stopped before it finished")
        log.warning("operation #%s stopped before it finished", operation_id, exc_info=True,
                    extra={"event": f"{kind}.interrupted", "operation_id": operation_id, "actor": actor,
                           "environment": environment})
        raise
    finally:
        notify.deliver_soon(ctx)  # after commit, in a background thread: never delays nor fails the sync
    progress(ProgressEvent(0, "", "", "done", status, operation_id=operation_id))
    return operation_id


def _close_quietly(ctx: AppContext, operation_id: int) -> None:
    try:
        records.close_operation(ctx, operation_id, "interrupted", "the database could not be reached: stopped "
                                "before its record was complete", patience=0)
    except DatabaseUnavailable:
        pass


def _final_status(ctx: AppContext, operation_id: int, runs: Sequence[ServiceRun]) -> str:
    statuses = records.write(ctx, lambda session: {r.status for r in session.get_one(SyncOperation,
                                                                                      operation_id).results})
    if "failed" in statuses:
        return "partial" if "success" in statuses else "failed"
    # Skips the plan showed never became work items; a work item that ended skipped was changed or deleted
    # meanwhile, which the user did not expect.
    unplanned_skips = any(o.status == "skipped" for o in runs)
    return "partial" if unplanned_skips or "pending" in statuses else "complete"


def get_operation(session: Session, operation_id: int) -> SyncOperation:
    """An operation with its results."""
    operation = session.scalar(
        select(SyncOperation).options(selectinload(SyncOperation.results)).where(SyncOperation.id == operation_id)
    )
    if operation is None:
        raise NotFoundError(f"no operation #{operation_id}")
    return operation
