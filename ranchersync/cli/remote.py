"""The remote CLI: with `RANCHERSYNC_SERVER` and `RANCHERSYNC_API_TOKEN` set, the commands the HTTP API covers go
to the API instead of the database, so a pipeline needs neither the database nor the key (DESIGN.md, "HTTP API").

The same parser, the same printing: every command prints the API's payloads through the very functions the local
command uses (`service_rows`, `report_operation`…), so the output and the exit status are the local ones. An error
comes back as problem details (`kind`, `title`, `detail`, `hint`); its exit code is that of the local error of the
same kind, else of its status's family. The token travels only in the Authorization header: it is never printed,
logged, put in an error message, or sent anywhere but the configured server.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from ranchersync.cli.common import UsageError
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, emit, emit_items, note, say, warn
from ranchersync.kernel.errors import BadInput, OperationFailed, RancherSyncError, RefusedByPolicy

if TYPE_CHECKING:
    import requests

SERVER_VARIABLE = "RANCHERSYNC_SERVER"
TOKEN_VARIABLE = "RANCHERSYNC_API_TOKEN"
API_PREFIX = "/api/v1"
REQUEST_TIMEOUT = 60.0  # seconds for one call; a sync is started, then watched, never awaited in one request
DECISION_TIMEOUT = 3600.0  # an approval that runs the sync answers when the sync has ended
POLL_SECONDS = 0.5
ACTIVE = ("pending", "running")
USER_AGENT = "ranchersync-cli"


class RemoteUnavailable(OperationFailed):
    """The API server could not be reached or did not answer like the API."""

    kind = "server_unavailable"
    default_title = "The Rancher Sync Manager server cannot be reached"
    default_hint = f"Check {SERVER_VARIABLE} (the dashboard's or the API's address) and that this runner reaches it."


class NotRemote(BadInput):
    """A command the HTTP API does not cover."""

    kind = "not_remote"
    default_title = "Not available through the API"
    default_hint = (f"Unset {SERVER_VARIABLE} and run it where the database is, or use the dashboard.")


class RemoteBadInput(BadInput):
    """The server refused the request as bad input (400, 404, 422)."""


class RemoteFailed(OperationFailed):
    """The server tried and failed (Rancher refused, a sync failed, 5xx)."""


class RemoteRefused(RefusedByPolicy):
    """The server refused by policy or state (401, 403, 409, 423, 429)."""


def configured() -> bool:
    """Whether the CLI talks to a server instead of the database."""
    return bool(os.environ.get(SERVER_VARIABLE, "").strip())


# ---- the one HTTP funnel --------------------------------------------------------------------------------------------


class Api:
    """The API's client: one session, one funnel (`call`) that sets the timeout, TLS verification and the token, and
    turns every failure into a typed error that names the server but never the token."""

    def __init__(self, server: str, token: str) -> None:
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{SERVER_VARIABLE} must be an http(s):// address, e.g. https://rsm.example.com")
        if parts.username or parts.password:
            raise UsageError(f"{SERVER_VARIABLE} must not carry credentials: the token goes in {TOKEN_VARIABLE}")
        self.base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + API_PREFIX, "", ""))
        self.server = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        import requests

        self._session = requests.Session()
        # Explicit auth, so a ~/.netrc entry for the host can never replace the token (proxies still apply).
        self._session.auth = _Bearer(token)
        self._session.headers.update({"User-Agent": USER_AGENT,
                                      "Accept": "application/json, application/problem+json"})
        # The CA bundle: REQUESTS_CA_BUNDLE would silently override a session setting, so `verify` goes on each call.
        self._verify: bool | str = os.environ.get("RANCHERSYNC_SERVER_CA_FILE") or True

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.close()

    def get(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None) -> Any:
        return self.call("GET", path, params=params)[1]

    def get_with_headers(self, path: str) -> tuple[Any, dict[str, str]]:
        _, data, headers = self._call("GET", path)
        return data, headers

    def post(self, path: str, body: dict[str, Any], *, timeout: float = REQUEST_TIMEOUT) -> tuple[int, Any]:
        return self.call("POST", path, body=body, timeout=timeout)

    def call(self, method: str, path: str, *, params: Any = None, body: dict[str, Any] | None = None,
             timeout: float = REQUEST_TIMEOUT) -> tuple[int, Any]:
        """One call: (status, JSON body); a problem answer raises the local error of its kind."""
        status, data, _ = self._call(method, path, params=params, body=body, timeout=timeout)
        return status, data

    def _call(self, method: str, path: str, *, params: Any = None, body: dict[str, Any] | None = None,
              timeout: float = REQUEST_TIMEOUT) -> tuple[int, Any, dict[str, str]]:
        import requests

        # A change (POST, PATCH, DELETE) is retried once with the same key: the server answers the first call's answer.
        headers = {"Idempotency-Key": str(uuid.uuid4())} if method != "GET" else {}
        for attempt in (1, 2):
            try:
                response = self._session.request(method, self.base + path, params=params, json=body, headers=headers,
                                                 timeout=timeout, verify=self._verify, allow_redirects=False)
                break
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt == 2 or (method != "GET" and not headers):
                    raise RemoteUnavailable(f"{self.server} did not answer ({type(error).__name__})") from None
            except requests.RequestException as error:
                raise RemoteUnavailable(f"{self.server} could not be called ({type(error).__name__})") from None
        return response.status_code, self._answer(response), dict(response.headers)

    def _answer(self, response: requests.Response) -> Any:
        kind = response.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        if response.status_code >= 400 or kind == "application/problem+json":
            raise problem_error(response.status_code, data if isinstance(data, dict) else {})
        if response.status_code >= 300 or (data is None and response.status_code != 204):
            raise RemoteUnavailable(f"{self.server} answered {response.status_code} without the API's JSON",
                                    hint=f"Check that {SERVER_VARIABLE} is the dashboard's or the API's address.")
        return data


class _Bearer:
    """`Authorization: Bearer …` on each request; its repr never shows the token (a traceback, a debugger)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(token='(hidden)')"


