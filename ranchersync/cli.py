"""`python -m ranchersync …`: the dashboard's use-cases for pipelines and terminals, a thin layer like the pages."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

from ranchersync import compare, demo, environments, history, instances, inventory, sites, sync
from ranchersync.context import AppContext
from ranchersync.errors import RancherAPIError, RancherSyncError
from ranchersync.history import operation_payload
from ranchersync.models import OperationStatus
from ranchersync.payloads import (
    cluster_payload,
    comparison_payload,
    environment_payload,
    instance_payload,
    iso,
    namespace_payload,
    plan_payload,
    service_payload,
    site_payload,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
OPERATION_STATUSES = get_args(OperationStatus)


class UsageError(RancherSyncError):
    """The command line itself is wrong."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 done, 1 failed, 2 bad input or usage)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["simulate"]:  # the simulator has its own parser and serves until stopped
        from ranchersync.simulator.cli import main as simulate

        return simulate(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USAGE
    ctx = AppContext.from_env()
    try:
        if args.handler is not cmd_db_upgrade:
            ctx.upgrade_database()  # a fresh machine's first command must not fail on a missing table
            with ctx.session() as session:
                for operation_id in sync.mark_interrupted(session):
                    warn(f"operation #{operation_id} was interrupted: roll it back or resume it")
        return int(args.handler(ctx, args) or EXIT_OK)
    except RancherAPIError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except RancherSyncError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


# --- output -----------------------------------------------------------------------------------------------------


def emit(args: argparse.Namespace, payload: Any, rows: list[list[Any]] | None = None, headers: list[str] | None = None,
         text: str | None = None) -> None:
    """Print JSON with --json, else a table or a sentence."""
    if args.json:
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    elif rows is not None and headers is not None:
        print(format_table(headers, rows))
    elif text is not None:
        print(text)


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) if cells else lines[0] + "\n(none)"


def warn(message: str) -> None:
    """A warning on standard error, so --json output stays parseable."""
    print(f"warning: {message}", file=sys.stderr)


def read_token(args: argparse.Namespace, required: bool) -> str | None:
    """The token from --token-env VAR or standard input, never from an argument (shell history)."""
    if getattr(args, "token_env", None):
        value = os.environ.get(args.token_env)
        if not value:
            raise UsageError(f"environment variable {args.token_env} is empty or not set")
        return value
    if getattr(args, "token_stdin", False):
        return sys.stdin.readline().strip()
    if required:
        raise UsageError("give the token with --token-env VAR or --token-stdin")
    return None


def read_ca(args: argparse.Namespace) -> str | None:
    """The CA bundle file's text, if --ca-file was given."""
    if not getattr(args, "ca_file", None):
        return None
    try:
        return Path(args.ca_file).read_text()
    except OSError as error:
        raise UsageError(f"cannot read the CA file {args.ca_file}: {error.strerror}") from None


# --- sites ------------------------------------------------------------------------------------------------------


def cmd_sites_add(ctx: AppContext, args: argparse.Namespace) -> int:
    token = read_token(args, required=True)
    assert token is not None
    connection = sites.make_connection(
        args.url, token, ca_bundle=read_ca(args), insecure=args.insecure, allow_http=args.allow_http
    )
    info = None
    if not args.no_test:
        info = sites.check_connection(connection)  # nothing is stored when this fails
    with ctx.session() as session:
        site = sites.add_site(session, ctx.cipher, name=args.name, connection=connection,
                              allow_http=args.allow_http, info=info)
        payload = site_payload(site)
    who = f", signed in as {info.user_name}" if info else " (connection not tested)"
    emit(args, payload, text=f"Added site '{payload['name']}' (id {payload['id']}){who}.")
    return EXIT_OK


