"""The remote CLI's commands for verification gates (issue 23): each prints the API's payloads through the local
command's own row and text functions, so output and exit status are the local ones (see remote.py)."""

from __future__ import annotations

import argparse
from typing import Any

from ranchersync.cli.output import EXIT_OK, emit
from ranchersync.cli.remote import Api, Remote


def gates_list(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.gates import gate_rows

    payloads = api.get("/gates", {"env": args.env} if args.env else None)
    emit(args, payloads, *gate_rows(payloads))
    return EXIT_OK


def _body(args: argparse.Namespace) -> dict[str, Any]:
    """The gate's fields given on the command line, as the API names them (the interval checked here first, as the
    local command does, so a wrong one reads the same)."""
    from ranchersync.verification import gates

    if args.interval is not None:
        gates.parse_duration(args.interval, "--interval")
    given = {"name": args.name, "query": args.query, "success": args.success, "interval": args.interval,
             "count": args.count, "failureLimit": args.failure_limit, "inconclusive": args.inconclusive,
             "service": args.service}
    body = {key: value for key, value in given.items() if value is not None}
    if args.prometheus:
        body["prometheusUrl"] = args.prometheus
    elif args.rancher_monitoring:
        body["rancherMonitoring"] = True
    return body


def gates_add(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.gates import added_text

    _, payload = api.post("/gates", {"environment": args.env, **_body(args)})
    emit(args, payload, text=added_text(payload))
    return EXIT_OK


def gates_update(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.gates import changed_text

    _, payload = api.call("PATCH", f"/gates/{args.gate}", body=_body(args))
    emit(args, payload, text=changed_text(payload))
    return EXIT_OK


def gates_remove(api: Api, args: argparse.Namespace) -> int:
    from ranchersync.cli.gates import removed_text

    _, payload = api.call("DELETE", f"/gates/{args.gate}")
    emit(args, payload, text=removed_text(payload))
    return EXIT_OK


def gates_for_service(api: Api, args: argparse.Namespace) -> int:
    """`gates disable|enable --env E --name N --service S`: the environment's gate N found by its name, then
    disabled or enabled by its id (the API's call); an unknown one fails with the local command's words."""
    from ranchersync.cli.gates import exemption_text
    from ranchersync.verification import gates

    disabled = args.handler.__name__ == "cmd_gates_disable"
    found = api.get("/gates", {"env": args.env})  # an unknown environment: the local 404
    gates.check_service(args.service)
    gate = next((g for g in found if g["name"] == args.name and not g["service"]), None)
    if gate is None:
        env_name = _environment_name(api, args.env)
        raise (gates.no_shared_gate(env_name, args.name) if disabled
               else gates.not_disabled(env_name, args.name, args.service.strip()))
    _, payload = api.post(f"/gates/{gate['id']}/{'disable' if disabled else 'enable'}", {"service": args.service})
    emit(args, payload, text=exemption_text(payload))
    return EXIT_OK


def _environment_name(api: Api, ref: str) -> str:
    """An environment's name from its id or name, as the database looks it up (an id first)."""
    found = api.get("/environments")
    by_id = next((e for e in found if ref.strip().isdecimal() and e["id"] == int(ref)), None)
    return str((by_id or next((e for e in found if e["name"] == ref.strip()), {"name": ref}))["name"])


# The local handlers ("module.name" of ranchersync.cli, e.g. "locks.cmd_add") and their remote twins.
REMOTE: dict[str, Remote] = {
    "gates.cmd_gates_list": gates_list,
    "gates.cmd_gates_add": gates_add,
    "gates.cmd_gates_update": gates_update,
    "gates.cmd_gates_remove": gates_remove,
    "gates.cmd_gates_disable": gates_for_service,
    "gates.cmd_gates_enable": gates_for_service,
}
