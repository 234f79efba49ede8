"""The HTTP API for pipelines (issue 21; DESIGN.md "HTTP API"): a Starlette application mounted by the dashboard's
server under /api/v1 (serve.py) and served alone by `python -m ranchersync api`.

Every call but healthz and openapi.json carries `Authorization: Bearer <token>` and acts as `token:NAME` on the api
channel (audited by the use-cases with the caller's address). Handlers call the same use-cases and payload
functions as the CLI; blocking work (the database, Rancher, the slow token hash) runs in worker threads, never on
the event loop, and a sync or rollback runs in the jobs workers, so it ends even when the caller goes away.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Required, TypedDict

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ranchersync.access.identity import Actor
from ranchersync.api import idempotency, images, trains, verification
from ranchersync.api.answers import ApprovalAnswer, approval_answer, operation, started_answer
from ranchersync.api.call import Answer, Call, blocking
from ranchersync.api.limits import Limit, TokenBuckets
from ranchersync.api.problems import MEDIA_TYPE, Problem, problem, problem_of, status_of
from ranchersync.api.spec import Endpoint, Param, document
from ranchersync.api.typed import body_errors
from ranchersync.approvals.requests import RequestPayload
from ranchersync.catalogue.payloads import EnvironmentPayload
from ranchersync.context import AppContext
from ranchersync.history.payloads import OperationPayload
from ranchersync.inventory.payloads import ComparisonPayload, ServicePayload
from ranchersync.kernel.errors import BadInput, OperationFailed, RancherSyncError, ValidationError
from ranchersync.sync.payloads import PlanPayload

__all__ = ["ENDPOINTS", "PROBLEM_HANDLERS", "VERSION", "create_app", "openapi_document"]

log = logging.getLogger("ranchersync.api")

VERSION: Final = "1.0.0"
EVENTS_POLL_SECONDS: Final = 0.5
EVENTS_MAX_SECONDS: Final = 6 * 3600.0
MAX_BODY_BYTES: Final = 64 * 1024


# ---- request and answer types (the OpenAPI document is made from these) -----------------------------------------

SyncRequest = TypedDict("SyncRequest", {
    "from": Required[str],
    "to": Required[str],
    "services": list[str],  # names (Kind/name when ambiguous); or allDifferent
    "allDifferent": bool,
    "dryRun": bool,
    "confirmEnvironment": str,  # the target's name: required for a protected target
    "wait": bool,  # default true: answer when the operation ended
    "targetInstance": str,  # where a service runs in several app instances of the target: one of them, or "all"
    "tagOnly": bool,
    "timeoutSeconds": int,  # per rollout, default 300
    "pinDigests": bool,  # promote repo:tag@sha256:… (default: the target environment's setting)
    "noRollback": bool,  # keep what changed when a service fails
    "overridePolicy": str,  # a releaser's reason to promote despite a promotion policy (audited)
    "at": str,  # schedule it instead: "YYYY-MM-DD HH:MM" (planned and checked when it fires; answers 202)
    "tz": str,  # the time zone of `at` (default UTC)
}, total=False)


class RollbackRequest(TypedDict, total=False):
    """Roll back an operation: put back its previous images (a new `rollback` operation)."""

    confirmEnvironment: str
    wait: bool
    failed: bool  # the change caused a failure: count it in the change failure rate
    overrideQuarantine: str  # an admin's reason to put back a quarantined image (audited)


class TerminateRequest(TypedDict, total=False):
    """Stop a running operation: roll back what it changed, or keep it."""

    keep: bool


class DecisionRequest(TypedDict, total=False):
    """An approval's or rejection's comment (required to reject)."""

    comment: str


class Health(TypedDict):
    """The server answers and its database can be used."""

    status: str
    database: str
    version: str


class OperationEvent(TypedDict):
    """One Server-Sent Event: `data` is JSON — the operation (`operation`, and `end` when it ended) or one service's
    result (`result`); `id` counts from 1 (send it back as Last-Event-ID to resume)."""

    id: str
    event: Literal["operation", "result", "end"]
    data: str


class TerminateAnswer(TypedDict):
    """The operation is asked to stop; it stops at its next poll."""

    operation: OperationPayload
    keep: bool


class NothingToSync(OperationFailed):
    """Every selected service is skipped, and not because it already runs the source's images (422, exit 1 as the
    CLI's)."""

    kind = "nothing_to_sync"
    default_title = "Nothing can be synced"
    default_hint = "Each service's reason is listed: fix what it names, or select other services."


