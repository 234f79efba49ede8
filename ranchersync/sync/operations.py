"""Sync use-cases: plan between environments, apply a confirmed plan, roll back or resume an operation."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ranchersync import notify
from ranchersync.context import AppContext
from ranchersync.crypto import TokenCipher
from ranchersync.environments import get_environment
from ranchersync.errors import NotFoundError, OperationFailed, ValidationError
from ranchersync.governance import audit
from ranchersync.governance.freeze import check_sync_allowed
from ranchersync.governance.identity import Actor, require
from ranchersync.images import RetagMode
from ranchersync.inventory import (
    EnvironmentRef,
    InstanceRef,
    Service,
    instance_refs,
    list_inventories,
    site_connections,
)
from ranchersync.models import SyncOperation, SyncResult, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.sites import ClientFactory
from ranchersync.sync import records
from ranchersync.sync.events import ProgressEvent, ProgressListener, log, logged
from ranchersync.sync.execute import (
    ANNOTATION_OPERATION,
    ANNOTATION_SOURCE,
    Move,
    ServiceRun,
    SyncOptions,
    WorkItem,
    reverse,
    run_items,
)
from ranchersync.sync.plan import SyncPlan, TargetChoice, plan_sync
from ranchersync.sync.records import PlannedResult, SyncBusy

FINISHED = ("complete", "partial", "failed", "rolled_back", "interrupted")
R = TypeVar("R", bound="_Recorded")


@dataclass(frozen=True)
class SyncSides:
    """Both environments of a sync as Rancher shows them now; services hold no token, so this can be kept by an
    open confirmation while the user changes the mode or a target choice (re-planning is then pure)."""

    source: EnvironmentRef
    target: EnvironmentRef
    target_protected: bool
    source_services: tuple[Service, ...]
    target_services: tuple[Service, ...]

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
    """Read the source and target environments from Rancher, refusing while any of their app instances is
    unreadable."""
    src, dst = get_environment(session, source), get_environment(session, target)
    inventories = list_inventories(session, cipher, [src, dst], factory=factory)
    failures = inventories[src.id].failures + inventories[dst.id].failures
    if failures:
        listed = "; ".join(f"{f.instance.name}: {f.message}" for f in failures)
        raise UnreadableInstances(f"cannot plan while app instances are unreadable ({listed})")
    return SyncSides(EnvironmentRef.of(src), EnvironmentRef.of(dst), dst.protected, inventories[src.id].services,
                     inventories[dst.id].services)


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
) -> SyncPlan:
    """Read both environments from Rancher and plan promoting `services` (names, or "Kind/name") or, when None,
    everything that differs."""
    sides = read_sides(session, cipher, source, target, factory)
    selected = None if services is None else _resolve_names(services, sides.source_services, sides.source.name)
    return plan_sync(sides.source, sides.target, sides.source_services, sides.target_services, selected=selected,
                     mode=mode, targets=targets, default_target=default_target)


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
    default_hint = "It is protected: every change to it is confirmed by name."


def check_confirmation(target: EnvironmentRef | Any, protected: bool, confirm_env: str | None) -> None:
    """A protected environment needs its name typed back (the dashboard's field, the CLI's --confirm-env)."""
    if protected and (confirm_env or "").strip() != target.name:
        raise ConfirmationRequired(
            f"{target.name} is protected: type its name to confirm the change (CLI: --confirm-env {target.name})"
        )


def apply_plan(
    ctx: AppContext,
    plan: SyncPlan,
    *,
    actor: Actor,
    request_id: str,
    confirm_env: str | None = None,
    options: SyncOptions | None = None,
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
    approval: int | None = None,
    override_freeze: str | None = None,
) -> int:
    """Apply a confirmed plan and return the operation id; the operation records every step as it happens.

    A frozen target refuses it (EnvironmentFrozen) unless an admin gives `override_freeze`, a reason. A target that
    needs approvals (four-eyes) is not changed: the plan becomes an approval request and RequestCreated (exit 3)
    names it; `approval` is the approved request the last approver runs (its requester is the operation's
    `initiatedBy`, the approver the audit event's actor). Raises PermissionDenied (exit 3) below operator, and
    below releaser into a protected environment unless the sync becomes a request.
    """
    # Imported here: the approvals module builds on this one.
    from ranchersync.governance import approvals

    options = options or SyncOptions()
    initiated_by = actor.email
    with ctx.session() as session:
        target_env = get_environment(session, plan.target.id)
        needed = approvals.gate(session, target_env, actor, approval)
        if needed:
            require(actor, "request_sync")
        else:
            require(actor, "sync", protected=target_env.protected, environment=target_env.name)
        check_confirmation(plan.target, target_env.protected, confirm_env)
        check_sync_allowed(session, actor, target_env, utcnow(), override_freeze)
        if approval is not None:
            initiated_by = approvals.get_request(session, approval).requested_by
    if not plan.to_apply:
        raise ValidationError("nothing to change: every selected service is skipped (see the plan)")
    if needed:
        raise approvals.RequestCreated(approvals.request_sync(ctx, actor, plan, options=options, factory=factory))
    planned = [
        PlannedResult(
            service=i.name, kind=i.kind,
            target_app_instance_id=i.target.instance.id if i.target else None,
            source_app_instance_id=i.source.instance.id if i.source else None,
            site_name=i.target.instance.site_name if i.target else "",
            cluster_id=i.target.instance.cluster_id if i.target else "",
            namespace=i.target.instance.namespace if i.target else "",
            containers=tuple({"name": c.name, "init": c.init, "previous": c.current, "new": c.new}
                             for c in i.containers if c.changes),
            skip_reason=None if i.will_change else f"{i.skip_reason}{': ' + i.detail if i.detail else ''}",
        )
        for i in plan.items
    ]
    operation_id, result_ids = records.open_operation(
        ctx, kind="sync", mode=plan.mode, source=(plan.source.id, plan.source.name),
        target=(plan.target.id, plan.target.name), initiated_by=initiated_by, request_id=request_id, planned=planned,
        actor=actor, detail=f"{plan.source.name} → {plan.target.name}: "
                            f"{', '.join(dict.fromkeys(i.name for i in plan.to_apply))}"
                            + (f" (approval request #{approval}, asked by {initiated_by})" if approval else ""),
    )
    items = [
        WorkItem(rid, item.target.instance, item.kind, item.name,
                 tuple(Move(c.name, c.init, c.current, c.new) for c in item.changes),
                 item.target.workload.resource_version)
        for rid, item in zip(result_ids, plan.items, strict=True)
        if item.will_change and item.target is not None
    ]
    annotations = {ANNOTATION_OPERATION: str(operation_id), ANNOTATION_SOURCE: plan.source.name}
    return _run(ctx, operation_id, items, options, annotations, progress, factory)


def _run(
    ctx: AppContext,
    operation_id: int,
    items: list[WorkItem],
    options: SyncOptions,
    annotations: dict[str, str],
    progress: ProgressListener | None,
    factory: ClientFactory,
) -> int:
    with ctx.session() as session:
        operation = session.get_one(SyncOperation, operation_id)
        kind, actor, environment = operation.kind, operation.initiated_by, operation.target_environment_name
    progress = logged(progress, kind=kind, operation_id=operation_id, actor=actor, environment=environment)
    log.info("%s #%s into %s started by %s: %d service(s)", kind, operation_id, environment, actor, len(items),
             extra={"event": f"{kind}.started", "operation_id": operation_id, "actor": actor,
                    "environment": environment})
    try:
        # Tokens are read now, not at planning time: a token replaced since then is the one to use.
        with ctx.session() as session:
            connections = site_connections(session, ctx.cipher, {i.target.site_id for i in items})
        runs = run_items(ctx, operation_id, items, connections, options=options, annotations=annotations,
                             progress=progress, factory=factory)
        failed = [o for o in runs if o.status == "failed"]
        applied = [o for o in runs if o.applied]
        if failed and options.auto_rollback and applied:
            undo = run_items(ctx, operation_id, [reverse(o.item) for o in applied], connections, options=options,
                             annotations=annotations, progress=progress, factory=factory, undoing=True)
            not_undone = [u for u in undo if u.status != "success"]
            for original, reverted in zip(applied, undo, strict=True):
                if reverted.status == "success":
                    note = f"{original.message} (rolled back)" if original.status == "failed" else "rolled back"
                    records.update_result(ctx, original.item.result_id,
                                          status="failed" if original.status == "failed" else "rolled_back",
                                          error=note)
            if not_undone:
                names = ", ".join(u.item.name for u in not_undone)
                status, error = "failed", f"rollback incomplete for {names}"
            else:
                status, error = "rolled_back", f"{len(failed)} service(s) failed: every change was rolled back"
        else:
            status, error = _final_status(ctx, operation_id, runs), None
        records.close_operation(ctx, operation_id, status, error)
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


def _final_status(ctx: AppContext, operation_id: int, runs: Sequence[ServiceRun]) -> str:
    with ctx.session() as session:
        statuses = {r.status for r in session.get_one(SyncOperation, operation_id).results}
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


class _Recorded(Protocol):
    # Read-only members, so frozen views (history's ResultView) qualify as well as the ORM rows.
    @property
    def status(self) -> str: ...
    @property
    def containers(self) -> Any: ...


def rollback_candidates(results: Iterable[R]) -> list[R]:
    """The results a rollback puts back: every service that was not skipped and recorded its containers."""
    return [r for r in results if r.status != "skipped" and r.containers]


def rollback_refusal(status: str, results: Iterable[_Recorded]) -> str | None:
    """Why an operation in this state cannot be rolled back, or None when it can."""
    if status == "rolled_back":
        return "was already rolled back"
    if status not in FINISHED:
        return f"is still {status}: wait for it to finish"
    if not rollback_candidates(results):
        return "changed nothing that could be rolled back"
    return None


def rollback_operation(
    ctx: AppContext,
    operation_id: int,
    *,
    actor: Actor,
    request_id: str,
    confirm_env: str | None = None,
    options: SyncOptions | None = None,
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
) -> int:
    """Put back the recorded previous images of a finished operation, as a new `rollback` operation.

    A rollback that fails is not rolled back in turn: that would re-apply what the user wants gone. Rolling back
    needs the role a sync into that environment needs (operator; releaser when it is protected).
    """
    options = replace(options or SyncOptions(), auto_rollback=False)
    with ctx.session() as session:
        original = get_operation(session, operation_id)
        _require_sync(session, actor, original)
        refusal = rollback_refusal(original.status, original.results)
        if refusal:
            raise ValidationError(f"operation #{operation_id} {refusal}")
        candidates = rollback_candidates(original.results)
        env_id, env_name, mode = original.target_environment_id, original.target_environment_name, original.mode
        refs = _confirmed_target(session, original, confirm_env)
        missing = [r.service for r in candidates if r.target_app_instance_id not in refs]
        if missing:
            raise ValidationError(f"the app instance of {', '.join(missing)} no longer exists: cannot roll back")
        undo = [reverse(_item_of(r, refs)) for r in candidates]
        original_ids = [r.id for r in candidates]
    planned = [
        PlannedResult(i.name, i.kind, i.target.id, None, i.target.site_name, i.target.cluster_id, i.target.namespace,
                      tuple({"name": m.name, "init": m.init, "previous": m.expected, "new": m.new} for m in i.moves))
        for i in undo
    ]
    new_id, result_ids = records.open_operation(
        ctx, kind="rollback", mode=mode, source=(env_id, env_name), target=(env_id, env_name),
        initiated_by=actor.email, request_id=request_id, planned=planned, rollback_of_id=operation_id,
        actor=actor,
        detail=f"rollback of #{operation_id} in {env_name}: {', '.join(dict.fromkeys(i.name for i in undo))}",
    )
    items = [replace(item, result_id=rid) for item, rid in zip(undo, result_ids, strict=True)]
    annotations = {ANNOTATION_OPERATION: str(new_id), ANNOTATION_SOURCE: f"rollback of #{operation_id}"}
    _run(ctx, new_id, items, options, annotations, progress, factory)
    with ctx.session() as session:
        if get_operation(session, new_id).status == "complete":
            original = get_operation(session, operation_id)
            original.status = "rolled_back"
            for result in original.results:
                if result.id in original_ids and result.status == "success":
                    result.status = "rolled_back"
    return new_id


def resume_operation(
    ctx: AppContext,
    operation_id: int,
    *,
    actor: Actor,
    confirm_env: str | None = None,
    options: SyncOptions | None = None,
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
    override_freeze: str | None = None,
) -> int:
    """Finish an interrupted operation: its pending services are re-checked and applied where still planned (a
    resumed sync is refused in a frozen environment, as a new one is; a resumed rollback is not)."""
    options = options or SyncOptions()
    with ctx.session() as session:
        operation = get_operation(session, operation_id)
        _require_sync(session, actor, operation)
        if operation.status != "interrupted":
            raise ValidationError(f"operation #{operation_id} is {operation.status}: only an interrupted one resumes")
        refs = _confirmed_target(session, operation, confirm_env)
        if operation.kind == "sync" and operation.target_environment_id is not None:
            check_sync_allowed(session, actor, operation.target_environment_id, utcnow(), override_freeze)
        pending = [r for r in operation.results if r.status == "pending"]
        items = [_item_of(r, refs) for r in pending if r.target_app_instance_id in refs]
        annotations = {ANNOTATION_OPERATION: str(operation.id), ANNOTATION_SOURCE: operation.source_environment_name}
        operation.status, operation.owner = "running", records.this_process()
        operation.heartbeat_at, operation.finished_at, operation.error = utcnow(), None, None
        try:
            session.flush()
        except IntegrityError:
            raise SyncBusy(f"another operation is changing {operation.target_environment_name}: wait for it",
                           reason="target_busy", target=operation.target_environment_name) from None
        audit.record(session, actor, f"{operation.kind}.resume", object_type="operation", object_id=operation.id,
                     object_name=operation.target_environment_name,
                     detail=f"{len(items)} pending: {', '.join(dict.fromkeys(i.name for i in items))}")
    return _run(ctx, operation_id, items, options, annotations, progress, factory)


def _require_sync(session: Session, actor: Actor, operation: SyncOperation) -> None:
    """A rollback or resume needs the role a sync into its target needs now."""
    env_id = operation.target_environment_id
    protected = env_id is not None and get_environment(session, env_id).protected
    require(actor, "sync", protected=protected, environment=operation.target_environment_name)


def _confirmed_target(session: Session, operation: SyncOperation, confirm_env: str | None) -> dict[int, InstanceRef]:
    """Check the confirmation a recorded operation's target needs now (it may have been protected since), and
    return that environment's app instances by id (none once the environment was removed)."""
    env_id = operation.target_environment_id
    protected = env_id is not None and get_environment(session, env_id).protected
    check_confirmation(EnvironmentRef(env_id or 0, operation.target_environment_name, "", 0), protected, confirm_env)
    return {r.id: r for r in instance_refs(session, [env_id])} if env_id else {}


def _item_of(result: SyncResult, refs: dict[int, InstanceRef]) -> WorkItem:
    return WorkItem(result.id, refs[result.target_app_instance_id or -1], result.workload_kind, result.service,
                    tuple(Move(c["name"], bool(c.get("init")), c["previous"], c["new"]) for c in result.containers))