def problem_error(status: int, problem: dict[str, Any]) -> RancherSyncError:
    """A problem-details answer as the local error: the exit code the server states (`exitCode`), else that of the
    local error of its `kind`, else of its status's family; the server's detail, title and hint as they are."""
    kind = str(problem.get("kind") or "")
    stated = problem.get("exitCode")  # the server names the CLI's exit status for the same error
    exit_code = stated if stated in (BadInput.exit_code, OperationFailed.exit_code, RefusedByPolicy.exit_code) \
        else _exit_codes().get(kind)
    if exit_code is None:
        exit_code = (BadInput.exit_code if status in (400, 404, 405, 413, 422) else
                     RefusedByPolicy.exit_code if status in (401, 403, 409, 423, 429) else OperationFailed.exit_code)
    family = {BadInput.exit_code: RemoteBadInput, RefusedByPolicy.exit_code: RemoteRefused}.get(exit_code,
                                                                                                RemoteFailed)
    message = str(problem.get("detail") or problem.get("title") or f"the server answered {status}")
    return family(message, title=problem.get("title") or None, hint=problem.get("hint") or None)


def _exit_codes() -> dict[str, int]:
    """Every local error's kind and its exit code (the first class of a kind decides)."""
    found: dict[str, int] = {}
    pending: list[type[RancherSyncError]] = [RancherSyncError]
    while pending:
        cls = pending.pop(0)
        found.setdefault(cls.kind, cls.exit_code)
        pending.extend(cls.__subclasses__())
    return found


# ---- the commands -----------------------------------------------------------------------------------------------


