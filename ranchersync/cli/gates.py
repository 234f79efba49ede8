"""`gates …`: an environment's metric gates, checked after every rollout into it (a failure rolls the service back)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `gates` group."""
    group = add_group(commands, "gates", "metric gates: Prometheus queries a rollout must pass, else it is rolled back")
    p = add_command(group, "add", cmd_gates_add, "add a gate to an environment")
    p.add_argument("--env", required=True, help="name or id")
    p.add_argument("--name", required=True)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--prometheus", metavar="URL", help="the Prometheus server's base URL")
    where.add_argument("--rancher-monitoring", action="store_true",
                       help="the cluster's rancher-monitoring Prometheus, through the site's Rancher and token")
    p.add_argument("--query", required=True, metavar="Q",
                   help='PromQL; {namespace}, {service}, {environment}, {image} inside double-quoted label values')
    p.add_argument("--success", required=True, metavar="EXPR", help="a condition on result, e.g. 'result < 0.05'")
    p.add_argument("--interval", default="10s", metavar="D", help="time between measurements (default 10s)")
    p.add_argument("--count", type=int, default=3, metavar="N", help="measurements to take (default 3)")
    p.add_argument("--failure-limit", type=int, default=0, metavar="N",
                   help="failed measurements tolerated (default 0)")
    p.add_argument("--inconclusive", choices=("pass", "fail"), default="fail",
                   help="how a measurement that gave no number counts (default fail)")
    p.add_argument("--service", metavar="S", default="",
                   help="for this service only: overrides the environment's gate of the same name for it")
    p = add_command(group, "update", cmd_gates_update, "change a gate (what is not given stays)")
    p.add_argument("gate", type=int, metavar="ID", help="the gate's id (see `gates list`)")
    p.add_argument("--name")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--prometheus", metavar="URL", help="the Prometheus server's base URL")
    where.add_argument("--rancher-monitoring", action="store_true",
                       help="the cluster's rancher-monitoring Prometheus, through the site's Rancher and token")
    p.add_argument("--query", metavar="Q")
    p.add_argument("--success", metavar="EXPR")
    p.add_argument("--interval", metavar="D")
    p.add_argument("--count", type=int, metavar="N")
    p.add_argument("--failure-limit", type=int, metavar="N")
    p.add_argument("--inconclusive", choices=("pass", "fail"))
    p.add_argument("--service", metavar="S", help="for this service only ('' for every service)")
    for name, handler, text in (("disable", cmd_gates_disable, "do not run an environment's gate for one service"),
                                ("enable", cmd_gates_enable, "run an environment's gate for a service again")):
        p = add_command(group, name, handler, text)
        p.add_argument("--env", required=True, help="name or id")
        p.add_argument("--name", required=True, help="the environment's gate")
        p.add_argument("--service", required=True, metavar="S")
    p = add_command(group, "list", cmd_gates_list, "gates, per environment")
    p.add_argument("--env", help="one environment")
    p = add_command(group, "remove", cmd_gates_remove, "remove a gate")
    p.add_argument("gate", type=int, metavar="ID", help="the gate's id (see `gates list`)")


# ---- what every command prints (the remote CLI prints the API's payloads through these too) -------------------


def added_text(payload: Mapping[str, Any]) -> str:
    """`gates add`'s sentence."""
    env_name = payload["environment"]
    whose = f"{env_name} (service {payload['service']} only)" if payload["service"] else env_name
    return f"Added gate #{payload['id']} '{payload['name']}' to {whose}."


