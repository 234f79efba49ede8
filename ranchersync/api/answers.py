"""Answers that several topics' calls give alike: one schema in the OpenAPI document whichever call answers it, and
one way to answer an operation started as a job (syncs, rollbacks, promotions, restores)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import Any, TypedDict

from ranchersync.api.call import Answer, Call, blocking
from ranchersync.approvals.requests import RequestPayload
from ranchersync.context import AppContext
from ranchersync.history.payloads import OperationPayload

__all__ = ["ApprovalAnswer", "approval_answer", "operation", "started_answer"]

log = logging.getLogger("ranchersync.api")


class ApprovalAnswer(TypedDict):
    """A sync, promotion or restore into a target that needs approvals: the request made instead (202)."""

    approvalRequest: RequestPayload


async def operation(ctx: AppContext, operation_id: int) -> OperationPayload:
    """One operation with its results (404 when unknown), as `history show --json` prints it."""
    from ranchersync.history import operation_detail_payload

    def read() -> OperationPayload:
        with ctx.session() as session:
            return operation_detail_payload(session, operation_id)

    return await blocking(read)


async def approval_answer(call: Call, request_id: int) -> Answer:
    """202 with the approval request made instead of running."""
    from ranchersync.approvals import requests as approvals

    def read() -> RequestPayload:
        with call.ctx.session() as session:
            return approvals.request_payload(approvals.get_request(session, request_id))

    return 202, ApprovalAnswer(approvalRequest=await blocking(read))


async def started_answer(call: Call, operation_id: int, done: Future[Any], *, wait: bool) -> Answer:
    """An operation started as a job: 202 with it running, or (`wait`) 200 with it ended. While waiting, a retry
    with the same Idempotency-Key already gets the running operation; when the caller goes away, the job goes on."""
    running = await operation(call.ctx, operation_id)
    if not wait:
        return 202, running
    await call.started(202, running)
    try:
        await asyncio.wrap_future(done)  # no thread held while the job runs
    except Exception:  # noqa: BLE001 - what stopped it is in the operation's record, which the answer shows
        log.warning("an operation's job ended with an error; its record says how", exc_info=False)
    return 200, await operation(call.ctx, operation_id)