# ---- handlers ------------------------------------------------------------------------------------------------------


async def healthz(call: Call) -> Answer:
    await blocking(call.ctx.ping)
    return 200, Health(status="ok", database="ok", version=VERSION)


async def environments_list(call: Call) -> Answer:
    from ranchersync.catalogue import environments
    from ranchersync.catalogue.payloads import environment_payload

    def read() -> list[EnvironmentPayload]:
        with call.ctx.session() as session:
            return [environment_payload(e) for e in environments.list_environments(session)]

    return 200, await blocking(read)


async def environment_services(call: Call) -> Answer:
    from ranchersync.inventory import reading
    from ranchersync.inventory.payloads import service_payload

    def read() -> tuple[list[ServicePayload], list[str]]:
        with call.ctx.session() as session:
            found = reading.list_services(session, call.ctx.cipher, call.path("name"))
        return [service_payload(s) for s in found.services], [f.instance.name for f in found.failures]

    services, unreadable = await blocking(read)
    headers = {"X-Unreadable-App-Instances": ", ".join(unreadable)} if unreadable else {}
    return JSONResponse(services, headers=headers)


async def compare(call: Call) -> Answer:
    from ranchersync import sync
    from ranchersync.governance import locks
    from ranchersync.inventory import compare as comparing
    from ranchersync.inventory.payloads import comparison_payload
    from ranchersync.models import utcnow

    names = call.query.get("env") or []
    if len(names) < 2:
        raise ValidationError("compare needs at least two environments: ?env=A&env=B")

    def read() -> ComparisonPayload:
        with call.ctx.session() as session:
            comparison = comparing.compare_environments(session, call.ctx.cipher, names,
                                                        compare_by="tag" if call.query.get("tagOnly") else "image")
            held = {e.id: locks.locks_by_service(session, e.id) for e in comparison.environments}
            readiness = sync.promotion_readiness(session, comparison, utcnow())
        if call.query.get("onlyDifferences"):
            comparison = comparison.only_differences()
        payload = comparison_payload(comparison)
        sync.add_readiness(payload, readiness)  # as `services compare --json`: the promotion policy per cell
        payload["locks"] = [locks.lock_payload(v) for by_service in held.values() for views in by_service.values()
                            for v in views]  # as `services compare --json`: what a sync into each would meet
        return payload

    return 200, await blocking(read)


async def syncs_create(call: Call) -> Answer:
    from ranchersync import sync
    from ranchersync.approvals.promote import Requested
    from ranchersync.jobs import start_sync
    from ranchersync.sync.payloads import plan_payload
    from ranchersync.sync.plan import SKIP_EQUAL

    body = call.body
    if "at" in body or "tz" in body:  # release trains: a scheduled request (api/trains.py)
        return await trains.schedule_sync(call)
    services, every = body.get("services"), body.get("allDifferent", False)
    if bool(services) == bool(every):
        raise ValidationError("name the services (\"services\": [..]) or pass \"allDifferent\": true, not both")
    timeout = body.get("timeoutSeconds", 300)
    if not 1 <= timeout <= 24 * 3600:
        raise ValidationError("timeoutSeconds must be between 1 and 86400")

    def plan() -> sync.SyncPlan:
        from ranchersync.catalogue import instances

        target: Any = body.get("targetInstance")
        with call.ctx.session() as session:
            if target not in (None, "all"):
                instance = instances.get_instance(session, target)
                if body["to"] not in (instance.environment.name, str(instance.environment_id)):
                    raise ValidationError(f"app instance '{instance.name}' is not in {body['to']}")
                target = instance.id
            return sync.plan_environments(session, call.ctx.cipher, body["from"], body["to"],
                                          services=None if every else services,
                                          mode="tag" if body.get("tagOnly") else "full", default_target=target,
                                          pin_digests=body.get("pinDigests"))

    planned = await blocking(plan)
    if body.get("dryRun"):
        return 200, plan_payload(planned)
    if not planned.to_apply:
        if all(item.skip_reason == SKIP_EQUAL for item in planned.skipped):
            return 200, plan_payload(planned)  # nothing to change: pipelines rerun
        reasons = "; ".join(f"{i.name} ({i.target_label}): {i.skip_reason}" for i in planned.skipped
                            if i.skip_reason != SKIP_EQUAL)
        raise NothingToSync(f"nothing to change: every selected service is skipped ({reasons})")
    confirmed = sync.Confirmation(confirm_env=body.get("confirmEnvironment"),
                                  override_policy=body.get("overridePolicy"))
    options = sync.SyncOptions(timeout_seconds=float(timeout), auto_rollback=not body.get("noRollback", False))
    outcome = await blocking(start_sync, call.ctx, call.actor, planned, request_id=sync.new_request_id(),
                              confirmed=confirmed, options=options)
    if isinstance(outcome, Requested):
        return await approval_answer(call, outcome.request_id)
    return await started_answer(call, outcome.operation_id, outcome.done, wait=body.get("wait", True))


