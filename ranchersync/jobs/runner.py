"""Operations as server-side jobs: a sync, a rollback or a resume runs in a worker thread owned by the process (the
dashboard's server, the API server, the CLI), never in a page's script run. Starting one returns as soon as its
operation is recorded (its id), or with the refusal that stopped it before; the operation's record in the database
is its progress, for any page, process or replica. A job is stopped with `terminate_operation`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select

from ranchersync.access.identity import Actor
from ranchersync.approvals.promote import Applied, Requested, promote
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.models import SyncOperation
from ranchersync.rancher import RancherClient
from ranchersync.sync import (
    UNCONFIRMED,
    Confirmation,
    ProgressEvent,
    ProgressListener,
    SyncOptions,
    SyncPlan,
    resume_operation,
    rollback_operation,
)

MAX_JOBS = 8  # operations one process runs at once (each holds its own target environment)
_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _workers() -> ThreadPoolExecutor:
    """The process's job workers, made on first use (not at import: a CLI command that runs none starts none)."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=MAX_JOBS, thread_name_prefix="rsm-job")
        return _executor


@dataclass(frozen=True)
class Started:
    """An operation that runs in this process's worker: its id, and a future that is done when it finished (its
    result is the operation id; it raises what stopped it, such as a database outage past its budget)."""

    operation_id: int
    done: Future[int]

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the operation to finish (TimeoutError after `timeout` seconds); its id."""
        return self.done.result(timeout)


Job = Callable[[ProgressListener], "Applied | Requested | int"]


def _start(ctx: AppContext, job: Job, *, request_id: str | None, operation_id: int | None,
           progress: ProgressListener | None) -> Started | Requested:
    """Run `job` in a worker; return once its operation is recorded (its first progress event), or with what it
    returned or raised before that (a refusal, an approval request)."""
    opened, heard = threading.Event(), threading.Event()

    def listen(event: ProgressEvent) -> None:
        heard.set()
        opened.set()
        if progress is not None:
            progress(event)

    outcome: Future[Applied | Requested | int] = _workers().submit(job, listen)
    done: Future[int] = Future()

    def settle(finished: Future[Applied | Requested | int]) -> None:
        opened.set()
        error = finished.exception()
        if error is not None:
            done.set_exception(error)
            return
        result = finished.result()
        done.set_result(result.operation_id if isinstance(result, Applied) else result if isinstance(result, int)
                        else 0)

    outcome.add_done_callback(settle)
    opened.wait()
    if not heard.is_set():  # it ended before its operation ran: refused, or an approval request
        result = outcome.result()  # raises the refusal
        if isinstance(result, Requested):
            return result
        return Started(result.operation_id if isinstance(result, Applied) else result, done)
    found = _recorded(ctx, request_id, operation_id)
    assert found is not None  # the first event is sent after the operation was recorded
    return Started(found, done)


def _recorded(ctx: AppContext, request_id: str | None, operation_id: int | None) -> int | None:
    if operation_id is not None:
        return operation_id
    if request_id is None:
        return None
    with ctx.session() as session:
        return session.scalar(select(SyncOperation.id).where(SyncOperation.request_id == request_id))


def start_sync(
    ctx: AppContext,
    actor: Actor,
    plan: SyncPlan,
    *,
    request_id: str,
    confirmed: Confirmation = UNCONFIRMED,
    options: SyncOptions | None = None,
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
) -> Started | Requested:
    """Start a sync through `approvals.promote` in a worker: Started once its operation is recorded, Requested when
    the target needs approvals; raises the refusals promote raises (nothing was changed then)."""
    return _start(ctx, lambda listen: promote(ctx, actor, plan, request_id=request_id, confirmed=confirmed,
                                              options=options, progress=listen, factory=factory),
                  request_id=request_id, operation_id=None, progress=progress)


def start_rollback(
    ctx: AppContext,
    actor: Actor,
    operation_id: int,
    *,
    request_id: str,
    confirm_env: str | None = None,
    options: SyncOptions | None = None,
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
    failed: bool | None = None,
    override_quarantine: str | None = None,
) -> Started:
    """Start rolling back a finished operation in a worker (a new `rollback` operation)."""
    started = _start(ctx, lambda listen: rollback_operation(
        ctx, operation_id, actor=actor, request_id=request_id, confirm_env=confirm_env, options=options,
        progress=listen, factory=factory, failed=failed, override_quarantine=override_quarantine),
        request_id=request_id, operation_id=None, progress=progress)
    assert isinstance(started, Started)
    return started


def start_resume(
    ctx: AppContext,
    actor: Actor,
    operation_id: int,
    *,
    confirm_env: str | None = None,
    options: SyncOptions | None = None,
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
    override_freeze: str | None = None,
) -> Started:
    """Start finishing an interrupted operation in a worker."""
    started = _start(ctx, lambda listen: resume_operation(
        ctx, operation_id, actor=actor, confirm_env=confirm_env, options=options, progress=listen, factory=factory,
        override_freeze=override_freeze), request_id=None, operation_id=operation_id, progress=progress)
    assert isinstance(started, Started)
    return started
