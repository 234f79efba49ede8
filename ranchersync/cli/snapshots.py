"""`snapshots …` and `restore`: environment snapshots, promoted as one unit (release trains) or restored."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ranchersync.cli import values
from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, EXIT_REFUSED, emit, format_table, note, say, warn

if TYPE_CHECKING:
    from ranchersync.context import AppContext
    from ranchersync.snapshots.entries import DiffPayload
    from ranchersync.sync import SyncPlan

ROLLOUT_SECONDS = values.seconds(24 * 3600)
NOTHING_TO_CHANGE = ("Nothing to change: the target runs the snapshot's images already (or every service is skipped: "
                     "see the reasons above).")


def register(commands: Commands) -> None:
    """Add the `snapshots` group and `restore`."""
    group = add_group(commands, "snapshots", "environment snapshots: record, compare, promote as one unit")
    p = add_command(group, "create", cmd_create, "record every service of an environment (images and digests)")
    p.add_argument("--env", required=True, help="name or id")
    p.add_argument("--name", required=True, help="the snapshot's name (unique; never replaced)")
    p = add_command(group, "list", cmd_list, "snapshots, newest first")
    p.add_argument("--env", help="one environment")
    p.add_argument("--manual", action="store_true", help="without the automatic snapshots taken before syncs")
    p = add_command(group, "show", cmd_show, "what a snapshot holds")
    p.add_argument("snapshot", metavar="NAME")
    p = add_command(group, "diff", cmd_diff, "compare two snapshots, or a snapshot with an environment now")
    p.add_argument("snapshot", metavar="NAME")
    p.add_argument("other", nargs="?", metavar="OTHER", help="another snapshot (or use --env)")
    p.add_argument("--env", help="compare with what this environment runs now")
    p.add_argument("--only-differences", action="store_true")
    p = add_command(group, "promote", cmd_promote,
                    "set an environment to a snapshot as one operation (all or nothing)")
    p.add_argument("snapshot", metavar="NAME")
    p.add_argument("--to", dest="to_env", required=True, metavar="ENV")
    _apply_options(p)
    p = add_command(commands, "restore", cmd_restore, "put an environment back to one of its snapshots")
    p.add_argument("--env", required=True)
    p.add_argument("--snapshot", required=True, metavar="NAME")
    _apply_options(p, schedule=False)


def _apply_options(p: argparse.ArgumentParser, schedule: bool = True) -> None:
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument("--yes", action="store_true", help="apply without asking (not enough for a protected target)")
    p.add_argument("--confirm-env", metavar="NAME", help="the target's name, required for a protected target")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the rollouts")
    p.add_argument("--timeout", type=ROLLOUT_SECONDS, default=300, metavar="S", help="per rollout (default 300)")
    if schedule:
        p.add_argument("--at", metavar="TIME", help='schedule it instead: "YYYY-MM-DD HH:MM" (see `scheduler`)')
        p.add_argument("--tz", default="UTC", metavar="ZONE", help="the time zone of --at (default UTC)")


def _entry_images(containers: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{c['name']}{' (init)' if c['init'] else ''}={c['image']}"
                     + (f"@{c['digest'][:19]}" if c["digest"] else "") for c in containers)


def _minute(iso_text: str | None) -> str:
    """"2026-12-07T17:27:14Z" as the tables show it: "2026-12-07 17:27" (UTC)."""
    return (iso_text or "")[:16].replace("T", " ")


def created_text(payload: Mapping[str, Any]) -> str:
    """What `snapshots create` says (from the payload: the local and the remote command print the same)."""
    return f"Snapshot {payload['name']} of {payload['environment']}: {payload['serviceCount']} service(s) recorded."


def snapshot_rows(payloads: Sequence[Mapping[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    """`snapshots list`: its rows and headers."""
    rows = [[p["id"], p["name"], p["environment"], p["kind"], p["serviceCount"], p["createdBy"],
             _minute(p["createdAt"]), f"#{p['operationId']}" if p["operationId"] else ""] for p in payloads]
    return rows, ["ID", "NAME", "ENVIRONMENT", "KIND", "SERVICES", "BY", "AT (UTC)", "BEFORE"]


def snapshot_text(payload: Mapping[str, Any]) -> str:
    """`snapshots show`: the snapshot's line and its services' table."""
    before = f", before operation #{payload['operationId']}" if payload["operationId"] else ""
    head = (f"Snapshot {payload['name']} of {payload['environment']} ({payload['kind']}), by {payload['createdBy']} "
            f"at {_minute(payload['createdAt'])} UTC{before}:")
    table = format_table(["SERVICE", "KIND", "APP INSTANCE", "CONTAINERS"],
                         [[e["name"], e["kind"], e["appInstance"], _entry_images(e["containers"])]
                          for e in payload.get("services", ())])
    return f"{head}\n{table}"


def diff_rows(payload: Mapping[str, Any], only_differences: bool = False) -> tuple[list[list[Any]], list[str]]:
    """`snapshots diff`: its rows and headers (from the payload `snapshots diff --json` prints)."""
    rows = [[r["service"], r["kind"], r["container"], ", ".join(r["left"]) or "—", ", ".join(r["right"]) or "—",
             r["state"].replace("_", " ")] for r in payload["rows"]
            if not only_differences or r["state"] != "same"]
    return rows, ["SERVICE", "KIND", "CONTAINER", str(payload["left"]).upper(), str(payload["right"]).upper(),
                  "STATE"]


def diff_against(args: argparse.Namespace) -> None:
    """Refuse `snapshots diff` with both or neither of OTHER and --env."""
    from ranchersync.cli.common import UsageError

    if (args.other is None) == (args.env is None):
        raise UsageError("compare with another snapshot (OTHER) or with an environment now (--env ENV)")


def cmd_create(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.snapshots import store

    with ctx.session() as session:
        view = store.create_snapshot(session, ctx.cipher, cli_actor(ctx), environment=args.env, name=args.name)
    payload = store.snapshot_payload(view)
    emit(args, payload, text=created_text(payload))
    return EXIT_OK


def cmd_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.snapshots import store

    with ctx.session() as session:
        views = store.list_snapshots(session, args.env, automatic=not args.manual)
    payloads = [store.snapshot_payload(v, with_services=False) for v in views]
    emit(args, payloads, *snapshot_rows(payloads))
    return EXIT_OK


def cmd_show(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.snapshots import store

    with ctx.session() as session:
        view = store.get_snapshot(session, args.snapshot)
    payload = store.snapshot_payload(view)
    emit(args, payload, text=snapshot_text(payload))
    return EXIT_OK


def cmd_diff(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.snapshots import entries, store

    diff_against(args)
    with ctx.session() as session:
        if args.env:
            left, rows = store.diff_with_environment(session, ctx.cipher, args.snapshot, args.env)
            right_name = f"{args.env} now"
        else:
            left, right = store.get_snapshot(session, args.snapshot), store.get_snapshot(session, args.other)
            rows, right_name = entries.diff(left.entries, right.entries), right.name
    if args.only_differences:
        rows = [r for r in rows if r.state != "same"]
    payload: DiffPayload = {"left": left.name, "right": right_name, "rows": entries.diff_payload(rows)}
    emit(args, payload, *diff_rows(payload))
    return EXIT_OK


def cmd_promote(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.trains import trains

    if args.at:
        return _schedule(ctx, args)
    with ctx.session() as session:
        plan = trains.plan_snapshot_promotion(session, ctx.cipher, args.snapshot, args.to_env)
    return _put_in_place(ctx, args, plan)


def cmd_restore(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.trains import trains

    with ctx.session() as session:
        plan = trains.plan_restore(session, ctx.cipher, args.env, args.snapshot)
    return _put_in_place(ctx, args, plan)


def _put_in_place(ctx: AppContext, args: argparse.Namespace, plan: SyncPlan) -> int:
    from ranchersync import sync
    from ranchersync.approvals.promote import Requested
    from ranchersync.catalogue import environments
    from ranchersync.cli.sync import _print_progress, _report_operation, confirmation
    from ranchersync.sync.payloads import plan_payload
    from ranchersync.trains import trains

    for warning in plan.warnings:
        warn(warning)
    if args.dry_run:
        emit(args, plan_payload(plan), text=plan.to_markdown())
        return EXIT_OK
    if not args.json:
        say(plan.to_markdown())
    if not plan.to_apply:
        note(NOTHING_TO_CHANGE)
        return EXIT_OK
    with ctx.session() as session:
        protected = environments.get_environment(session, plan.target.id).protected
    go, confirm_env = confirmation(args, plan.target.name, protected,
                                    f"apply {len(plan.to_apply)} change(s) as one operation")
    if not go:
        return EXIT_OK
    outcome = trains.put_in_place(ctx, cli_actor(ctx), plan, request_id=sync.new_request_id(),
                                  confirmed=sync.Confirmation(confirm_env=confirm_env),
                                  options=sync.SyncOptions(verify=not args.no_wait, timeout_seconds=args.timeout),
                                  progress=_print_progress)
    if isinstance(outcome, Requested):
        note(outcome.message)
        note(f"hint: {outcome.hint}")
        return EXIT_REFUSED
    return _report_operation(ctx, args, outcome.operation_id)


def _schedule(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.cli.schedules import schedule_from_cli

    return schedule_from_cli(ctx, args, snapshot=args.snapshot, target=args.to_env)
