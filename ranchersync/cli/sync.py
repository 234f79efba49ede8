"""`sync`, `rollback` and `resume`: promote versions between environments, and the way back."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ranchersync.cli import values
from ranchersync.cli.common import Commands, UsageError, add_command, cli_actor
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, ask, emit, format_table, note, say, warn
from ranchersync.kernel.errors import ApprovalRequired, OperationFailed

if TYPE_CHECKING:
    from ranchersync.context import AppContext
    from ranchersync.jobs import Started
    from ranchersync.sync import ProgressEvent, SyncPlan, TargetChoice

FAILED_STATUSES = ("failed", "rolled_back", "partial", "interrupted")


class NothingToSync(OperationFailed):
    """Every selected service is skipped, and not because it already runs the source's images."""

    kind = "nothing_to_sync"
    default_title = "Nothing can be synced"
    default_hint = "Each service's reason is listed: fix what it names, or select other services."


ROLLOUT_SECONDS = values.seconds(24 * 3600)


def register(commands: Commands) -> None:
    """Add `sync`, `rollback` and `resume`."""
    p = add_command(commands, "sync", cmd_sync, "promote services from one environment to another")
    p.add_argument("--from", dest="from_env", required=True, metavar="ENV")
    p.add_argument("--to", dest="to_env", required=True, metavar="ENV")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--service", action="append", metavar="NAME", help="repeatable; Kind/name when ambiguous")
    which.add_argument("--all-different", action="store_true", help="every service whose version differs")
    p.add_argument("--target-instance", metavar="NAME|all",
                   help="where a service runs in several app instances of the target: one of them, or all")
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument("--yes", action="store_true", help="apply without asking (not enough for a protected target)")
    p.add_argument("--confirm-env", metavar="NAME", help="the target's name, required for a protected target")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the rollouts")
    p.add_argument("--tag-only", action="store_true", help="keep the target's registry and repository")
    p.add_argument("--pin-digests", action=argparse.BooleanOptionalAction, default=None,
                   help="promote repo:tag@sha256:… (the digest the source runs): the target runs exactly the tested "
                        "bits (default: the target's setting, envs update E --pin-digests; until set, on for a "
                        "protected target)")
    p.add_argument("--no-rollback", action="store_true", help="keep what changed when a service fails")
    p.add_argument("--timeout", type=ROLLOUT_SECONDS, default=300, metavar="S",
                   help="per rollout (default 300)")
    p.add_argument("--at", metavar="TIME",
                   help='schedule it instead: "YYYY-MM-DD HH:MM"; planned and checked when it fires (`scheduler`)')
    p.add_argument("--tz", default="UTC", metavar="ZONE", help="the time zone of --at (default UTC)")
    p.add_argument("--wait-approval", action="store_true",
                   help="where the target needs approvals: wait for the decision, then report the sync")
    p.add_argument("--wait-timeout", type=values.seconds(7 * 24 * 3600), default=24 * 3600, metavar="S",
                   help="how long --wait-approval waits (default: 86400, a request's default lifetime)")
    _override_options(p)
    p.add_argument("--override-policy", action="store_true",
                   help="promote a source that is not healthy anyway (releasers; needs --reason, audited)")
    for name, handler, text in (("rollback", cmd_rollback, "put back the previous images of an operation"),
                                ("resume", cmd_resume, "finish an interrupted operation")):
        p = add_command(commands, name, handler, text)
        p.add_argument("operation", type=int, help="the operation's id (see `history`)")
        p.add_argument("--yes", action="store_true", help="go ahead without asking")
        p.add_argument("--confirm-env", metavar="NAME", help="the target's name, required for a protected target")
        p.add_argument("--timeout", type=ROLLOUT_SECONDS, default=300, metavar="S",
                       help="per rollout (default 300)")
        if name == "rollback":
            p.add_argument("--failed", action="store_true",
                           help="the change caused a failure: count it in the change failure rate (a complete "
                                "sync rolled back is otherwise a decision, not a failure)")
            p.add_argument("--override-quarantine", action="store_true",
                           help="put back a quarantined image anyway (admins; needs --reason, audited)")
            p.add_argument("--reason", help="why the quarantine is overridden")
    _override_options(p)  # resume: a resumed sync meets the same freeze as a new one (a rollback never does)
    p = add_command(commands, "terminate", cmd_terminate,
                    "stop a running operation: roll back what it changed, or --keep it")
    p.add_argument("operation", type=int, help="the operation's id (see `history`)")
    p.add_argument("--keep", action="store_true", help="keep what changed: only stop waiting for its rollouts")
    p.add_argument("--wait", type=values.seconds(3600), default=120, metavar="S",
                   help="how long to wait for it to stop (default 120)")