def envs_list(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.envs import environment_rows

    payload = api.get("/environments")
    emit(args, payload, *environment_rows(payload))
    return EXIT_OK


def services_list(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.services import service_rows

    services, headers = api.get_with_headers(f"/environments/{segment(args.env)}/services")
    failures = [n.strip() for n in headers.get("X-Unreadable-App-Instances", "").split(",") if n.strip()]
    for name in failures:
        warn(f"app instance '{name}' could not be read (the server's log says why)")
    if args.json:
        emit_items(iter(services))
    else:
        emit(args, None, *service_rows(services))
    return EXIT_FAILED if failures else EXIT_OK


def services_compare(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.services import comparison_rows

    if len(args.env) < 2:
        raise UsageError("compare needs at least two environments: --env A --env B")
    not_remote(args, digests="--digests")
    params: list[tuple[str, Any]] = [("env", e) for e in args.env]
    if args.only_differences:
        params.append(("onlyDifferences", "true"))
    if args.tag_only:
        params.append(("tagOnly", "true"))
    payload = api.get("/compare", params)
    emit(args, payload, *comparison_rows(payload))
    return EXIT_OK


def sync(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.sync import confirmation, nothing_to_apply, override_reason

    if not args.service and not args.all_different:
        raise UsageError("name the services with --service NAME (repeatable) or pass --all-different")
    not_remote(args, at="--at", override_freeze="--override-freeze", no_wait="--no-wait")  # --at: remote_trains
    override_reason(args)  # the local CLI's rules for --reason
    request: dict[str, Any] = {"from": args.from_env, "to": args.to_env}
    if args.pin_digests is not None:
        request["pinDigests"] = args.pin_digests
    if args.no_rollback:
        request["noRollback"] = True
    if args.override_policy:
        request["overridePolicy"] = args.reason.strip()
    if args.all_different:
        request["allDifferent"] = True
    else:
        request["services"] = list(args.service)
    if args.target_instance:
        request["targetInstance"] = args.target_instance
    if args.tag_only:
        request["tagOnly"] = True
    _, plan = api.post("/syncs", {**request, "dryRun": True})
    for warning in plan.get("warnings", ()):
        warn(warning)
    if args.dry_run:
        emit(args, plan, text=plan["markdown"])
        return EXIT_OK
    if not args.json:
        say(plan["markdown"])
    if not plan["serviceIds"]:
        return nothing_to_apply(args, plan)
    target = plan["targetEnvironment"]
    changes = sum(1 for item in plan["items"] if not item["skipReason"])
    go, confirm_env = confirmation(args, target, protected(api, target), f"apply {changes} change(s)")
    if not go:
        return EXIT_OK
    if confirm_env is not None:
        request["confirmEnvironment"] = confirm_env
    _, answer = api.post("/syncs", {**request, "dryRun": False, "wait": False, "timeoutSeconds": int(args.timeout)})
    if isinstance(answer, dict) and "approvalRequest" in answer:
        requested = answer["approvalRequest"]
        note(requested_message(requested, target))
        note(f"hint: A releaser approves it on the Approvals page or with `approvals approve {requested['id']}`; "
             "`sync --wait-approval` waits for the decision.")
        if not args.wait_approval:
            return EXIT_REFUSED
        operation_id = _wait_for_approval(api, args, int(requested["id"]))
    else:
        operation_id = int(answer["id"])
    return report(api, args, operation_id)


def requested_message(request: dict[str, Any], target: str) -> str:
    """What the CLI says when a sync became an approval request: who must approve, until when."""
    from ranchersync.governance.four_eyes import approvals_text

    required = request.get("required")
    expires = str(request.get("expiresAt") or "")
    needs = f"needs {approvals_text(int(required))} by someone else" if required else "needs approvals"
    until = f" until {expires[:16].replace('T', ' ')} UTC" if expires else ""
    return f"the sync into {target} {needs}: request #{request['id']} waits for them{until}"


def _wait_for_approval(api: Api, args: argparse.Namespace, request_id: int) -> int:
    from ranchersync.cli.sync import ApprovalNotGiven

    note(f"Waiting for the decision on request #{request_id} (at most {args.wait_timeout:.0f} s)…")
    deadline = time.monotonic() + args.wait_timeout
    while True:
        request = _request(api, request_id)
        if request["status"] == "executed" and request.get("operationId") is not None:
            return int(request["operationId"])
        if request["status"] not in ("pending", "approved"):
            raise ApprovalNotGiven(f"request #{request_id} is {request['status']}: {request.get('statusReason')}",
                                   hint="Nothing was changed. Plan and request the sync again if it is still wanted.")
        if time.monotonic() >= deadline:
            raise ApprovalNotGiven(f"request #{request_id} is still {request['status']} after "
                                   f"{args.wait_timeout:.0f} s",
                                   hint="Follow it with `approvals list`, or on the Approvals page.")
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))


def _request(api: Api, request_id: int) -> dict[str, Any]:
    for request in api.get("/approvals"):
        if request["id"] == request_id:
            return dict(request)
    from ranchersync.kernel.errors import NotFoundError

    raise NotFoundError(f"no approval request #{request_id}")


def protected(api: Api, environment: str) -> bool:
    """Whether the environment is protected (its name must be typed to change it)."""
    return any(e["name"] == environment and e["protected"] for e in api.get("/environments"))


def _watch(api: Api, operation_id: int, timeout: float | None = None) -> dict[str, Any]:
    """The operation once it has ended (or when `timeout` passes), its progress on standard error meanwhile."""
    deadline = None if timeout is None else time.monotonic() + timeout
    seen: set[tuple[int, str]] = set()
    while True:
        payload: dict[str, Any] = api.get(f"/operations/{operation_id}")
        for result in payload.get("results", ()):
            key = (int(result["id"]), str(result["status"]))
            if key not in seen and result["status"] != "pending":
                seen.add(key)
                note(f"  {result['serviceId']} @ {result['namespace']}: {result['status']}")
        if payload["status"] not in ACTIVE or (deadline is not None and time.monotonic() >= deadline):
            return payload
        time.sleep(POLL_SECONDS)


def report(api: Api, args: argparse.Namespace, operation_id: int) -> int:
    """Follow an operation to its end and print it as the local command does; its exit status."""
    from ranchersync.cli.sync import report_operation

    return report_operation(args, _watch(api, operation_id))


def rollback(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.sync import confirmation, quarantine_override

    override = quarantine_override(args)
    if args.timeout != 300:
        _refuse("--timeout")
    original = api.get(f"/operations/{args.operation}")
    for r in original.get("results", ()):
        if r.get("applied") and r["status"] == "success":
            note(f"  {r['serviceId']} @ {r['namespace']}: {r['newImage']} -> {r['previousImage']}")
    target = original["targetEnvironment"]
    go, confirm_env = confirmation(args, target, protected(api, target), f"roll back operation #{args.operation}")
    if not go:
        return EXIT_OK
    body: dict[str, Any] = {"wait": False, "failed": bool(args.failed)}
    if confirm_env is not None:
        body["confirmEnvironment"] = confirm_env
    if override is not None:
        body["overrideQuarantine"] = override
    _, started = api.post(f"/operations/{args.operation}/rollback", body)
    return report(api, args, int(started["id"]))


def terminate(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.sync import report_operation

    api.post(f"/operations/{args.operation}/terminate", {"keep": bool(args.keep)})
    note(f"Operation #{args.operation} is asked to stop " + ("and keep what it changed" if args.keep else
                                                             "and roll back what it changed") + "…")
    payload = _watch(api, args.operation, timeout=args.wait)
    if payload["status"] in ACTIVE:
        note(f"It still runs after {args.wait:.0f} s: the process running it stops at its next poll, or, if that "
             "process is gone, the operation shows as interrupted once it is noticed (then `rollback` it).")
        return EXIT_FAILED
    report_operation(args, payload)
    return EXIT_OK


def history_list(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.history import print_history

    not_remote(args, by="--by")
    params = {"env": args.env, "status": args.status, "service": args.service,
              "since": args.since and args.since.isoformat(), "until": args.until and args.until.isoformat(),
              "page": args.page, "limit": args.limit}
    payload = api.get("/history", {k: v for k, v in params.items() if v is not None})
    if isinstance(payload, dict):  # a page: its items and where it stands
        items = payload["items"]
        total = int(payload.get("total", len(items)))
        pages = int(payload.get("pages", max(1, -(-total // args.limit))))
    else:
        items, total, pages = payload, len(payload), 1
    print_history(args, items, args.page, pages, total)
    return EXIT_OK


def history_show(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.history import operation_text

    payload = api.get(f"/operations/{args.operation}")
    emit(args, payload, text=operation_text(payload))
    return EXIT_OK


def approvals_list(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.approvals import request_rows

    payload = api.get("/approvals", {"pending": "true"} if args.pending else None)
    emit(args, payload, *request_rows(payload))
    return EXIT_OK


def approvals_decide(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.approvals import decision_outcome, decision_text, show_binding

    approve = args.handler.__name__ == "cmd_approvals_approve"
    if not approve and not args.comment.strip():
        raise UsageError("say why with --comment: a rejection needs a comment")
    show_binding(_request(api, args.request))
    # The last approval runs the sync before the server answers: wait as long as a rollout may take.
    _, request = api.post(f"/approvals/{args.request}/{'approve' if approve else 'reject'}",
                          {"comment": args.comment}, timeout=DECISION_TIMEOUT)
    operation = None
    if request["status"] == "executed" and request.get("operationId") is not None:
        operation = _watch(api, int(request["operationId"]))
    emit(args, request, text=decision_text(request))
    return decision_outcome(args, request, operation)


def segment(value: str) -> str:
    """A value as one path segment of a call (quoted: a name may hold '/' or spaces)."""
    return quote(value, safe="")


def not_remote(args: argparse.Namespace, **flags: str) -> None:
    """Refuse the options the API does not take, rather than ignore them silently."""
    for dest, flag in flags.items():
        if getattr(args, dest, None) not in (None, False):
            _refuse(flag)


def _refuse(flag: str) -> None:
    raise NotRemote(f"{flag} is not available through {SERVER_VARIABLE}; run it where the database is")


Remote = Callable[[Api, argparse.Namespace], int]

# The local handlers' names and their remote twins: what DESIGN.md's API covers (each topic's twins are in its own
# module — remote_images.py, remote_verification.py, remote_trains.py — keyed by "module.name", e.g. "locks.cmd_add",
# since several CLI modules name a handler cmd_add or cmd_list; remote_commands.py puts them together).
REMOTE: dict[str, Remote] = {
    "cmd_envs_list": envs_list,
    "cmd_services_list": services_list,
    "cmd_services_compare": services_compare,
    "cmd_sync": sync,
    "cmd_rollback": rollback,
    "cmd_terminate": terminate,
    "cmd_history": history_list,
    "cmd_history_show": history_show,
    "cmd_approvals_list": approvals_list,
    "cmd_approvals_approve": approvals_decide,
    "cmd_approvals_reject": approvals_decide,
}

