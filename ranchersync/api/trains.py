"""The HTTP API's calls for snapshots, restore, locks and schedules (issue 24; DESIGN.md "Snapshots, locks and
schedules").

app.py adds ENDPOINTS to the application and to the OpenAPI document. A promotion or a restore goes the one way in
for a sync, as a job of the server (`jobs.start_sync` with a train's options: all or nothing), answered like
POST /syncs: 200 with the finished operation (`wait`, the default) or the plan (`dryRun`), 202 with the running
operation, the approval request made instead, or the scheduled request (`at`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Required, TypedDict

from ranchersync.api.answers import ApprovalAnswer, approval_answer, started_answer
from ranchersync.api.call import Answer, Call, blocking
from ranchersync.api.spec import Endpoint, Param
from ranchersync.governance.locks import LockPayload
from ranchersync.history.payloads import OperationPayload
from ranchersync.kernel.errors import ValidationError
from ranchersync.snapshots.entries import DiffPayload
from ranchersync.snapshots.store import SnapshotPayload
from ranchersync.sync.payloads import PlanPayload
from ranchersync.trains.schedules import SchedulePayload

__all__ = ["ENDPOINTS", "ScheduledAnswer", "schedule_sync"]

MAX_TIMEOUT_SECONDS: Final = 24 * 3600


# ---- request and answer types (the OpenAPI document is made from these) -----------------------------------------


class SnapshotRequest(TypedDict):
    """Record every service of an environment now, under a name (never replaced)."""

    env: str
    name: str


class PromoteRequest(TypedDict, total=False):
    """Set an environment to a snapshot as one operation (all or nothing), now or at `at`."""

    to: Required[str]
    dryRun: bool  # answer the plan, change nothing
    confirmEnvironment: str  # the target's name: required for a protected target
    wait: bool  # default true: answer when the operation ended
    verify: bool  # default true: wait for each rollout (and its gates)
    timeoutSeconds: int  # per rollout, default 300
    at: str  # schedule it instead: "YYYY-MM-DD HH:MM" (planned and checked when it fires)
    tz: str  # the time zone of `at` (default UTC)


class RestoreRequest(TypedDict, total=False):
    """Put an environment back to one of its own snapshots as one operation (all or nothing)."""

    env: Required[str]
    snapshot: Required[str]
    dryRun: bool
    confirmEnvironment: str
    wait: bool
    verify: bool
    timeoutSeconds: int


class LockRequest(TypedDict, total=False):
    """Lock an environment, or one service of it, saying why (shown to whoever is refused)."""

    env: Required[str]
    service: str
    message: Required[str]


class ScheduledAnswer(TypedDict):
    """A sync or promotion with `at`: the scheduled request made (202); `schedules` follows it."""

    scheduledRequest: SchedulePayload


# ---- snapshots -----------------------------------------------------------------------------------------------------


async def snapshots_list(call: Call) -> Answer:
    from ranchersync.snapshots import store

    def read() -> list[SnapshotPayload]:
        with call.ctx.session() as session:
            views = store.list_snapshots(session, call.query.get("env"), automatic=not call.query.get("manual"))
        return [store.snapshot_payload(v, with_services=False) for v in views]

    return 200, await blocking(read)


async def snapshots_create(call: Call) -> Answer:
    from ranchersync.snapshots import store

    def create() -> SnapshotPayload:
        with call.ctx.session() as session:
            view = store.create_snapshot(session, call.ctx.cipher, call.actor, environment=call.body["env"],
                                         name=call.body["name"])
            return store.snapshot_payload(view)

    return 201, await blocking(create)


async def snapshot_get(call: Call) -> Answer:
    from ranchersync.snapshots import store

    def read() -> SnapshotPayload:
        with call.ctx.session() as session:
            return store.snapshot_payload(store.get_snapshot(session, call.path("name")))

    return 200, await blocking(read)


async def snapshot_diff(call: Call) -> Answer:
    from ranchersync.snapshots import entries, store

    against, env = call.query.get("against"), call.query.get("env")
    if (against is None) == (env is None):
        raise ValidationError("compare with another snapshot (?against=NAME) or with an environment now (?env=ENV)")

    def read() -> DiffPayload:
        with call.ctx.session() as session:
            if env is not None:
                left, rows = store.diff_with_environment(session, call.ctx.cipher, call.path("name"), env)
                right_name = f"{env} now"  # as `snapshots diff N --env E` names it
            else:
                left = store.get_snapshot(session, call.path("name"))
                right = store.get_snapshot(session, str(against))
                rows, right_name = entries.diff(left.entries, right.entries), right.name
        if call.query.get("onlyDifferences"):
            rows = [r for r in rows if r.state != "same"]
        return {"left": left.name, "right": right_name, "rows": entries.diff_payload(rows)}

    return 200, await blocking(read)


# ---- promote and restore: one operation, as a job ------------------------------------------------------------------


def _timeout(body: dict[str, Any]) -> int:
    timeout = int(body.get("timeoutSeconds", 300))
    if not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
        raise ValidationError(f"timeoutSeconds must be between 1 and {MAX_TIMEOUT_SECONDS}")
    return timeout


async def snapshot_promote(call: Call) -> Answer:
    from ranchersync.trains import trains

    body = call.body
    if "at" in body:
        return await _schedule(call, target=body["to"], snapshot=call.path("name"))
    if "tz" in body:
        raise ValidationError("tz goes with at: the time zone of a scheduled promotion")
    return await _put_in_place(call, lambda session: trains.plan_snapshot_promotion(
        session, call.ctx.cipher, call.path("name"), body["to"]))


async def restores_create(call: Call) -> Answer:
    from ranchersync.trains import trains

    return await _put_in_place(call, lambda session: trains.plan_restore(
        session, call.ctx.cipher, call.body["env"], call.body["snapshot"]))


async def _put_in_place(call: Call, plan_with: Callable[[Any], Any]) -> Answer:
    """Plan (a dry run answers it), then start the plan as one operation in the jobs workers (as `_put_in_place`
    of the CLI: a target that runs the snapshot's images already answers the plan, 200)."""
    from ranchersync import sync
    from ranchersync.approvals.promote import Requested
    from ranchersync.jobs import start_sync
    from ranchersync.sync.payloads import plan_payload
    from ranchersync.trains import trains

    body = call.body
    timeout = _timeout(body)

    def plan() -> sync.SyncPlan:
        with call.ctx.session() as session:
            planned: sync.SyncPlan = plan_with(session)
            return planned

    planned = await blocking(plan)
    if body.get("dryRun") or not planned.to_apply:
        return 200, plan_payload(planned)
    options = trains.train_options(sync.SyncOptions(verify=body.get("verify", True), timeout_seconds=float(timeout)))
    outcome = await blocking(start_sync, call.ctx, call.actor, planned, request_id=sync.new_request_id(),
                             confirmed=sync.Confirmation(confirm_env=body.get("confirmEnvironment")), options=options)
    if isinstance(outcome, Requested):
        return await approval_answer(call, outcome.request_id)
    return await started_answer(call, outcome.operation_id, outcome.done, wait=body.get("wait", True))


# ---- schedules -----------------------------------------------------------------------------------------------------


async def schedule_sync(call: Call) -> Answer:
    """POST /syncs with `at`: a scheduled sync (as `sync … --at`), planned and checked when it fires."""
    body = call.body
    if "at" not in body:
        raise ValidationError("tz goes with at: the time zone of a scheduled sync")
    if body.get("dryRun"):
        raise ValidationError("dryRun shows a plan now; at plans when it fires: use one or the other")
    if body.get("overridePolicy"):
        raise ValidationError("a promotion policy is checked when a scheduled sync fires: overridePolicy goes with "
                              "a sync now")
    services, every = body.get("services"), body.get("allDifferent", False)
    if bool(services) == bool(every):
        raise ValidationError("name the services (\"services\": [..]) or pass \"allDifferent\": true, not both")
    return await _schedule(call, target=body["to"], source=body["from"], services=None if every else services,
                           mode="tag" if body.get("tagOnly") else "full", instance=body.get("targetInstance"),
                           auto_rollback=not body.get("noRollback", False))


async def _schedule(call: Call, *, target: str, source: str | None = None, services: list[str] | None = None,
                    snapshot: str | None = None, mode: str = "full", instance: str | None = None,
                    auto_rollback: bool = True) -> Answer:
    from ranchersync import sync
    from ranchersync.governance.freeze_schedule import parse_instant
    from ranchersync.trains import schedules

    body = call.body
    timeout = _timeout(body)
    tz = body.get("tz") or "UTC"
    fire_at = parse_instant(body["at"], tz)

    def store() -> SchedulePayload:
        from ranchersync.catalogue import instances

        default_target: Any = instance
        if instance is not None and instance != "all":
            with call.ctx.session() as session:
                found = instances.get_instance(session, instance)
                if target not in (found.environment.name, str(found.environment_id)):
                    raise ValidationError(f"app instance '{found.name}' is not in {target}")
                default_target = found.id
        what = schedules.Schedule(
            target=target, fire_at=fire_at, timezone=tz, source=source, services=tuple(services or ()),
            snapshot=snapshot, mode=mode, default_target=default_target, confirm_env=body.get("confirmEnvironment"),
            options=sync.SyncOptions(verify=body.get("verify", True), timeout_seconds=float(timeout),
                                     auto_rollback=auto_rollback))
        row = schedules.schedule_with_approvals(call.ctx, call.actor, what)
        return schedules.schedule_payload(row)

    return 202, ScheduledAnswer(scheduledRequest=await blocking(store))


async def schedules_list(call: Call) -> Answer:
    from ranchersync.trains import schedules

    def read() -> list[SchedulePayload]:
        with call.ctx.session() as session:
            rows = schedules.list_schedules(session, pending=bool(call.query.get("pending")))
            return [schedules.schedule_payload(r) for r in rows]

    return 200, await blocking(read)


async def schedule_cancel(call: Call) -> Answer:
    from ranchersync.trains import schedules

    request_id = call.path_id()

    def cancel() -> SchedulePayload:
        with call.ctx.session() as session:
            return schedules.schedule_payload(schedules.cancel(session, call.actor, request_id))

    return 200, await blocking(cancel)


# ---- locks ---------------------------------------------------------------------------------------------------------


async def locks_list(call: Call) -> Answer:
    from ranchersync.governance import locks

    def read() -> list[dict[str, Any]]:
        with call.ctx.session() as session:
            return [locks.lock_payload(v) for v in locks.list_locks(session, call.query.get("env"))]

    return 200, await blocking(read)


async def locks_create(call: Call) -> Answer:
    from ranchersync.governance import locks

    def add() -> dict[str, Any]:
        with call.ctx.session() as session:
            return locks.lock_payload(locks.add_lock(session, call.actor, environment=call.body["env"],
                                                     service=call.body.get("service"), message=call.body["message"]))

    return 201, await blocking(add)


async def lock_delete(call: Call) -> Answer:
    from ranchersync.governance import locks

    lock_id = call.path_id()

    def remove() -> dict[str, Any]:
        with call.ctx.session() as session:
            return locks.lock_payload(locks.remove_lock(session, call.actor, lock_id))

    return 200, await blocking(remove)


_NAME = Param("name", where="path", description="the snapshot's name (or id)")
_ID = Param("id", "integer", where="path")
_PUT_IN_PLACE_ANSWERS: Final = {200: OperationPayload | PlanPayload, 202: OperationPayload | ApprovalAnswer}

ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint("GET", "/snapshots", "listSnapshots", "Snapshots, newest first (without their services)",
             snapshots_list, {200: list[SnapshotPayload]},
             params=(Param("env", description="one environment (name or id)"),
                     Param("manual", "boolean", description="without the automatic snapshots taken before syncs")),
             tags=("trains",)),
    Endpoint("POST", "/snapshots", "createSnapshot",
             "Record every service of an environment now (images and the digests its pods run)", snapshots_create,
             {201: SnapshotPayload}, body=SnapshotRequest, tags=("trains",)),
    Endpoint("GET", "/snapshots/{name}", "getSnapshot", "A snapshot with its services", snapshot_get,
             {200: SnapshotPayload}, params=(_NAME,), tags=("trains",)),
    Endpoint("GET", "/snapshots/{name}/diff", "diffSnapshot",
             "A snapshot against another (against) or against what an environment runs now (env)", snapshot_diff,
             {200: DiffPayload},
             params=(_NAME, Param("against", description="another snapshot's name"),
                     Param("env", description="an environment: what it runs now"),
                     Param("onlyDifferences", "boolean")), tags=("trains",)),
    Endpoint("POST", "/snapshots/{name}/promote", "promoteSnapshot",
             "Set an environment to a snapshot as one operation, all or nothing: 200 with the finished operation "
             "(wait) or the plan (dryRun, or nothing to change); 202 with the running operation (no wait), the "
             "approval request made instead, or the scheduled request (at)", snapshot_promote,
             {200: OperationPayload | PlanPayload, 202: OperationPayload | ApprovalAnswer | ScheduledAnswer},
             params=(_NAME,), body=PromoteRequest, tags=("trains",)),
    Endpoint("POST", "/restores", "restoreSnapshot",
             "Put an environment back to one of its snapshots as one operation, all or nothing (answers as "
             "promoteSnapshot)", restores_create, _PUT_IN_PLACE_ANSWERS, body=RestoreRequest, tags=("trains",)),
    Endpoint("GET", "/locks", "listLocks", "Locks in force, oldest first", locks_list, {200: list[LockPayload]},
             params=(Param("env", description="one environment (name or id)"),), tags=("trains",)),
    Endpoint("POST", "/locks", "createLock",
             "Lock an environment or one service of it: syncs into it are refused (423) with the message",
             locks_create, {201: LockPayload}, body=LockRequest, tags=("trains",)),
    Endpoint("DELETE", "/locks/{id}", "removeLock", "Remove a lock in force", lock_delete, {200: LockPayload},
             params=(_ID,), tags=("trains",)),
    Endpoint("GET", "/schedules", "listSchedules",
             "Scheduled syncs and promotions: the waiting ones first (next to fire first), then what they became",
             schedules_list, {200: list[SchedulePayload]},
             params=(Param("pending", "boolean", description="only those still waiting"),), tags=("trains",)),
    Endpoint("POST", "/schedules/{id}/cancel", "cancelSchedule",
             "Cancel a scheduled request that has not fired (its requester, or an admin)", schedule_cancel,
             {200: SchedulePayload}, params=(_ID,), tags=("trains",)),
)