def _override_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--override-freeze", action="store_true",
                   help="sync into a frozen environment anyway (admins; needs --reason, audited)")
    p.add_argument("--reason", help="why the freeze is overridden")


def override_reason(args: argparse.Namespace) -> str | None:
    """The freeze override's reason; refuses --reason without an override, and an override without a reason."""
    overriding = [flag for flag, given in (("--override-freeze", args.override_freeze),
                                           ("--override-policy", getattr(args, "override_policy", False))) if given]
    if overriding and not (args.reason or "").strip():
        raise UsageError(f"{' and '.join(overriding)} needs --reason \"why\": it is kept in the audit log")
    if args.reason and not overriding:
        raise UsageError("--reason goes with --override-freeze or --override-policy")
    return args.reason if args.override_freeze else None


def cmd_sync(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import sync
    from ranchersync.catalogue import environments
    from ranchersync.sync.payloads import plan_payload

    if not args.service and not args.all_different:
        raise UsageError("name the services with --service NAME (repeatable) or pass --all-different")
    override = override_reason(args)
    default_target = _target_choice(ctx, args.target_instance, args.to_env)
    if args.at:  # release trains: a scheduled request, planned when it fires
        from ranchersync.cli.schedules import schedule_from_cli

        if override:
            raise UsageError("a freeze is checked when a scheduled sync fires: --override-freeze goes with a sync now")
        return schedule_from_cli(ctx, args, target=args.to_env, source=args.from_env,
                                 services=None if args.all_different else args.service,
                                 mode="tag" if args.tag_only else "full", default_target=default_target)
    with ctx.session() as session:
        plan = sync.plan_environments(session, ctx.cipher, args.from_env, args.to_env,
                                      services=None if args.all_different else args.service,
                                      mode="tag" if args.tag_only else "full", default_target=default_target,
                                      pin_digests=args.pin_digests)
        protected = environments.get_environment(session, plan.target.id).protected
    for warning in plan.warnings:
        warn(warning)
    if args.dry_run:
        emit(args, plan_payload(plan), text=plan.to_markdown())
        return EXIT_OK
    if not args.json:
        say(plan.to_markdown())
        for line in sync.health_lines(plan):
            note(f"  {line}")
    if not plan.to_apply:
        return _nothing_to_apply(args, plan)
    go, confirm_env = confirmation(args, plan.target.name, protected, f"apply {len(plan.to_apply)} change(s)")
    if not go:
        return EXIT_OK
    options = sync.SyncOptions(verify=not args.no_wait, timeout_seconds=args.timeout,
                               auto_rollback=not args.no_rollback)
    from ranchersync.approvals.promote import Requested
    from ranchersync.jobs import start_sync

    outcome = start_sync(ctx, cli_actor(ctx), plan, request_id=sync.new_request_id(),
                         confirmed=sync.Confirmation(confirm_env=confirm_env, override_freeze=override,
                                                     override_policy=args.reason if args.override_policy else None),
                         options=options, progress=_print_progress)
    if isinstance(outcome, Requested):
        note(outcome.message)
        note(f"hint: {outcome.hint}")
        if not args.wait_approval:
            return EXIT_REFUSED  # the request id is printed: a pipeline waits, or asks a person
        operation_id = _wait_for_approval(ctx, args, outcome.request_id)
    else:
        operation_id = _wait_for_job(ctx, outcome)
    return _report_operation(ctx, args, operation_id)


def _wait_for_job(ctx: AppContext, started: Started) -> int:
    """Wait for an operation running in this process's worker; Ctrl-C asks what the Terminate button asks: roll
    back what changed, keep it, or go on waiting."""
    from ranchersync.jobs import terminate_operation
    from ranchersync.kernel.errors import ValidationError

    while True:
        try:
            return started.wait(timeout=0.5)
        except TimeoutError:
            continue
        except KeyboardInterrupt:
            keep = _terminate_choice(started.operation_id)
            if keep is None:
                continue
            try:
                terminate_operation(ctx, cli_actor(ctx), started.operation_id, keep=keep)
            except ValidationError:
                continue  # it finished meanwhile
            note("Terminating: " + ("keeping what changed…" if keep else "rolling back what changed…"))


def _terminate_choice(operation_id: int) -> bool | None:
    """Ask whether to terminate: False (roll back), True (keep), None (go on waiting). Without a terminal, or on a
    second Ctrl-C, it rolls back: the safe answer."""
    if not sys.stdin.isatty():
        note(f"Interrupted: terminating operation #{operation_id} and rolling back what it changed.")
        return False
    try:
        answer = ask(f"\nTerminate operation #{operation_id}? [r]oll back what changed, [k]eep it, or [c]ontinue "
                     "waiting: ").lower()
    except (KeyboardInterrupt, EOFError):
        return False
    if answer.startswith("c"):
        return None
    return answer.startswith("k")


def cmd_terminate(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.jobs import terminate_operation, wait_for_operation

    terminate_operation(ctx, cli_actor(ctx), args.operation, keep=args.keep)
    note(f"Operation #{args.operation} is asked to stop " + ("and keep what it changed" if args.keep else
                                                             "and roll back what it changed") + "…")
    status = wait_for_operation(ctx, args.operation, args.wait)
    if status == "running":
        note(f"It still runs after {args.wait:.0f} s: the process running it stops at its next poll, or, if that "
             "process is gone, the operation shows as interrupted once it is noticed (then `rollback` it).")
        return EXIT_FAILED
    _report_operation(ctx, args, args.operation)
    return EXIT_OK


class ApprovalNotGiven(ApprovalRequired):
    """The awaited request was rejected, went stale or expired, or is still waiting when the wait ended (exit 3)."""

    default_title = "The sync was not approved"


def _wait_for_approval(ctx: AppContext, args: argparse.Namespace, request_id: int) -> int:
    """Wait for the request's decision; the operation it ran, or ApprovalNotGiven saying why none ran."""
    from ranchersync.approvals import requests as approvals
    note(f"Waiting for the decision on request #{request_id} (at most {args.wait_timeout:.0f} s)…")
    request = approvals.wait_for_decision(ctx, request_id, timeout=args.wait_timeout)
    if request.status == "executed" and request.operation_id is not None:
        return request.operation_id
    if request.status in ("pending", "approved"):
        raise ApprovalNotGiven(f"request #{request_id} is still {request.status} after {args.wait_timeout:.0f} s",
                               hint="Follow it with `approvals list`, or on the Approvals page.")
    raise ApprovalNotGiven(f"request #{request_id} is {request.status}: {request.status_reason}",
                           hint="Nothing was changed. Plan and request the sync again if it is still wanted.")


def _nothing_to_apply(args: argparse.Namespace, plan: SyncPlan) -> int:
    from ranchersync.sync.payloads import plan_payload

    return nothing_to_apply(args, plan_payload(plan))


def nothing_to_apply(args: argparse.Namespace, plan: Mapping[str, Any]) -> int:
    """Every selected service already runs the source's images: done (pipelines rerun). Skipped for any other
    reason: the sync failed, and the reasons say why (DESIGN.md, "Command line"). From the plan's payload, so the
    remote CLI decides the same."""
    from ranchersync.sync.plan import SKIP_EQUAL

    if args.json:
        emit(args, plan)
    skipped = [i for i in plan["items"] if i["skipReason"]]
    if all(item["skipReason"] == SKIP_EQUAL for item in skipped):
        note("Nothing to change: every selected service already runs the source's images.")
        return EXIT_OK
    reasons = "; ".join(f"{i['serviceId']} ({_target_label(i)}): {i['skipReason']}"
                        f"{': ' + i['detail'] if i['detail'] else ''}"
                        for i in skipped if i["skipReason"] != SKIP_EQUAL)
    raise NothingToSync(f"nothing to change: every selected service is skipped ({reasons})")


def confirmation(args: argparse.Namespace, target: str, protected: bool, action: str) -> tuple[bool, str | None]:
    """Ask before changing a cluster: whether to go ahead, and the name typed for a protected target."""
    if protected:
        if args.confirm_env is not None:
            return True, args.confirm_env
        if args.yes or not sys.stdin.isatty():  # --yes alone is not enough for a protected environment
            raise UsageError(f"{target} is protected: add --confirm-env {target}")
        return True, ask(f"{target} is protected. Type its name to {action}: ")
    if args.yes:
        return True, args.confirm_env
    if not sys.stdin.isatty():
        raise UsageError(f"add --yes to {action} without a prompt (sync --dry-run shows the plan only)")
    go = ask(f"{action[0].upper()}{action[1:]} in {target}? [y/N] ").lower() == "y"
    if not go:
        note("Nothing changed.")
    return go, args.confirm_env


def _target_choice(ctx: AppContext, ref: str | None, environment: str) -> TargetChoice | None:
    from ranchersync.catalogue import instances
    if ref is None or ref == "all":
        return ref  # type: ignore[return-value]
    with ctx.session() as session:
        instance = instances.get_instance(session, ref)
        if instance.environment.name != environment and str(instance.environment_id) != environment:
            raise UsageError(f"app instance '{instance.name}' is not in {environment}")
        return instance.id


def _print_progress(event: ProgressEvent) -> None:
    from ranchersync.sync import progress_line

    if (line := progress_line(event)) is not None:
        note(f"  {line}")


def _report_operation(ctx: AppContext, args: argparse.Namespace, operation_id: int) -> int:
    from ranchersync.history import operation_detail_payload

    with ctx.session() as session:  # the report is the history's detail of the operation, as the dashboard's
        payload = operation_detail_payload(session, operation_id)
    return report_operation(args, payload)


def report_operation(args: argparse.Namespace, payload: Mapping[str, Any]) -> int:
    """Print a finished operation (its payload, from the database or the API); exit 1 if it failed."""
    rows = [[r["serviceId"], r["workloadType"], r["namespace"], r["previousImage"], r["newImage"], r["status"],
             r["error"] or ""] for r in payload["results"]]
    status = payload["status"]
    if args.json:
        emit(args, payload)
    else:
        print(format_table(["SERVICE", "KIND", "NAMESPACE", "PREVIOUS", "NEW", "STATUS", "NOTE"], rows))
        say(f"Operation #{payload['id']}: {status}.")
        if payload.get("approvedBy"):
            say(f"Requested by {payload['initiatedBy']}; approved by {', '.join(payload['approvedBy'])}.")
    return EXIT_FAILED if status in FAILED_STATUSES else EXIT_OK


def quarantine_override(args: argparse.Namespace) -> str | None:
    """`rollback --override-quarantine --reason R`: the reason, or None; one without the other is refused."""
    if args.override_quarantine and not (args.reason or "").strip():
        raise UsageError('--override-quarantine needs --reason "why": it is kept in the audit log')
    if args.reason and not args.override_quarantine:
        raise UsageError("--reason goes with --override-quarantine")
    return str(args.reason).strip() if args.override_quarantine else None


def cmd_rollback(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import sync
    from ranchersync.catalogue import environments
    override = quarantine_override(args)
    with ctx.session() as session:
        original = sync.get_operation(session, args.operation)
        target = original.target_environment_name
        protected = (original.target_environment_id is not None
                     and environments.get_environment(session, original.target_environment_id).protected)
        for r in sync.rollback_candidates(original.results):
            note(f"  {r.service} @ {r.namespace}: {r.new_image} -> {r.previous_image}")
    go, confirm_env = confirmation(args, target, protected, f"roll back operation #{args.operation}")
    if not go:
        return EXIT_OK
    from ranchersync.jobs import start_rollback

    started = start_rollback(ctx, cli_actor(ctx), args.operation, request_id=sync.new_request_id(),
                             confirm_env=confirm_env, options=sync.SyncOptions(timeout_seconds=args.timeout),
                             progress=_print_progress, failed=True if args.failed else None,
                             override_quarantine=override)
    return _report_operation(ctx, args, _wait_for_job(ctx, started))


def cmd_resume(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import sync
    from ranchersync.jobs import start_resume

    started = start_resume(ctx, cli_actor(ctx), args.operation, confirm_env=args.confirm_env,
                           options=sync.SyncOptions(timeout_seconds=args.timeout), progress=_print_progress,
                           override_freeze=override_reason(args))
    return _report_operation(ctx, args, _wait_for_job(ctx, started))


def _target_label(item: Mapping[str, Any]) -> str:
    """Where a planned change lands, as the plan names it (`ServicePlan.target_label`)."""
    return str(item["targetAppInstance"] or "—")
