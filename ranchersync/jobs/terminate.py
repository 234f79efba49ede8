"""Terminate a running operation, from any process: the request is written on its row, and the worker that runs it
(here or in another replica) sees it at its next poll, stops waiting, and rolls back what it changed — or keeps it
(`keep`). The operation is recorded as such: rolled back with `rollbackReason: decided`, or complete with a note."""

from __future__ import annotations

import time

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.context import AppContext
from ranchersync.kernel.errors import ValidationError
from ranchersync.models import ACTIVE_OPERATION_STATUSES, SyncOperation
from ranchersync.sync import get_operation


def terminate_operation(ctx: AppContext, actor: Actor, operation_id: int, keep: bool = False) -> None:
    """Ask the running operation to stop waiting and roll back what changed (or, `keep`, leave it); audited.

    Needs the role a sync into its target needs. Asking again changes nothing (the first answer holds). Raises
    ValidationError when the operation is not running.
    """
    with ctx.session() as session:
        operation = get_operation(session, operation_id)
        env_id = operation.target_environment_id
        protected = env_id is not None and get_environment(session, env_id).protected
        require(actor, "sync", protected=protected, environment=operation.target_environment_name)
        if operation.status not in ACTIVE_OPERATION_STATUSES:
            raise ValidationError(f"operation #{operation_id} is {operation.status.replace('_', ' ')}: only a "
                                  "running operation can be terminated")
        if operation.terminate_requested:
            return
        operation.terminate_requested, operation.terminate_keep = True, keep
        operation.terminated_by = actor.email
        audit.record(session, actor, f"{operation.kind}.terminate", object_type="operation", object_id=operation.id,
                     object_name=operation.target_environment_name, after={"keep": keep},
                     detail="keep what changed" if keep else "roll back what changed")


def wait_for_operation(ctx: AppContext, operation_id: int, timeout: float, poll: float = 0.2) -> str:
    """Wait until the operation is no longer running (whichever process runs it); its status then (still `running`
    when `timeout` seconds passed)."""
    deadline = time.monotonic() + timeout
    while True:
        with ctx.session() as session:
            status = session.get_one(SyncOperation, operation_id).status
        if status not in ACTIVE_OPERATION_STATUSES or time.monotonic() >= deadline:
            return status
        time.sleep(poll)
