"""`approvals …`: four-eyes requests for syncs into environments that need approvals — list, approve, reject."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ranchersync.cli.common import Commands, UsageError, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, emit, format_table, note, say
from ranchersync.kernel.errors import RefusedByPolicy

if TYPE_CHECKING:
    from ranchersync.context import AppContext
    from ranchersync.sync import ProgressEvent


def register(commands: Commands) -> None:
    """Add the `approvals` group."""
    group = add_group(commands, "approvals", "four-eyes approval requests for syncs")
    p = add_command(group, "list", cmd_approvals_list, "list approval requests, newest first")
    p.add_argument("--pending", action="store_true", help="only those waiting for decisions")
    p = add_command(group, "approve", cmd_approvals_approve,
                    "approve a request (the last approval re-checks the plan and runs the sync)")
    p.add_argument("request", type=int, help="the request's id (see `approvals list`)")
    p.add_argument("--comment", default="", metavar="C")
    p = add_command(group, "reject", cmd_approvals_reject, "reject a request, saying why")
    p.add_argument("request", type=int, help="the request's id (see `approvals list`)")
    p.add_argument("--comment", default="", metavar="C", help="why (required)")


def cmd_approvals_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.approvals import requests as approvals
    with ctx.session() as session:
        approvals.expire_requests(session)
        payload = [approvals.request_payload(r) for r in approvals.list_requests(session, pending=args.pending)]
    emit(args, payload, *request_rows(payload))
    return EXIT_OK


def request_rows(payload: Sequence[Mapping[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    """`approvals list` as a table, from the requests' payloads."""
    rows = [[p["id"], p["status"], f"{p['sourceEnvironment']} -> {p['targetEnvironment']}",
             ", ".join(s.rpartition("/")[2] for s in p["services"]), p["requestedBy"],
             f"{len(p['approvals'])}/{p['required']}", p["expiresAt"], p["statusReason"] or ""] for p in payload]
    return rows, ["ID", "STATUS", "SYNC", "SERVICES", "REQUESTED BY", "APPROVALS", "EXPIRES", "NOTE"]


def cmd_approvals_approve(ctx: AppContext, args: argparse.Namespace) -> int:
    return _decide(ctx, args, approve=True)


def cmd_approvals_reject(ctx: AppContext, args: argparse.Namespace) -> int:
    if not args.comment.strip():
        raise UsageError("say why with --comment: a rejection needs a comment")
    return _decide(ctx, args, approve=False)


def _decide(ctx: AppContext, args: argparse.Namespace, *, approve: bool) -> int:
    from ranchersync.approvals import requests as approvals
    with ctx.session() as session:
        shown = approvals.request_payload(approvals.get_request(session, args.request))
    show_binding(shown)
    request = approvals.decide(ctx, cli_actor(ctx), args.request, approve, args.comment, progress=_progress)
    payload = approvals.request_payload(request)
    emit(args, payload, text=decision_text(payload))
    operation = None
    if payload["status"] == "executed" and payload["operationId"] is not None:
        from ranchersync.history import operation_detail_payload

        with ctx.session() as session:
            operation = operation_detail_payload(session, payload["operationId"])
    return decision_outcome(args, payload, operation)


def decision_outcome(args: argparse.Namespace, request: Mapping[str, Any], operation: Mapping[str, Any] | None) -> int:
    """After a decision: a stale request exits 3; one that ran prints its operation's results (text) and exits 1 if
    the sync failed. From payloads, so the remote CLI ends the same way."""
    if request["status"] == "stale":
        return RefusedByPolicy.exit_code  # not run: what it was bound to moved (the reason is printed)
    if operation is not None:
        from ranchersync.cli.sync import FAILED_STATUSES

        if not args.json:
            say(format_table(["SERVICE", "NAMESPACE", "PREVIOUS", "NEW", "STATUS", "NOTE"],
                             [[r["serviceId"], r["namespace"], r["previousImage"], r["newImage"], r["status"],
                               r["error"] or ""] for r in operation["results"]]))
            say(f"Operation #{operation['id']}: {operation['status']}.")
        return EXIT_FAILED if operation["status"] in FAILED_STATUSES else EXIT_OK
    return EXIT_OK


def show_binding(payload: Mapping[str, Any]) -> None:
    """What the decision is about, on standard error (so --json stays parseable)."""
    note(f"Request #{payload['id']}: sync {payload['sourceEnvironment']} -> {payload['targetEnvironment']} "
         f"asked by {payload['requestedBy']} ({len(payload['approvals'])}/{payload['required']} approvals)")
    for target in payload["targets"]:
        for c in target["containers"]:
            digest = f" ({', '.join(c['digests'])})" if c["digests"] else ""
            note(f"  {target['name']} @ {target['appInstance']}: {c['previous']} -> {c['new']}{digest}")


def decision_text(payload: Mapping[str, Any]) -> str:
    status, request_id = payload["status"], payload["id"]
    if status == "executed":
        return f"Request #{request_id} approved and run as operation #{payload['operationId']} (see `history`)."
    if status == "pending":
        return (f"Request #{request_id}: {len(payload['approvals'])} of {payload['required']} approvals; it waits "
                "for more.")
    return f"Request #{request_id} is {status}: {payload['statusReason']}"


def _progress(event: ProgressEvent) -> None:
    from ranchersync.sync import progress_line

    if (line := progress_line(event)) is not None:
        note(f"  {line}")