async def operation_get(call: Call) -> Answer:
    return 200, await operation(call.ctx, call.path_id())


async def operation_rollback(call: Call) -> Answer:
    from ranchersync import sync
    from ranchersync.jobs import start_rollback

    operation_id = call.path_id()
    await operation(call.ctx, operation_id)  # 404 first
    started = await blocking(start_rollback, call.ctx, call.actor, operation_id, request_id=sync.new_request_id(),
                              confirm_env=call.body.get("confirmEnvironment"),
                              failed=True if call.body.get("failed") else None,
                              override_quarantine=call.body.get("overrideQuarantine"))
    return await started_answer(call, started.operation_id, started.done, wait=call.body.get("wait", True))


async def operation_terminate(call: Call) -> Answer:
    from ranchersync.jobs import terminate_operation

    operation_id = call.path_id()
    keep = bool(call.body.get("keep", False))
    await blocking(terminate_operation, call.ctx, call.actor, operation_id, keep=keep)
    return 202, TerminateAnswer(operation=await operation(call.ctx, operation_id), keep=keep)


async def operation_events(call: Call) -> Answer:
    """Server-Sent Events of an operation: `operation` first, a `result` whenever a service's result changes, and
    `operation` again when it ended (then the stream closes). `Last-Event-ID` resumes after an event."""
    from ranchersync.history import get_operation_detail, operation_payload
    from ranchersync.history.payloads import result_payload
    from ranchersync.models import ACTIVE_OPERATION_STATUSES

    operation_id = call.path_id()
    after_text = call.request.headers.get("last-event-id", "") or str(call.query.get("after") or 0)
    after = int(after_text) if after_text.isdecimal() else 0

    def read() -> tuple[OperationPayload, list[Any], bool]:
        with call.ctx.session() as session:
            detail = get_operation_detail(session, operation_id)
        return (operation_payload(detail), [result_payload(r) for r in detail.results],
                detail.status not in ACTIVE_OPERATION_STATUSES)

    first = await blocking(read)  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        counter, seen = 0, dict[int, tuple[Any, ...]]()
        snapshot, started = first, asyncio.get_running_loop().time()

        def event(kind: str, data: Any) -> str | None:
            nonlocal counter
            counter += 1
            if counter <= after:
                return None
            return f"id: {counter}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

        if (line := event("operation", snapshot[0])) is not None:
            yield line
        while True:
            payload, results, ended = snapshot
            for result in results:
                state = (result["status"], result["applied"], result["error"], len(result["measurements"]))
                if seen.get(result["id"]) != state:
                    seen[result["id"]] = state
                    if (line := event("result", result)) is not None:
                        yield line
            if ended or asyncio.get_running_loop().time() - started > EVENTS_MAX_SECONDS:
                if (line := event("end", payload)) is not None:
                    yield line
                return
            await asyncio.sleep(EVENTS_POLL_SECONDS)
            snapshot = await blocking(read)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def history_list(call: Call) -> Answer:
    from ranchersync import history
    from ranchersync.catalogue import environments

    def read() -> list[OperationPayload]:
        since, until = history.date_range(_date(call.query.get("since"), "since"),
                                          _date(call.query.get("until"), "until"))
        with call.ctx.session() as session:
            env_id = environments.get_environment(session, call.query["env"]).id if call.query.get("env") else None
            filters = history.HistoryFilter(environment_id=env_id, status=call.query.get("status"),
                                            service=call.query.get("service"), since=since, until=until)
            page = history.list_operations(session, filters, page=call.query.get("page") or 1,
                                           page_size=call.query.get("limit") or 50)
        return [history.operation_payload(op) for op in page.items]

    return 200, await blocking(read)