def cmd_sites_list(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        payload = [site_payload(s) for s in sites.list_sites(session)]
    rows = [[p["id"], p["name"], p["url"], "yes" if p["active"] else "no", p["rancherUser"], p["tokenExpiresAt"],
             p["lastContactAt"]] for p in payload]
    emit(args, payload, rows, ["ID", "NAME", "URL", "ACTIVE", "USER", "TOKEN EXPIRES", "LAST CONTACT"])
    return EXIT_OK


def cmd_sites_test(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        result = sites.test_site(session, ctx.cipher, args.site)
    payload: dict[str, Any] = {"success": result.success, "message": result.message}
    if result.info is not None:
        payload |= {"user": result.info.user_name, "tokenExpiresAt": iso(result.info.token_expires_at),
                    "latencyMs": round(result.info.latency_ms)}
    emit(args, payload, text=result.message)
    return EXIT_OK if result.success else EXIT_FAILED


def cmd_sites_update(ctx: AppContext, args: argparse.Namespace) -> int:
    token = read_token(args, required=False)
    with ctx.session() as session:
        site = sites.update_site(
            session, ctx.cipher, args.site, name=args.name, url=args.url, token=token, ca_bundle=read_ca(args),
            clear_ca_bundle=args.no_ca_file, insecure=args.insecure, allow_http=args.allow_http, active=args.active,
        )
        payload = site_payload(site)
    emit(args, payload, text=f"Updated site '{payload['name']}'.")
    return EXIT_OK


def cmd_sites_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        removed = sites.remove_site(session, args.site, cascade=args.cascade)
    extra = f" and its app instances {', '.join(removed)}" if removed else ""
    emit(args, {"removed": args.site, "removedAppInstances": removed}, text=f"Removed site '{args.site}'{extra}.")
    return EXIT_OK


def cmd_clusters(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        payload = [cluster_payload(c) for c in sites.list_clusters(session, ctx.cipher, args.site)]
    emit(args, payload, [[c["id"], c["name"], c["state"]] for c in payload], ["ID", "NAME", "STATE"])
    return EXIT_OK


def cmd_namespaces(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        payload = [namespace_payload(n) for n in sites.list_namespaces(session, ctx.cipher, args.site, args.cluster)]
    emit(args, payload, [[n["name"], n["phase"], n["projectId"]] for n in payload], ["NAME", "PHASE", "PROJECT"])
    return EXIT_OK


# --- environments -----------------------------------------------------------------------------------------------


def cmd_envs_add(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        env = environments.add_environment(session, name=args.name, description=args.description or "",
                                           color=args.color, position=args.position, protected=args.protected)
        payload = environment_payload(env)
    emit(args, payload, text=f"Added environment '{payload['name']}' at position {payload['position']}.")
    return EXIT_OK


def cmd_envs_list(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        payload = [environment_payload(e) for e in environments.list_environments(session)]
    rows = [[p["position"], p["id"], p["name"], p["color"], "yes" if p["protected"] else "no", p["description"]]
            for p in payload]
    emit(args, payload, rows, ["POS", "ID", "NAME", "COLOR", "PROTECTED", "DESCRIPTION"])
    return EXIT_OK


def cmd_envs_update(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        env = environments.update_environment(session, args.env, name=args.name, description=args.description,
                                              color=args.color, protected=args.protected, position=args.position)
        payload = environment_payload(env)
    emit(args, payload, text=f"Updated environment '{payload['name']}'.")
    return EXIT_OK


def cmd_envs_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        removed = environments.remove_environment(session, args.env, cascade=args.cascade)
    extra = f" and its app instances {', '.join(removed)}" if removed else ""
    emit(args, {"removed": args.env, "removedAppInstances": removed},
         text=f"Removed environment '{args.env}'{extra}.")
    return EXIT_OK


# --- app instances ----------------------------------------------------------------------------------------------


def cmd_instances_add(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        site = sites.get_site(session, args.site)
        placement = instances.check_placement(site, ctx.cipher, args.cluster, args.namespace)
        for message in placement.warnings:
            warn(message)
        instance = instances.add_instance(session, name=args.name, site=site.id, environment=args.env,
                                          placement=placement)
        payload = instance_payload(instance) | {"warnings": list(placement.warnings)}
    emit(args, payload, text=f"Added app instance '{payload['name']}' ({payload['clusterName']}/"
                             f"{payload['namespace']}).")
    return EXIT_OK


def cmd_instances_list(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        found = instances.list_instances(session, args.env)
        payload = [instance_payload(i) for i in found]
        rows = [[i.id, i.name, i.environment.name, i.site.name, i.cluster_name or i.cluster_id, i.namespace]
                for i in found]
    emit(args, payload, rows, ["ID", "NAME", "ENVIRONMENT", "SITE", "CLUSTER", "NAMESPACE"])
    return EXIT_OK


def cmd_instances_update(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        instance = instances.update_instance(session, args.instance, name=args.name, environment=args.env)
        payload = instance_payload(instance)
    emit(args, payload, text=f"Updated app instance '{payload['name']}'.")
    return EXIT_OK


def cmd_instances_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        name = instances.remove_instance(session, args.instance)
    emit(args, {"removed": name}, text=f"Removed app instance '{name}' (nothing changed on the cluster).")
    return EXIT_OK


# --- services ---------------------------------------------------------------------------------------------------


def cmd_services_list(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        found = inventory.list_services(session, ctx.cipher, args.env)
    for failure in found.failures:
        warn(f"app instance '{failure.instance.name}': {failure.message}")
    payload = [service_payload(s) for s in found.services]
    rows = [[s.instance.name, s.kind, s.name, s.image_tag, f"{s.workload.available_replicas}/{s.workload.replicas}",
             s.status, iso(s.last_synced)] for s in found.services]
    emit(args, payload, rows, ["APP INSTANCE", "KIND", "NAME", "TAG", "READY", "STATUS", "LAST SYNC"])
    return EXIT_FAILED if found.failures else EXIT_OK  # a pipeline must notice an unreadable app instance


def cmd_services_compare(ctx: AppContext, args: argparse.Namespace) -> int:
    if len(args.env) < 2:
        raise UsageError("compare needs at least two environments: --env A --env B")
    with ctx.session() as session:
        comparison = compare.compare_environments(session, ctx.cipher, args.env,
                                                    compare_by="tag" if args.tag_only else "image")
    if args.only_differences:
        comparison = comparison.only_differences()
    names = [e.name for e in comparison.environments]
    rows = []
    for row in comparison.rows:
        cells = ["(missing)" if c.missing else ("?" if not c.services else c.image_tag + (" !" if c.inconsistent
                 else "")) for c in row.cells]
        rows.append([row.kind, row.name, *cells, "yes" if row.differs else ""])
    emit(args, comparison_payload(comparison), rows, ["KIND", "NAME", *[n.upper() for n in names], "DIFFERS"])
    return EXIT_OK


# --- sync -------------------------------------------------------------------------------------------------------


def cmd_sync(ctx: AppContext, args: argparse.Namespace) -> int:
    if not args.service and not args.all_different:
        raise UsageError("name the services with --service NAME (repeatable) or pass --all-different")
    default_target = _target_choice(ctx, args.target_instance, args.to_env)
    with ctx.session() as session:
        plan = sync.plan_environments(session, ctx.cipher, args.from_env, args.to_env,
                                      services=None if args.all_different else args.service,
                                      mode="tag" if args.tag_only else "full", default_target=default_target)
        protected = environments.get_environment(session, plan.target.id).protected
    for warning in plan.warnings:
        warn(warning)
    if args.dry_run:
        emit(args, plan_payload(plan), text=plan.to_markdown())
        return EXIT_OK
    if not args.json:
        print(plan.to_markdown())
    if not plan.to_apply:
        raise UsageError("nothing to change: every selected service is skipped (see the plan)")
    go, confirm_env = _confirmation(args, plan.target.name, protected, f"apply {len(plan.to_apply)} change(s)")
    if not go:
        return EXIT_OK
    options = sync.SyncOptions(verify=not args.no_wait, timeout_seconds=args.timeout,
                               auto_rollback=not args.no_rollback)
    operation_id = sync.apply_plan(ctx, plan, initiated_by=ctx.settings.user, request_id=sync.new_request_id(),
                                   confirm_env=confirm_env, options=options, progress=_print_progress)
    return _report_operation(ctx, args, operation_id)


def _confirmation(args: argparse.Namespace, target: str, protected: bool, action: str) -> tuple[bool, str | None]:
    """Ask before changing a cluster: whether to go ahead, and the name typed for a protected target."""
    if protected:
        if args.confirm_env is not None:
            return True, args.confirm_env
        if args.yes or not sys.stdin.isatty():  # --yes alone is not enough for a protected environment
            raise UsageError(f"{target} is protected: add --confirm-env {target}")
        return True, input(f"{target} is protected. Type its name to {action}: ").strip()
    if args.yes:
        return True, args.confirm_env
    if not sys.stdin.isatty():
        raise UsageError(f"add --yes to {action} without a prompt (sync --dry-run shows the plan only)")
    go = input(f"{action[0].upper()}{action[1:]} in {target}? [y/N] ").strip().lower() == "y"
    if not go:
        print("Nothing changed.", file=sys.stderr)
    return go, args.confirm_env


def _target_choice(ctx: AppContext, ref: str | None, environment: str) -> sync.TargetChoice | None:
    if ref is None or ref == "all":
        return ref  # type: ignore[return-value]
    with ctx.session() as session:
        instance = instances.get_instance(session, ref)
        if instance.environment.name != environment and str(instance.environment_id) != environment:
            raise UsageError(f"app instance '{instance.name}' is not in {environment}")
        return instance.id


def _print_progress(event: sync.ProgressEvent) -> None:
    if (line := sync.progress_line(event)) is not None:
        print(f"  {line}", file=sys.stderr)


def _report_operation(ctx: AppContext, args: argparse.Namespace, operation_id: int) -> int:
    with ctx.session() as session:
        operation = sync.get_operation(session, operation_id)
        payload = operation_payload(operation, with_results=True)
        rows = [[r.service, r.workload_kind, r.namespace, r.previous_image, r.new_image, r.status, r.error or ""]
                for r in operation.results]
        status = operation.status
    if args.json:
        emit(args, payload)
    else:
        print(format_table(["SERVICE", "KIND", "NAMESPACE", "PREVIOUS", "NEW", "STATUS", "NOTE"], rows))
        print(f"Operation #{operation_id}: {status}.")
    return EXIT_FAILED if status in ("failed", "rolled_back", "partial", "interrupted") else EXIT_OK


def cmd_rollback(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        original = sync.get_operation(session, args.operation)
        target = original.target_environment_name
        protected = (original.target_environment_id is not None
                     and environments.get_environment(session, original.target_environment_id).protected)
        changes = [r for r in original.results if r.status != "skipped" and r.containers]
        for r in changes:
            print(f"  {r.service} @ {r.namespace}: {r.new_image} -> {r.previous_image}", file=sys.stderr)
    go, confirm_env = _confirmation(args, target, protected, f"roll back operation #{args.operation}")
    if not go:
        return EXIT_OK
    operation_id = sync.rollback_operation(ctx, args.operation, initiated_by=ctx.settings.user,
                                           request_id=sync.new_request_id(), confirm_env=confirm_env,
                                           options=sync.SyncOptions(timeout_seconds=args.timeout),
                                           progress=_print_progress)
    return _report_operation(ctx, args, operation_id)


def cmd_resume(ctx: AppContext, args: argparse.Namespace) -> int:
    operation_id = sync.resume_operation(ctx, args.operation, confirm_env=args.confirm_env,
                                         options=sync.SyncOptions(timeout_seconds=args.timeout),
                                         progress=_print_progress)
    return _report_operation(ctx, args, operation_id)


# --- history ----------------------------------------------------------------------------------------------------


def _history_filter(ctx: AppContext, args: argparse.Namespace) -> history.HistoryFilter:
    since, until = history.date_range(args.since, args.until)
    env_id = None
    if args.env:
        with ctx.session() as session:
            env_id = environments.get_environment(session, args.env).id
    return history.HistoryFilter(environment_id=env_id, status=getattr(args, "status", None),
                                 service=getattr(args, "service", None), initiated_by=getattr(args, "by", None),
                                 since=since, until=until)


def cmd_history(ctx: AppContext, args: argparse.Namespace) -> int:
    filters = _history_filter(ctx, args)
    with ctx.session() as session:
        page = history.list_operations(session, filters, page=args.page, page_size=args.limit)
    payload = [operation_payload(op) for op in page.items]
    rows = [[op.id, op.kind, f"{op.source_environment} -> {op.target_environment}", op.status, op.initiated_by,
             iso(op.started_at), f"{op.duration_seconds:.0f} s" if op.duration_seconds is not None else "",
             ", ".join(op.services)] for op in page.items]
    emit(args, payload, rows, ["ID", "KIND", "FROM -> TO", "STATUS", "BY", "STARTED", "TOOK", "SERVICES"])
    if not args.json and page.pages > 1:
        print(f"page {page.page} of {page.pages} ({page.total} operations); --page N for more", file=sys.stderr)
    return EXIT_OK


def cmd_metrics(ctx: AppContext, args: argparse.Namespace) -> int:
    filters = _history_filter(ctx, args)
    with ctx.session() as session:
        metrics = history.compute_metrics(session, filters,
                                          failure_window=dt.timedelta(hours=args.failure_window_hours))
    payload = history.metrics_payload(metrics)
    if args.json:
        emit(args, payload)
        return EXIT_OK
    cfr = metrics.change_failure_rate
    lines = [
        f"Period: {metrics.since or '-'} .. {metrics.until or '-'}, {metrics.operations} operation(s)",
        f"Change failure rate: {_percent(cfr.rate)} ({cfr.failed} of {cfr.syncs} syncs failed or were rolled back "
        f"within {args.failure_window_hours:g} h)",
        f"Time to restore: median {_duration(metrics.restore.median_seconds)}, {metrics.restore.incidents} "
        f"incident(s), {metrics.restore.open} still open",
    ]
    lines += [f"Deployments into {d.environment}: {d.total} ({d.average_per_week or 0:.1f} per week)"
              for d in metrics.deployments]
    lines += [f"Lead time {p.from_environment} -> {p.to_environment}: median {_duration(p.median_seconds)} over "
              f"{p.versions} version(s)" for p in metrics.lead_times.pairs]
    print("\n".join(lines))
    return EXIT_OK


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- maintenance ------------------------------------------------------------------------------------------------


def cmd_keys_rotate(ctx: AppContext, args: argparse.Namespace) -> int:
    with ctx.session() as session:
        count = sites.rotate_keys(session, ctx.cipher)
    emit(args, {"rotated": count}, text=f"Re-encrypted {count} token(s) under the newest key.")
    return EXIT_OK


def cmd_demo(ctx: AppContext, args: argparse.Namespace) -> int:
    if args.stop:
        count = demo.stop_demo(ctx)
        emit(args, {"stopped": count}, text=f"Stopped {count} simulated Rancher server(s).")
        return EXIT_OK
    summary = demo.start_demo(ctx, progress=lambda message: print(message, file=sys.stderr))
    emit(args, {"sites": summary.sites, "environments": summary.environments, "appInstances": summary.instances},
         text=f"Demo ready: {summary.sites} sites, {summary.environments} environments, "
              f"{summary.instances} app instances. Start the dashboard with `make run`.")
    return EXIT_OK


def cmd_db_upgrade(ctx: AppContext, args: argparse.Namespace) -> int:
    ctx.upgrade_database()
    emit(args, {"upgraded": True}, text="Database is up to date.")
    return EXIT_OK


# --- parser -----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (DESIGN.md, "Command line")."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the plan's JSON payloads")
    parser = argparse.ArgumentParser(prog="python -m ranchersync", description=__doc__)
    groups = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(sub: Any, name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help_text)
        p.set_defaults(handler=handler)
        return p

    def token_options(p: argparse.ArgumentParser) -> None:
        source = p.add_mutually_exclusive_group()
        source.add_argument("--token-env", metavar="VAR", help="read the API token from this environment variable")
        source.add_argument("--token-stdin", action="store_true", help="read the API token from standard input")

    def tls_options(p: argparse.ArgumentParser, updating: bool) -> None:
        tls = p.add_mutually_exclusive_group()
        tls.add_argument("--ca-file", metavar="PEM", help="CA bundle that signed Rancher's certificate")
        if updating:
            tls.add_argument("--no-ca-file", action="store_true", help="forget the stored CA bundle")
            tls.add_argument("--insecure", action=argparse.BooleanOptionalAction, default=None,
                             help="skip TLS verification (lab servers only)")
            p.add_argument("--allow-http", action=argparse.BooleanOptionalAction, default=None)
        else:
            tls.add_argument("--insecure", action="store_true", help="skip TLS verification (lab servers only)")
            p.add_argument("--allow-http", action="store_true", help="allow plain http to a non-loopback host")

    site_cmds = groups.add_parser("sites", help="Rancher servers").add_subparsers(metavar="ACTION")
    p = command(site_cmds, "add", cmd_sites_add, "register a Rancher server (tests the connection first)")
    p.add_argument("--name", required=True)
    p.add_argument("--url", required=True)
    token_options(p)
    tls_options(p, updating=False)
    p.add_argument("--no-test", action="store_true", help="store without testing the connection")
    command(site_cmds, "list", cmd_sites_list, "list sites")
    p = command(site_cmds, "test", cmd_sites_test, "test a site's connection")
    p.add_argument("site")
    p = command(site_cmds, "update", cmd_sites_update, "change a site")
    p.add_argument("site")
    p.add_argument("--name")
    p.add_argument("--url")
    token_options(p)
    tls_options(p, updating=True)
    p.add_argument("--active", action=argparse.BooleanOptionalAction, default=None)
    p = command(site_cmds, "remove", cmd_sites_remove, "remove a site")
    p.add_argument("site")
    p.add_argument("--cascade", action="store_true", help="also remove the app instances that use it")

    p = command(groups, "clusters", cmd_clusters, "list a site's clusters")
    p.add_argument("--site", required=True)
    p = command(groups, "namespaces", cmd_namespaces, "list a cluster's namespaces")
    p.add_argument("--site", required=True)
    p.add_argument("--cluster", required=True)

    env_cmds = groups.add_parser("envs", help="environments").add_subparsers(metavar="ACTION")
    for name, handler in (("add", cmd_envs_add), ("update", cmd_envs_update)):
        p = command(env_cmds, name, handler, f"{name} an environment")
        if name == "add":
            p.add_argument("--name", required=True)
        else:
            p.add_argument("env")
            p.add_argument("--name")
        p.add_argument("--description")
        p.add_argument("--color", metavar="#RRGGBB")
        p.add_argument("--position", type=int, metavar="K", help="0 is the first stage of the pipeline")
        p.add_argument("--protected", action=argparse.BooleanOptionalAction, default=None if name == "update"
                       else False)
    command(env_cmds, "list", cmd_envs_list, "list environments in pipeline order")
    p = command(env_cmds, "remove", cmd_envs_remove, "remove an environment")
    p.add_argument("env")
    p.add_argument("--cascade", action="store_true", help="also remove its app instances")

    inst_cmds = groups.add_parser("instances", help="app instances").add_subparsers(metavar="ACTION")
    p = command(inst_cmds, "add", cmd_instances_add, "map a namespace to an environment")
    for option in ("--name", "--site", "--cluster", "--namespace", "--env"):
        p.add_argument(option, required=True)
    p = command(inst_cmds, "list", cmd_instances_list, "list app instances")
    p.add_argument("--env")
    p = command(inst_cmds, "update", cmd_instances_update, "rename or move an app instance")
    p.add_argument("instance")
    p.add_argument("--name")
    p.add_argument("--env", help="move it to this environment")
    p = command(inst_cmds, "remove", cmd_instances_remove, "remove an app instance")
    p.add_argument("instance")

    svc_cmds = groups.add_parser("services", help="workloads of environments").add_subparsers(metavar="ACTION")
    p = command(svc_cmds, "list", cmd_services_list, "list the services of an environment")
    p.add_argument("--env", required=True)
    p = command(svc_cmds, "compare", cmd_services_compare, "compare services across environments")
    p.add_argument("--env", action="append", required=True, help="repeat: --env Stage --env Prod")
    p.add_argument("--only-differences", action="store_true")
    p.add_argument("--tag-only", action="store_true", help="compare tags, ignoring registries and repositories")

    p = command(groups, "sync", cmd_sync, "promote services from one environment to another")
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
    p.add_argument("--no-rollback", action="store_true", help="keep what changed when a service fails")
    p.add_argument("--timeout", type=float, default=300, metavar="S", help="per rollout (default 300)")
    for name, handler, text in (("rollback", cmd_rollback, "put back the previous images of an operation"),
                                ("resume", cmd_resume, "finish an interrupted operation")):
        p = command(groups, name, handler, text)
        p.add_argument("operation", type=int)
        p.add_argument("--yes", action="store_true")
        p.add_argument("--confirm-env", metavar="NAME")
        p.add_argument("--timeout", type=float, default=300, metavar="S")

    def period(p: argparse.ArgumentParser) -> None:
        p.add_argument("--env", help="as source or target")
        p.add_argument("--since", type=dt.date.fromisoformat, metavar="YYYY-MM-DD")
        p.add_argument("--until", type=dt.date.fromisoformat, metavar="YYYY-MM-DD", help="included")

    p = command(groups, "history", cmd_history, "past sync and rollback operations, newest first")
    period(p)
    p.add_argument("--status", choices=OPERATION_STATUSES)
    p.add_argument("--service", metavar="NAME")
    p.add_argument("--by", metavar="USER", help="who initiated it")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--limit", type=int, default=50, help="operations per page")
    p = command(groups, "metrics", cmd_metrics, "delivery metrics: frequency, failure rate, restore and lead times")
    period(p)
    p.add_argument("--failure-window-hours", type=float, default=24,
                   help="a sync rolled back within this many hours counts as failed (default 24)")

    p = command(groups, "demo", cmd_demo, "start two simulated Rancher servers and fill the catalogue")
    p.add_argument("--stop", action="store_true", help="stop the demo servers")

    key_cmds = groups.add_parser("keys", help="encryption keys").add_subparsers(metavar="ACTION")
    command(key_cmds, "rotate", cmd_keys_rotate, "re-encrypt every token under the newest key")
    db_cmds = groups.add_parser("db", help="database").add_subparsers(metavar="ACTION")
    command(db_cmds, "upgrade", cmd_db_upgrade, "apply database migrations")
    groups.add_parser("simulate", help="serve a simulated Rancher (see `simulate --help`)", add_help=False)
    return parser
