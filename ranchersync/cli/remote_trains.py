"""The remote CLI's commands for snapshots, restore, locks and schedules (issue 24): each prints the API's payloads
through the local command's own row and text functions, so output and exit status are the local ones (see
remote.py)."""

from __future__ import annotations

import argparse
from typing import Any

from ranchersync.cli.output import EXIT_OK, EXIT_REFUSED, emit, note, say, warn
from ranchersync.cli.remote import (
    Api,
    Remote,
    not_remote,
    protected,
    report,
    requested_message,
    segment,
)


def snapshots_create(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.snapshots import created_text

    _, payload = api.post("/snapshots", {"env": args.env, "name": args.name})
    emit(args, payload, text=created_text(payload))
    return EXIT_OK


def snapshots_list(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.snapshots import snapshot_rows

    params = {"env": args.env, "manual": "true" if args.manual else None}
    payload = api.get("/snapshots", {k: v for k, v in params.items() if v is not None})
    emit(args, payload, *snapshot_rows(payload))
    return EXIT_OK


def snapshots_show(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.snapshots import snapshot_text

    payload = api.get(f"/snapshots/{segment(args.snapshot)}")
    emit(args, payload, text=snapshot_text(payload))
    return EXIT_OK


def snapshots_diff(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.snapshots import diff_against, diff_rows

    diff_against(args)
    params = {"env": args.env} if args.env else {"against": args.other}
    if args.only_differences:
        params["onlyDifferences"] = "true"
    payload = api.get(f"/snapshots/{segment(args.snapshot)}/diff", params)
    emit(args, payload, *diff_rows(payload))
    return EXIT_OK


def snapshots_promote(api: Api, args: argparse.Namespace) -> int:
    path = f"/snapshots/{segment(args.snapshot)}/promote"
    if args.at:
        return _schedule(api, args, path, {"to": args.to_env})
    return _put_in_place(api, args, path, {"to": args.to_env})


def restore(api: Api, args: argparse.Namespace) -> int:
    return _put_in_place(api, args, "/restores", {"env": args.env, "snapshot": args.snapshot})


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"verify": not args.no_wait, "timeoutSeconds": int(args.timeout)}


def _put_in_place(api: Api, args: argparse.Namespace, path: str, request: dict[str, Any]) -> int:
    """The local `_put_in_place` through the API: the plan (printed as locally), the confirmation, then the
    operation started on the server and watched until it ends."""
    from ranchersync.cli.snapshots import NOTHING_TO_CHANGE
    from ranchersync.cli.sync import confirmation

    _, plan = api.post(path, {**request, "dryRun": True})
    for warning in plan.get("warnings", ()):
        warn(warning)
    if args.dry_run:
        emit(args, plan, text=plan["markdown"])
        return EXIT_OK
    if not args.json:
        say(plan["markdown"])
    if not plan["serviceIds"]:
        note(NOTHING_TO_CHANGE)
        return EXIT_OK
    target = plan["targetEnvironment"]
    changes = sum(1 for item in plan["items"] if not item["skipReason"])
    go, confirm_env = confirmation(args, target, protected(api, target),
                                   f"apply {changes} change(s) as one operation")
    if not go:
        return EXIT_OK
    body = {**request, **_options(args), "wait": False}
    if confirm_env is not None:
        body["confirmEnvironment"] = confirm_env
    _, answer = api.post(path, body)
    if "approvalRequest" in answer:
        requested = answer["approvalRequest"]
        note(requested_message(requested, target))
        note(f"hint: A releaser approves it on the Approvals page or with `approvals approve {requested['id']}`.")
        return EXIT_REFUSED
    return report(api, args, int(answer["id"]))


def _schedule(api: Api, args: argparse.Namespace, path: str, request: dict[str, Any], *, rollout_field: bool = True
              ) -> int:
    """`… --at`: the scheduled request, stored by the server (its approval request made now where one is needed).
    `rollout_field`: the call takes "verify" (wait for the rollouts); POST /syncs has none."""
    from ranchersync.cli.schedules import check_schedulable, scheduled_text

    check_schedulable(args)
    body = {**request, **_options(args), "at": args.at, "tz": args.tz}
    if not rollout_field:
        del body["verify"]
    if args.confirm_env is not None:
        body["confirmEnvironment"] = args.confirm_env
    _, answer = api.post(path, body)
    payload = answer["scheduledRequest"]
    emit(args, payload, text=scheduled_text(payload))
    return EXIT_OK


def schedule_sync(api: Api, args: argparse.Namespace) -> int:
    """`sync … --at` through POST /syncs, with the fields the local command keeps for the scheduled request."""
    from ranchersync.cli.common import UsageError
    from ranchersync.cli.sync import override_reason

    if override_reason(args):
        raise UsageError("a freeze is checked when a scheduled sync fires: --override-freeze goes with a sync now")
    request: dict[str, Any] = {"from": args.from_env, "to": args.to_env}
    if args.all_different:
        request["allDifferent"] = True
    else:
        request["services"] = list(args.service)
    if args.target_instance:
        request["targetInstance"] = args.target_instance
    if args.tag_only:
        request["tagOnly"] = True
    if args.no_rollback:
        request["noRollback"] = True
    not_remote(args, no_wait="--no-wait")  # POST /syncs always verifies the rollouts, as a sync now through the API
    return _schedule(api, args, "/syncs", request, rollout_field=False)


def sync_or_schedule(api: Api, args: argparse.Namespace) -> int:
    """`sync`: with --at a scheduled request, else the core twin (a sync now)."""
    from ranchersync.cli import remote

    return schedule_sync(api, args) if args.at else remote.sync(api, args)


def locks_add(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.locks import added_text

    body = {"env": args.env, "message": args.message}
    if args.service is not None:
        body["service"] = args.service
    _, payload = api.post("/locks", body)
    emit(args, payload, text=added_text(payload))
    return EXIT_OK


def locks_list(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.locks import lock_rows

    payload = api.get("/locks", {"env": args.env} if args.env else None)
    emit(args, payload, *lock_rows(payload))
    return EXIT_OK


def locks_remove(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.locks import removed_text

    _, payload = api.call("DELETE", f"/locks/{args.lock}")
    emit(args, payload, text=removed_text(payload))
    return EXIT_OK


def schedules_list(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.schedules import schedule_rows

    payload = api.get("/schedules", {"pending": "true"} if args.pending else None)
    emit(args, payload, *schedule_rows(payload))
    return EXIT_OK


def schedules_cancel(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.schedules import cancelled_text

    _, payload = api.post(f"/schedules/{args.request}/cancel", {})
    emit(args, payload, text=cancelled_text(payload))
    return EXIT_OK


# The local handlers ("module.name" of ranchersync.cli, e.g. "locks.cmd_add") and their remote twins.
REMOTE: dict[str, Remote] = {
    "snapshots.cmd_create": snapshots_create,
    "snapshots.cmd_list": snapshots_list,
    "snapshots.cmd_show": snapshots_show,
    "snapshots.cmd_diff": snapshots_diff,
    "snapshots.cmd_promote": snapshots_promote,
    "snapshots.cmd_restore": restore,
    "locks.cmd_add": locks_add,
    "locks.cmd_list": locks_list,
    "locks.cmd_remove": locks_remove,
    "schedules.cmd_list": schedules_list,
    "schedules.cmd_cancel": schedules_cancel,
    "sync.cmd_sync": sync_or_schedule,
}
