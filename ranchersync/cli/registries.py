"""`registries …` and `images inspect`: the registries plans ask, and what an image is in its registry."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, UsageError, add_command, add_group, cli_actor, read_ca
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, emit, format_table

if TYPE_CHECKING:
    from ranchersync.context import AppContext
    from ranchersync.registry import ImagePayload, Platform, RegistryPayload, RegistryTestPayload


def register(commands: Commands) -> None:
    """Add the `registries` and `images` groups."""
    group = add_group(commands, "registries", "container registries the plans resolve images in")
    p = add_command(group, "add", cmd_add, "register a registry (anonymous, or with credentials stored encrypted)")
    p.add_argument("--host", required=True, help="as images name it: ghcr.io, docker.io, registry.example.com:5000")
    p.add_argument("--username", metavar="U")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--password-env", metavar="VAR", help="read the password (or token) from this variable")
    secret.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--ca-file", metavar="PEM", help="CA bundle that signed the registry's certificate")
    p.add_argument("--allow-http", action="store_true", help="plain HTTP (a registry inside the cluster network)")
    add_command(group, "list", cmd_list, "list the registered registries (never a password)")
    p = add_command(group, "test", cmd_test, "ask a registry's API with the stored credentials")
    p.add_argument("host")
    p = add_command(group, "remove", cmd_remove, "forget a registry and its credentials")
    p.add_argument("host")
    images = add_group(commands, "images", "images as their registry knows them")
    p = add_command(images, "inspect", cmd_inspect, "an image's digest, platforms and OCI labels")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--platform", default="linux/amd64", help="the platform to read labels for (default linux/amd64)")


def _password(args: argparse.Namespace) -> str | None:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise UsageError(f"environment variable {args.password_env} is empty or not set")
        return value
    if args.password_stdin:
        if sys.stdin.isatty():
            import getpass

            return getpass.getpass("Registry password (not shown): ").strip()
        return sys.stdin.readline().strip()
    return None


def credentials(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The user name and password to store (both, or neither): the password from a variable or standard input."""
    password = _password(args)
    if args.username and not password:
        raise UsageError("give the password with --password-env VAR or --password-stdin")
    if password and not args.username:
        raise UsageError("a password goes with --username")
    return args.username, password


def added_text(payload: RegistryPayload) -> str:
    return f"Registry {payload['host']} registered ({'with credentials' if payload['hasPassword'] else 'anonymous'})."


def registries_text(rows: Sequence[RegistryPayload]) -> str:
    if not rows:
        return "No registry is registered: plans check no image."
    return format_table(["HOST", "USER", "HTTP", "LAST CONTACT", "LAST ERROR"],
                        [[r["host"], r["username"] or "(anonymous)", "yes" if r["allowHttp"] else "",
                          r["lastContactAt"] or "", r["lastError"] or ""] for r in rows])


def report_test(args: argparse.Namespace, payload: RegistryTestPayload) -> int:
    """Print a registry test's outcome; exit 1 when the registry failed it."""
    emit(args, payload, text=f"{payload['host']}: {payload['message']} ({payload['latencyMs']} ms)")
    return EXIT_OK if payload["ok"] else EXIT_FAILED


def removed_text(host: str) -> str:
    return f"Registry {host} removed."


def platform_of(args: argparse.Namespace) -> Platform:
    """The --platform asked for (bad input before anything is asked of a registry)."""
    from ranchersync.registry import Platform

    try:
        return Platform.parse(args.platform)
    except ValueError as error:
        raise UsageError(str(error)) from None


def inspection_text(payload: ImagePayload, platform: Platform) -> str:
    lines = [f"Image:     {payload['image']}", f"Name:      {payload['name']}", f"Digest:    {payload['digest']}",
             f"Type:      {payload['mediaType']}", f"Platforms: {', '.join(payload['platforms']) or '(unknown)'}"]
    if payload["platformDigest"]:
        lines.append(f"{platform}: {payload['platformDigest']}")
    if payload["created"]:
        lines.append(f"Created:   {payload['created']}")
    labels = payload["labels"]
    lines += ["Labels:"] + ([f"  {k}={v}" for k, v in sorted(labels.items())] or ["  (no labels)"])
    return "\n".join(lines)


def cmd_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry

    username, password = credentials(args)
    with ctx.session() as session:
        row = registry.add_registry(session, ctx.cipher, actor=cli_actor(ctx), host=args.host,
                                    username=username, password=password, ca_bundle=read_ca(args),
                                    allow_http=args.allow_http)
        payload = registry.registry_payload(row)
    registry.CACHE.clear()  # new credentials may see what the old ones did not
    emit(args, payload, text=added_text(payload))
    return EXIT_OK


def cmd_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry

    with ctx.session() as session:
        rows = [registry.registry_payload(r) for r in registry.list_registries(session)]
    emit(args, rows, text=registries_text(rows))
    return EXIT_OK


def cmd_test(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry

    with ctx.session() as session:
        result = registry.test_registry(session, ctx.cipher, args.host)
    return report_test(args, result.payload())


def cmd_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry

    with ctx.session() as session:
        host = registry.remove_registry(session, args.host, actor=cli_actor(ctx))
    registry.CACHE.clear()
    emit(args, {"removed": host}, text=removed_text(host))
    return EXIT_OK


def cmd_inspect(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry

    platform = platform_of(args)
    with ctx.session() as session:
        known = registry.accesses(session, ctx.cipher)
    payload = registry.inspect_image(known, args.image, platform)
    emit(args, payload, text=inspection_text(payload, platform))
    return EXIT_OK