def _date(text: str | None, name: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{name} must be a date like 2026-12-01") from None


async def approvals_list(call: Call) -> Answer:
    from ranchersync.approvals import requests as approvals

    def read() -> list[RequestPayload]:
        with call.ctx.session() as session:
            approvals.expire_requests(session)
            return [approvals.request_payload(r)
                    for r in approvals.list_requests(session, pending=bool(call.query.get("pending")))]

    return 200, await blocking(read)


def _decision(approve: bool) -> Callable[[Call], Any]:
    async def decide(call: Call) -> Answer:
        from ranchersync.approvals import requests as approvals

        request_id = call.path_id()

        def run() -> RequestPayload:
            with call.ctx.session() as session:
                approvals.get_request(session, request_id)  # 404 before anything else
            return approvals.request_payload(
                approvals.decide(call.ctx, call.actor, request_id, approve, call.body.get("comment", "")))

        # The last approval runs the sync in a worker thread: it ends even when the caller goes away.
        return 200, await blocking(run)

    return decide


async def openapi_json(call: Call) -> Answer:
    return 200, openapi_document()


CORE_ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint("GET", "/healthz", "healthz", "The server answers and its database can be used", healthz,
             {200: Health}, public=True, tags=("meta",)),
    Endpoint("GET", "/openapi.json", "openapi", "This document", openapi_json, {200: dict[str, Any]}, public=True,
             tags=("meta",)),
    Endpoint("GET", "/environments", "listEnvironments", "Environments in pipeline order", environments_list,
             {200: list[EnvironmentPayload]}, tags=("catalogue",)),
    Endpoint("GET", "/environments/{name}/services", "listServices",
             "The services of an environment, read from Rancher (or the live inventory)", environment_services,
             {200: list[ServicePayload]}, params=(Param("name", where="path", description="name or id"),),
             tags=("services",)),
    Endpoint("GET", "/compare", "compare", "Compare services across environments", compare,
             {200: ComparisonPayload},
             params=(Param("env", "array", required=True, description="repeat: env=Stage&env=Prod", min_items=2),
                     Param("onlyDifferences", "boolean"), Param("tagOnly", "boolean")), tags=("services",)),
    Endpoint("POST", "/syncs", "createSync",
             "Promote services: 200 with the finished operation (wait) or the plan (dryRun); 202 with the running "
             "operation (no wait), the approval request made instead, or the scheduled request (at)", syncs_create,
             {200: OperationPayload | PlanPayload, 202: OperationPayload | ApprovalAnswer | trains.ScheduledAnswer},
             body=SyncRequest,
             tags=("syncs",)),
    Endpoint("GET", "/operations/{id}", "getOperation", "One operation with its results per service and container",
             operation_get, {200: OperationPayload}, params=(Param("id", "integer", where="path"),),
             tags=("syncs",)),
    Endpoint("GET", "/operations/{id}/events", "operationEvents",
             "Server-Sent Events of an operation's steps (operation, result…, end)", operation_events,
             {200: ("text/event-stream", OperationEvent)},
             params=(Param("id", "integer", where="path"),
                     Param("after", "integer", minimum=0, description="skip the events up to this id")),
             tags=("syncs",)),
    Endpoint("POST", "/operations/{id}/rollback", "rollbackOperation", "Put back an operation's previous images",
             operation_rollback, {200: OperationPayload, 202: OperationPayload},
             params=(Param("id", "integer", where="path"),), body=RollbackRequest, tags=("syncs",)),
    Endpoint("POST", "/operations/{id}/terminate", "terminateOperation",
             "Stop a running operation: roll back what it changed, or keep it", operation_terminate,
             {202: TerminateAnswer}, params=(Param("id", "integer", where="path"),), body=TerminateRequest,
             tags=("syncs",)),
    Endpoint("GET", "/history", "listHistory", "Operations, newest first, page by page", history_list,
             {200: list[OperationPayload]},
             params=(Param("env"), Param("status"), Param("service"), Param("since", description="YYYY-MM-DD"),
                     Param("until", description="YYYY-MM-DD, included"), Param("page", "integer", minimum=1),
                     Param("limit", "integer", minimum=1, maximum=500)), tags=("history",)),
    Endpoint("GET", "/approvals", "listApprovals", "Approval requests, newest first", approvals_list,
             {200: list[RequestPayload]}, params=(Param("pending", "boolean"),), tags=("approvals",)),
    Endpoint("POST", "/approvals/{id}/approve", "approveRequest",
             "Approve a request (the last approval re-checks the plan and runs the sync)", _decision(True),
             {200: RequestPayload}, params=(Param("id", "integer", where="path"),), body=DecisionRequest,
             tags=("approvals",)),
    Endpoint("POST", "/approvals/{id}/reject", "rejectRequest", "Reject a request, saying why", _decision(False),
             {200: RequestPayload}, params=(Param("id", "integer", where="path"),), body=DecisionRequest,
             tags=("approvals",)),
)

