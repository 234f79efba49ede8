"""`instances …`: app instances, the namespaces mapped to an environment."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit, warn

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `instances` group."""
    group = add_group(commands, "instances", "app instances: a namespace of a cluster, mapped to an environment")
    p = add_command(group, "add", cmd_instances_add, "map a namespace to an environment")
    for option in ("--name", "--site", "--cluster", "--namespace", "--env"):
        p.add_argument(option, required=True)
    p.add_argument("--created-later", action="store_true",
                   help="accept a namespace that does not exist yet (refused otherwise: a typo maps nothing)")
    p = add_command(group, "list", cmd_instances_list, "list app instances")
    p.add_argument("--env")
    p = add_command(group, "update", cmd_instances_update, "rename or move an app instance")
    p.add_argument("instance", help="name or id")
    p.add_argument("--name")
    p.add_argument("--env", help="move it to this environment")
    p = add_command(group, "remove", cmd_instances_remove, "remove an app instance (the cluster is not touched)")
    p.add_argument("instance", help="name or id")


def cmd_instances_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import instances, sites
    from ranchersync.catalogue.payloads import instance_payload

    with ctx.session() as session:
        site = sites.get_site(session, args.site)
        placement = instances.check_placement(site, ctx.cipher, args.cluster, args.namespace,
                                               created_later=args.created_later)
        for message in placement.warnings:
            warn(message)
        instance = instances.add_instance(session, name=args.name, site=site.id, environment=args.env,
                                          placement=placement, actor=cli_actor(ctx))
        payload = instance_payload(instance) | {"warnings": list(placement.warnings)}
    emit(args, payload, text=f"Added app instance '{payload['name']}' ({payload['clusterName']}/"
                             f"{payload['namespace']}).")
    return EXIT_OK


def cmd_instances_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import instances
    from ranchersync.catalogue.payloads import instance_payload

    with ctx.session() as session:
        found = instances.list_instances(session, args.env)
        payload = [instance_payload(i) for i in found]
        rows = [[i.id, i.name, i.environment.name, i.site.name, i.cluster_name or i.cluster_id, i.namespace]
                for i in found]
    emit(args, payload, rows, ["ID", "NAME", "ENVIRONMENT", "SITE", "CLUSTER", "NAMESPACE"])
    return EXIT_OK


def cmd_instances_update(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import instances
    from ranchersync.catalogue.payloads import instance_payload

    with ctx.session() as session:
        instance = instances.update_instance(session, args.instance, actor=cli_actor(ctx), name=args.name,
                                             environment=args.env)
        payload = instance_payload(instance)
    emit(args, payload, text=f"Updated app instance '{payload['name']}'.")
    return EXIT_OK


def cmd_instances_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import instances
    with ctx.session() as session:
        name = instances.remove_instance(session, args.instance, actor=cli_actor(ctx))
    emit(args, {"removed": name}, text=f"Removed app instance '{name}' (nothing changed on the cluster).")
    return EXIT_OK
