"""`registries …` and `images inspect`: the registries plans ask, and what an image is in its registry."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, UsageError, add_command, add_group, cli_actor, read_ca
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, emit, format_table

if TYPE_CHECKING:
    from ranchersync.context import AppContext


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


def cmd_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry

    password = _password(args)
    if args.username and not password:
        raise UsageError("give the password with --password-env VAR or --password-stdin")
    if password and not args.username:
        raise UsageError("a password goes with --username")
    with ctx.session() as session:
        row = registry.add_registry(session, ctx.cipher, actor=cli_actor(ctx), host=args.host,
                                    username=args.username, password=password, ca_bundle=read_ca(args),
                                    allow_http=args.allow_http)
        payload = registry.registry_payload(row)
    registry.CACHE.clear()  # new credentials may see what the old ones did not
    emit(args, payload, text=f"Registry {payload['host']} registered "
                             f"({'with credentials' if payload['hasPassword'] else 'anonymous'}).")
    return EXIT_OK


def cmd_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry

    with ctx.session() as session:
        rows = [registry.registry_payload(r) for r in registry.list_registries(session)]
    text = format_table(["HOST", "USER", "HTTP", "LAST CONTACT", "LAST ERROR"],
                        [[r["host"], r["username"] or "(anonymous)", "yes" if r["allowHttp"] else "",
                          r["lastContactAt"] or "", r["lastError"] or ""] for r in rows])
    emit(args, rows, text=text if rows else "No registry is registered: plans check no image.")
    return EXIT_OK


def cmd_test(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry

    with ctx.session() as session:
        result = registry.test_registry(session, ctx.cipher, args.host)
    emit(args, {"host": result.host, "ok": result.ok, "latencyMs": result.latency_ms, "message": result.message},
         text=f"{result.host}: {result.message} ({result.latency_ms} ms)")
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry

    with ctx.session() as session:
        registry.remove_registry(session, args.host, actor=cli_actor(ctx))
    registry.CACHE.clear()
    emit(args, {"removed": args.host}, text=f"Registry {args.host} removed.")
    return EXIT_OK


def cmd_inspect(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import registry
    from ranchersync.kernel.errors import NotFoundError, ValidationError
    from ranchersync.kernel.images import parse_image

    try:
        platform = registry.Platform.parse(args.platform)
    except ValueError as error:
        raise UsageError(str(error)) from None
    host = parse_image(args.image).registry
    with ctx.session() as session:
        access = registry.accesses(session, ctx.cipher).get(host)
    if access is None:
        raise NotFoundError(f"the registry {host} is not registered: `registries add --host {host}` first")
    http = access.http()
    try:
        found = registry.resolve(http, args.image, (platform,))
    finally:
        http.close()
    if not found.runs_on(platform):
        raise ValidationError(f"{args.image} has no {platform} image (it has {', '.join(found.platforms)})")
    log = registry.changelog(None, found.labels)
    payload = {**found.payload(), "changelog": log.payload()}
    lines = [f"Image:     {found.image}", f"Name:      {found.name}", f"Digest:    {found.digest}",
             f"Type:      {found.media_type}", f"Platforms: {', '.join(found.platforms) or '(unknown)'}"]
    if found.platform_digest:
        lines.append(f"{platform}: {found.platform_digest}")
    if found.created:
        lines.append(f"Created:   {found.created}")
    lines += ["Labels:"] + ([f"  {k}={v}" for k, v in sorted(found.labels.items())] or ["  (no labels)"])
    emit(args, payload, text="\n".join(lines))
    return EXIT_OK