# Each topic's calls live in their own module (api/images.py, api/verification.py, api/trains.py).
ENDPOINTS: Final[tuple[Endpoint, ...]] = (CORE_ENDPOINTS + images.ENDPOINTS + verification.ENDPOINTS
                                         + trains.ENDPOINTS)

_DOCUMENT: dict[str, Any] = {}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of ENDPOINTS (made once)."""
    if not _DOCUMENT:
        _DOCUMENT.update(document(ENDPOINTS, version=VERSION))
    return _DOCUMENT


# ---- the pipeline every call goes through -------------------------------------------------------------------------


def _problem_response(body: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=MEDIA_TYPE, headers=headers)


def _query(request: Request, params: Sequence[Param]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    known = {p.name for p in params if p.where == "query"}
    errors = [f"query parameter {name[:40]} is not known (known: {', '.join(sorted(known)) or 'none'})"
              for name in dict.fromkeys(request.query_params.keys()) if name not in known]
    for p in params:
        if p.where != "query":
            continue
        if p.type == "array":
            values[p.name] = [v for v in request.query_params.getlist(p.name)]
            if p.required and not values[p.name]:
                errors.append(f"query parameter {p.name} is required")
            continue
        text = request.query_params.get(p.name)
        if text is None or (text == "" and p.type == "string"):  # an empty text is no filter
            if p.required:
                errors.append(f"query parameter {p.name} is required")
            continue
        if p.type == "boolean":
            if text.lower() not in ("true", "false", "1", "0"):
                errors.append(f"query parameter {p.name} must be true or false")
                continue
            values[p.name] = text.lower() in ("true", "1")
        elif p.type == "integer":
            if not text.lstrip("-").isdecimal() or len(text) > 18:
                errors.append(f"query parameter {p.name} must be an integer")
                continue
            number = int(text)
            if (p.minimum is not None and number < p.minimum) or (p.maximum is not None and number > p.maximum):
                errors.append(f"query parameter {p.name} must be between {p.minimum} and {p.maximum}")
                continue
            values[p.name] = number
        else:
            if len(text) > 500 or not text.isprintable():
                errors.append(f"query parameter {p.name} must be one short line")
                continue
            values[p.name] = text
    if errors:
        raise FieldErrors.of(errors)
    return values


class FieldErrors(ValidationError):
    """A body or query that does not fit its type: every wrong field, listed (422)."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors[:50])

    @classmethod
    def of(cls, errors: Sequence[str]) -> FieldErrors:
        """The error listing `errors`."""
        return cls("; ".join(errors[:10]), errors)


async def _body(request: Request, typed: Any) -> tuple[dict[str, Any], bytes]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise FieldErrors.of([f"the body is larger than {MAX_BODY_BYTES} bytes"])
    if not raw.strip():
        value: Any = {}
    else:
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            raise NotJson("the request body could not be read as JSON") from None
    errors = body_errors(value, typed)
    if errors:
        raise FieldErrors.of(errors)
    return value, raw


class NotJson(BadInput):
    """The body could not be read as JSON (400)."""

    kind = "not_json"
    default_title = "The body is not JSON"
    default_hint = "Send a JSON object with Content-Type: application/json."


@dataclass
class Api:
    """The state one application keeps: its context (made on first use), the token buckets."""

    context: Callable[[], AppContext]
    buckets: TokenBuckets


async def _authenticate(api: Api, ctx: AppContext, request: Request) -> Actor:
    from ranchersync.people import tokens

    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise tokens.TokenRefused("send the API token as `Authorization: Bearer <token>`")
    address = request.client.host if request.client else ""

    def check() -> Actor:
        with ctx.session() as session:
            return tokens.authenticate(session, secret.strip(), address=address)

    return await blocking(check)


def _respond(answer: Answer) -> Response:
    if isinstance(answer, Response):
        return answer
    status, payload = answer
    return JSONResponse(payload, status_code=status)


