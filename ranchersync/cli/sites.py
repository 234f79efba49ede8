"""`sites …`, `clusters` and `namespaces`: the Rancher servers and what their tokens can see."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor, read_ca, read_token, token_options
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, emit, emit_removed

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `sites` group and the `clusters` and `namespaces` commands."""
    group = add_group(commands, "sites", "Rancher servers: register, test, change, remove")
    p = add_command(group, "add", cmd_sites_add, "register a Rancher server (tests the connection first)")
    p.add_argument("--name", required=True)
    p.add_argument("--url", required=True, help="Rancher's own address, e.g. https://rancher.example.com")
    token_options(p)
    _tls_options(p, updating=False)
    p.add_argument("--no-test", action="store_true", help="store without testing the connection")
    add_command(group, "list", cmd_sites_list, "list sites")
    p = add_command(group, "test", cmd_sites_test, "test a site's connection")
    p.add_argument("site", help="name or id")
    p = add_command(group, "update", cmd_sites_update, "change a site")
    p.add_argument("site", help="name or id")
    p.add_argument("--name")
    p.add_argument("--url")
    token_options(p)
    _tls_options(p, updating=True)
    p.add_argument("--active", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--use-pull-secrets", action=argparse.BooleanOptionalAction, default=None,
                   help="a plan's registry preflight reads the target workloads' own imagePullSecrets (or, when "
                        "a workload names none, its ServiceAccount's) through Rancher (held in memory for that plan "
                        "only, never stored or logged)")
    p = add_command(group, "remove", cmd_sites_remove, "remove a site")
    p.add_argument("site", help="name or id")
    p.add_argument("--cascade", action="store_true", help="also remove the app instances that use it")

    p = add_command(commands, "clusters", cmd_clusters, "list a site's clusters")
    p.add_argument("--site", required=True)
    p = add_command(commands, "namespaces", cmd_namespaces, "list a cluster's namespaces")
    p.add_argument("--site", required=True)
    p.add_argument("--cluster", required=True, help="id or display name")


def _tls_options(p: argparse.ArgumentParser, updating: bool) -> None:
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


def cmd_sites_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import sites
    from ranchersync.catalogue.payloads import site_payload

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
                              allow_http=args.allow_http, info=info, actor=cli_actor(ctx))
        payload = site_payload(site)
    who = f", signed in as {info.user_name}" if info else " (connection not tested)"
    emit(args, payload, text=f"Added site '{payload['name']}' (id {payload['id']}){who}.")
    return EXIT_OK


def cmd_sites_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import sites
    from ranchersync.catalogue.payloads import site_payload

    with ctx.session() as session:
        payload = [site_payload(s) for s in sites.list_sites(session)]
    rows = [[p["id"], p["name"], p["url"], "yes" if p["active"] else "no", p["rancherUser"], p["tokenExpiresAt"],
             p["lastContactAt"]] for p in payload]
    emit(args, payload, rows, ["ID", "NAME", "URL", "ACTIVE", "USER", "TOKEN EXPIRES", "LAST CONTACT"])
    return EXIT_OK


def cmd_sites_test(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import sites
    from ranchersync.cli.output import note
    from ranchersync.kernel.timefmt import iso

    with ctx.session() as session:
        result = sites.test_site(session, ctx.cipher, args.site)
    payload: dict[str, Any] = {"success": result.success, "message": result.message}
    if result.info is not None:
        payload |= {"user": result.info.user_name, "tokenExpiresAt": iso(result.info.token_expires_at),
                    "latencyMs": round(result.info.latency_ms)}
    if result.error is not None:
        payload["hint"] = result.error.hint
    emit(args, payload, text=result.message)
    if result.error is not None and result.error.hint and not args.json:
        note(f"hint: {result.error.hint}")
    return EXIT_OK if result.success else EXIT_FAILED


def cmd_sites_update(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import sites
    from ranchersync.catalogue.payloads import site_payload

    token = read_token(args, required=False)
    with ctx.session() as session:
        change = sites.SiteChange(name=args.name, url=args.url, token=token, ca_bundle=read_ca(args),
                                  clear_ca_bundle=args.no_ca_file, insecure=args.insecure,
                                  allow_http=args.allow_http, active=args.active,
                                  use_pull_secrets=args.use_pull_secrets)
        site = sites.update_site(session, ctx.cipher, args.site, change, actor=cli_actor(ctx))
        payload = site_payload(site)
    emit(args, payload, text=f"Updated site '{payload['name']}'.")
    return EXIT_OK


def cmd_sites_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import sites
    with ctx.session() as session:
        removed = sites.remove_site(session, args.site, cascade=args.cascade, actor=cli_actor(ctx))
    emit_removed(args, "site", args.site, removed)
    return EXIT_OK


def cmd_clusters(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import sites
    from ranchersync.catalogue.payloads import cluster_payload

    with ctx.session() as session:
        payload = [cluster_payload(c) for c in sites.list_clusters(session, ctx.cipher, args.site)]
    emit(args, payload, [[c["id"], c["name"], c["state"]] for c in payload], ["ID", "NAME", "STATE"])
    return EXIT_OK


def cmd_namespaces(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import sites
    from ranchersync.catalogue.payloads import namespace_payload

    with ctx.session() as session:
        payload = [namespace_payload(n) for n in sites.list_namespaces(session, ctx.cipher, args.site, args.cluster)]
    emit(args, payload, [[n["name"], n["phase"], n["projectId"]] for n in payload], ["NAME", "PHASE", "PROJECT"])
    return EXIT_OK