def gate_rows(payloads: Sequence[Mapping[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    """`gates list`'s table: its rows and headers."""
    rows = [[p["id"], p["environment"], p["service"] or "(every)", p["name"],
             p["prometheusUrl"] or "rancher-monitoring", p["success"], f"{p['count']} × {p['intervalSeconds']:g} s",
             p["failureLimit"], p["inconclusive"], ", ".join(p["disabledFor"]) or "-"] for p in payloads]
    return rows, ["ID", "ENVIRONMENT", "SERVICE", "NAME", "PROMETHEUS", "SUCCESS", "MEASURES", "FAILURES OK",
                  "INCONCLUSIVE", "DISABLED FOR"]


def removed_text(payload: Mapping[str, Any]) -> str:
    """`gates remove`'s sentence."""
    return f"Removed gate #{payload['id']} '{payload['name']}'."


def exemption_text(payload: Mapping[str, Any]) -> str:
    """`gates disable|enable`'s sentence."""
    if payload["disabled"]:
        return f"Gate '{payload['name']}' no longer runs for {payload['service']}."
    return f"Gate '{payload['name']}' runs for {payload['service']} again."


def changed_text(payload: Mapping[str, Any]) -> str:
    """`gates update`'s sentence."""
    return f"Changed gate #{payload['id']} '{payload['name']}'."


def update_changes(args: argparse.Namespace) -> dict[str, Any]:
    """What `gates update` was given, as GateSpec's fields (what is not given stays)."""
    from ranchersync.verification import gates

    given = {"name": args.name, "query": args.query, "success": args.success,
             "count": args.count, "failure_limit": args.failure_limit, "inconclusive": args.inconclusive,
             "service": args.service,
             "interval_seconds": gates.parse_duration(args.interval, "--interval") if args.interval else None}
    changes = {k: v for k, v in given.items() if v is not None}
    if args.prometheus or args.rancher_monitoring:
        changes["prometheus_url"] = args.prometheus or None
    return changes


# ---- the commands ---------------------------------------------------------------------------------------------------


def cmd_gates_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import environments
    from ranchersync.verification import gates

    spec = gates.GateSpec(name=args.name, query=args.query, success=args.success, prometheus_url=args.prometheus,
                          interval_seconds=gates.parse_duration(args.interval, "--interval"), count=args.count,
                          failure_limit=args.failure_limit, inconclusive=args.inconclusive, service=args.service)
    actor = cli_actor(ctx)
    with ctx.session() as session:
        gate = gates.add_gate(session, actor, args.env, spec)
        env_name = environments.get_environment(session, gate.environment_id).name
        payload = gates.gate_payload(gate, env_name)
    emit(args, payload, text=added_text(payload))
    return EXIT_OK


def cmd_gates_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.verification import gates

    with ctx.session() as session:
        payloads = gates.gate_payloads(session, args.env)
    emit(args, payloads, *gate_rows(payloads))
    return EXIT_OK


def cmd_gates_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.verification import gates

    with ctx.session() as session:
        gate = gates.remove_gate(session, cli_actor(ctx), args.gate)
        payload = gates.removed_payload(args.gate, gate.name)
    emit(args, payload, text=removed_text(payload))
    return EXIT_OK


def cmd_gates_disable(ctx: AppContext, args: argparse.Namespace) -> int:
    return _set_for_service(ctx, args, disabled=True)


def cmd_gates_enable(ctx: AppContext, args: argparse.Namespace) -> int:
    return _set_for_service(ctx, args, disabled=False)


def _set_for_service(ctx: AppContext, args: argparse.Namespace, *, disabled: bool) -> int:
    from ranchersync.catalogue import environments
    from ranchersync.verification import gates

    actor = cli_actor(ctx)
    with ctx.session() as session:
        if disabled:
            gates.disable_gate(session, actor, args.env, args.name, args.service)
        else:
            gates.enable_gate(session, actor, args.env, args.name, args.service)
        env_name = environments.get_environment(session, args.env).name
    payload = gates.exemption_payload(env_name, args.name, gates.check_service(args.service), disabled)
    emit(args, payload, text=exemption_text(payload))
    return EXIT_OK


def cmd_gates_update(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import environments
    from ranchersync.verification import gates

    actor = cli_actor(ctx)
    with ctx.session() as session:
        gate = gates.change_gate(session, actor, args.gate, update_changes(args))
        payload = gates.gate_payload(gate, environments.get_environment(session, gate.environment_id).name)
    emit(args, payload, text=changed_text(payload))
    return EXIT_OK