def _route(api: Api, ep: Endpoint) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        key = request.headers.get("idempotency-key") if ep.method != "GET" else None
        actor: Actor | None = None
        claimed, kept = False, list[int]()

        async def checkpoint(status: int, payload: Any) -> None:
            if claimed and actor is not None and key is not None:
                await blocking(idempotency.finish, ctx, actor.name, key, status,
                                bytes(JSONResponse(payload).body).decode(), {"content-type": "application/json"})
                kept.append(status)

        try:
            ctx = await blocking(api.context)
            if ep.public:
                actor = Actor("anonymous", "viewer", "api")
            else:
                actor = await _authenticate(api, ctx, request)
                wait = api.buckets.take(actor.email)
                if wait:
                    body = problem(429, "too_many_calls", "Too many calls",
                                   f"{actor.email} made more calls than its limit allows",
                                   "Wait Retry-After seconds; RANCHERSYNC_API_RATE sets the limit.")
                    body["retryAfterSeconds"] = wait
                    return _problem_response(body, {"Retry-After": str(wait)})
            query = _query(request, ep.params)
            body_value, raw = await _body(request, ep.body) if ep.body is not None else ({}, b"")
            if key is not None and not ep.public:
                print_ = idempotency.fingerprint(ctx, ep.method, request.url.path, raw)
                replay = await blocking(idempotency.begin, ctx, actor.name, key, print_)
                if replay is not None:
                    return Response(replay.body, status_code=replay.status,
                                    media_type=str(replay.headers.get("content-type", "application/json")),
                                    headers={"Idempotent-Replayed": "true"})
                claimed = True
            try:
                response = _respond(await ep.handler(Call(ctx, actor, request, query, body_value, checkpoint)))
            except asyncio.CancelledError:  # the caller went away: a retry must act, unless something started
                if claimed and not kept and key is not None:
                    idempotency.abandon(ctx, actor.name, key)
                raise
        except FieldErrors as error:
            body = problem_of(error)
            body["errors"] = error.errors
            response = _problem_response(body)
        except RancherSyncError as error:
            if status_of(error) >= 500:
                log.warning("API call %s %s failed: %s", ep.method, ep.path, error)
            response = _problem_response(problem_of(error))
        except Exception:  # never a traceback to the caller; the log has it (without headers: no token)
            log.exception("API call %s %s failed unexpectedly", ep.method, ep.path)
            response = _problem_response(problem(500, "internal", "Something went wrong",
                                                 "the server could not answer this call",
                                                 "Try again; if it persists, the server's log says why."))
        if claimed and actor is not None and key is not None:
            if response.status_code >= 500 or isinstance(response, StreamingResponse):
                if not kept:  # nothing started: a retry acts; else it gets the operation that started
                    await blocking(idempotency.abandon, ctx, actor.name, key)
            else:
                body_text = bytes(response.body).decode()
                await blocking(idempotency.finish, ctx, actor.name, key, response.status_code, body_text,
                                {"content-type": response.media_type or "application/json"})
        return response

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    kind, title = ("not_found", "Not found") if status == 404 else ("method_not_allowed", "Method not allowed")
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}  # 405 keeps its Allow
    return _problem_response(problem(status, kind, title, f"{request.method} {request.url.path} is not an API call",
                                     "GET /api/v1/openapi.json lists the calls."), headers)


# An application that mounts the API under a prefix answers its own 404 and 405 as problems too with these (a path
# its Mount does not match, such as one with a newline, never reaches the API).
PROBLEM_HANDLERS: Final = {404: _not_found, 405: _not_found}


def _lazy_context() -> Callable[[], AppContext]:
    made: list[AppContext] = []
    lock = threading.Lock()

    def get() -> AppContext:
        with lock:
            if not made:
                from ranchersync.storage import db

                ctx = AppContext.from_env()
                db.upgrade_if_needed(ctx.engine)
                made.append(ctx)
            return made[0]

    return get


def create_app(ctx: AppContext | None = None, *, limit: Limit | None = None) -> Starlette:
    """The API as an ASGI application (paths relative to where it is mounted: /api/v1 in serve.py). Without `ctx`,
    the context is made from the environment on the first call (the dashboard's server mounts it at import)."""
    api = Api((lambda: ctx) if ctx is not None else _lazy_context(), TokenBuckets(limit or Limit.from_env()))
    routes = [Route(ep.path, _route(api, ep), methods=[ep.method]) for ep in ENDPOINTS]
    return Starlette(routes=routes, exception_handlers=PROBLEM_HANDLERS)
