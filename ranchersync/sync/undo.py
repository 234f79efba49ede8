"""Undoing and finishing operations: roll back a finished operation (a new `rollback` operation that puts back the
recorded previous images), resume an interrupted one, and the rules of what may be rolled back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ranchersync import registry
from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.governance import quarantine
from ranchersync.governance.freeze import check_sync_allowed
from ranchersync.inventory.reading import EnvironmentRef, InstanceRef, instance_refs
from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.images import parse_image
from ranchersync.models import SyncOperation, SyncResult, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.sync import records
from ranchersync.sync.events import ProgressListener
from ranchersync.sync.execute import ANNOTATION_OPERATION, ANNOTATION_SOURCE, Move, SyncOptions, WorkItem, reverse
from ranchersync.sync.operations import check_confirmation, get_operation, run_operation
from ranchersync.sync.records import PlannedResult, SyncBusy

FINISHED = ("complete", "partial", "failed", "rolled_back", "interrupted")
R = TypeVar("R", bound="_Recorded")


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
    failed: bool | None = None,
    override_quarantine: str | None = None,
) -> int:
    """Put back the recorded previous images of a finished operation, as a new `rollback` operation.

    A previous image whose digest is quarantined refuses the rollback (ImageQuarantined, exit 3) unless an admin
    gives `override_quarantine`, a reason: audited (`quarantine.override`, naming each digest) before anything runs.

    A rollback that fails is not rolled back in turn: that would re-apply what the user wants gone. Rolling back
    needs the role a sync into that environment needs (operator; releaser when it is protected). The original
    records why (`rollback_reason`): `failed` — it did not complete, or `failed=True` says the change caused a
    failure — counts in the change failure rate; `decided` — a person rolled back a complete sync — does not.
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
        quarantined = quarantine.active_by_digest(session)
        registries = registry.accesses(session, ctx.cipher) if quarantined else {}
    if quarantined:
        try:
            _check_quarantine(undo, quarantined, registries)
        except quarantine.ImageQuarantined as refused:
            if override_quarantine is None or not override_quarantine.strip():
                raise
            _override_quarantine(ctx, actor, operation_id, env_id, env_name, str(refused), override_quarantine)
    planned = [
        PlannedResult(i.name, i.kind, i.target.id, None, i.target.site_name, i.target.cluster_id, i.target.namespace,
                      tuple({"name": m.name, "init": m.init, "previous": m.expected, "new": m.new} for m in i.moves))
        for i in undo
    ]
    new_id, result_ids = records.open_operation(ctx, records.Opening(
        kind="rollback", mode=mode, source=(env_id, env_name), target=(env_id, env_name), initiated_by=actor.email,
        request_id=request_id, planned=planned, rollback_of_id=operation_id,
        detail=f"rollback of #{operation_id} in {env_name}: {', '.join(dict.fromkeys(i.name for i in undo))}",
    ), actor=actor)
    items = [replace(item, result_id=rid) for item, rid in zip(undo, result_ids, strict=True)]
    annotations = {ANNOTATION_OPERATION: str(new_id), ANNOTATION_SOURCE: f"rollback of #{operation_id}"}

    def mark_original(session: Session) -> None:
        # In the transaction that records the rollback complete: no reader sees it complete and the original not.
        original = get_operation(session, operation_id)
        counts_as_failure = original.status != "complete" if failed is None else failed
        original.rollback_reason = "failed" if counts_as_failure else "decided"
        original.status = "rolled_back"
        for result in original.results:
            if result.id in original_ids and result.status == "success":
                result.status = "rolled_back"

    return run_operation(ctx, new_id, items, options, annotations, progress, factory, on_complete=mark_original)


def _override_quarantine(ctx: AppContext, actor: Actor, operation_id: int, env_id: int | None, env_name: str,
                         refusal: str, reason: str) -> None:
    """An admin puts a quarantined image back anyway: refused below admin, the reason checked and audited."""
    from ranchersync.sync.source_health import check_reason

    reason = reason.strip()
    require(actor, "override_quarantine", environment=env_name)
    check_reason(reason)
    with ctx.session() as session:
        audit.record(session, actor, "quarantine.override", object_type="operation", object_id=operation_id,
                     object_name=f"rollback of #{operation_id} in {env_name}",
                     after={"environment": env_name, "environmentId": env_id,
                            "refused": refusal.removeprefix("refused: ")}, detail=reason)


def _check_quarantine(undo: list[WorkItem], quarantined: dict[str, quarantine.Quarantine],
                      registries: dict[str, registry.RegistryAccess]) -> None:
    """Refuse a rollback that would put back a quarantined digest (ImageQuarantined, exit 3): pinned in the
    reference, or what the reference resolves to in its registry now. Lifting the quarantine (audited, with a
    reason) is the way to put such an image back."""
    images = [m.new for item in undo for m in item.moves if m.new]
    lookups = registry.resolve_images(images, registries) if registries else {}
    digests: list[tuple[str, str]] = []
    for item in undo:
        for move in item.moves:
            found = lookups.get(move.new)
            resolved = found.resolution if found is not None else None
            candidates = (parse_image(move.new).digest, resolved.digest if resolved else None,
                          resolved.platform_digest if resolved else None)
            digests += [(f"rolling {item.name} back to {move.new}", d) for d in dict.fromkeys(candidates) if d]
    quarantine.check_digests(digests, quarantined)


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
    return run_operation(ctx, operation_id, items, options, annotations, progress, factory)


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
