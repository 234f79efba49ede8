"""The remote CLI's commands for registries, images and quarantine (issue 22): each prints the API's payloads through
the local command's own row and text functions, so output and exit status are the local ones (see remote.py).

A password (from --password-env or standard input) and a CA file are read here, on the runner, and sent in the
request's body: the password only ever travels to the configured server, which stores it encrypted."""

from __future__ import annotations

import argparse
from typing import Any

from ranchersync.cli import quarantine, registries
from ranchersync.cli.common import read_ca
from ranchersync.cli.output import EXIT_OK, emit
from ranchersync.cli.remote import Api, Remote, segment


def registries_add(api: Api, args: argparse.Namespace) -> int:
    username, password = registries.credentials(args)
    body: dict[str, Any] = {"host": args.host}
    if username and password:
        body.update(username=username, password=password)
    ca = read_ca(args)
    if ca is not None:
        body["caCertificate"] = ca
    if args.allow_http:
        body["allowHttp"] = True
    _, payload = api.post("/registries", body)
    emit(args, payload, text=registries.added_text(payload))
    return EXIT_OK


def registries_list(api: Api, args: argparse.Namespace) -> int:
    payload = api.get("/registries")
    emit(args, payload, text=registries.registries_text(payload))
    return EXIT_OK


def _host(args: argparse.Namespace) -> str:
    """The host checked here first: one that is not a host (a URL) is bad input, as locally, not an unknown path."""
    from ranchersync.registry import normalize_host

    return segment(normalize_host(args.host))


def registries_test(api: Api, args: argparse.Namespace) -> int:
    _, payload = api.post(f"/registries/{_host(args)}/test", {})
    return registries.report_test(args, payload)


def registries_remove(api: Api, args: argparse.Namespace) -> int:
    _, payload = api.call("DELETE", f"/registries/{_host(args)}")
    emit(args, payload, text=registries.removed_text(payload["removed"]))
    return EXIT_OK


def images_inspect(api: Api, args: argparse.Namespace) -> int:
    platform = registries.platform_of(args)  # bad input stops here, as locally, before any call
    payload = api.get("/images/inspect", {"image": args.image, "platform": str(platform)})
    emit(args, payload, text=registries.inspection_text(payload, platform))
    return EXIT_OK


def quarantine_add(api: Api, args: argparse.Namespace) -> int:
    _, payload = api.post("/quarantine", {"image": args.image, "reason": args.reason})
    emit(args, payload, text=quarantine.added_text(payload))
    return EXIT_OK


def quarantine_list(api: Api, args: argparse.Namespace) -> int:
    payload = api.get("/quarantine", {"lifted": "true" if args.lifted else "false",
                                      "running": "false" if args.no_running else "true"})
    emit(args, payload, text=quarantine.quarantines_text(payload))
    return EXIT_OK


def quarantine_lift(api: Api, args: argparse.Namespace) -> int:
    _, payload = api.post(f"/quarantine/{args.id}/lift", {"reason": args.reason})
    emit(args, payload, text=quarantine.lifted_text(payload))
    return EXIT_OK


# The local handlers ("module.name" of ranchersync.cli, e.g. "locks.cmd_add") and their remote twins.
REMOTE: dict[str, Remote] = {
    "registries.cmd_add": registries_add,
    "registries.cmd_list": registries_list,
    "registries.cmd_test": registries_test,
    "registries.cmd_remove": registries_remove,
    "registries.cmd_inspect": images_inspect,
    "quarantine.cmd_add": quarantine_add,
    "quarantine.cmd_list": quarantine_list,
    "quarantine.cmd_lift": quarantine_lift,
}
