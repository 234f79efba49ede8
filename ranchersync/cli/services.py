"""`services …`: the workloads of environments, read from Rancher, and their comparison."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ranchersync.cli.common import Commands, UsageError, add_command, add_group
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, emit, emit_items, note, warn

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `services` group."""
    group = add_group(commands, "services", "workloads of environments, read from Rancher")
    p = add_command(group, "list", cmd_services_list, "list the services of an environment")
    p.add_argument("--env", required=True)
    p = add_command(group, "compare", cmd_services_compare, "compare services across environments")
    p.add_argument("--env", action="append", required=True, help="repeat: --env Stage --env Prod")
    p.add_argument("--only-differences", action="store_true")
    p.add_argument("--tag-only", action="store_true", help="compare tags, ignoring registries and repositories")
    p.add_argument("--digests", action="store_true",
                   help="also read the digests the pods run (one pod list per app instance or cluster): flags a "
                        "tag re-pushed under the same name, and pods of one workload running different digests")


def cmd_services_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.inventory import reading as inventory
    from ranchersync.inventory.payloads import service_payload
    from ranchersync.kernel.timefmt import iso

    with ctx.session() as session:
        found = inventory.list_services(session, ctx.cipher, args.env)
    for failure in found.failures:
        warn(f"app instance '{failure.instance.name}': {failure.title}: {failure.message}")
        if failure.hint:
            note(f"hint: {failure.hint}")
    if args.json:  # streamed: neither the payloads nor the table rows of every service are built at once
        emit_items(service_payload(s) for s in found.services)
    else:
        rows = [[s.instance.name, s.kind, s.name, s.image_tag, f"{s.workload.available_replicas}/{s.workload.replicas}",
                 s.status, iso(s.last_synced)] for s in found.services]
        emit(args, None, rows, ["APP INSTANCE", "KIND", "NAME", "TAG", "READY", "STATUS", "LAST SYNC"])
    return EXIT_FAILED if found.failures else EXIT_OK  # a pipeline must notice an unreadable app instance


def cmd_services_compare(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import locks
    from ranchersync.inventory import compare
    from ranchersync.inventory.payloads import comparison_payload

    if len(args.env) < 2:
        raise UsageError("compare needs at least two environments: --env A --env B")
    with ctx.session() as session:
        comparison = compare.compare_environments(session, ctx.cipher, args.env,
                                                  compare_by="tag" if args.tag_only else "image",
                                                  digests=args.digests)
        held = {e.id: locks.locks_by_service(session, e.id) for e in comparison.environments}
    if args.only_differences:
        comparison = comparison.only_differences()
    names = [e.name for e in comparison.environments]
    rows = []
    for row in comparison.rows:
        cells = ["(missing)" if c.missing else ("?" if not c.services else c.image_tag + (" !" if c.inconsistent
                 else "") + (" ~" if c.mixed_digests else "") + (" *" if c.outside_changes else ""))
                 for c in row.cells]
        notes = [text for flag, text in ((row.digest_mismatch, "same tag, other digest"),
                                         (bool(row.mixed_digests_in), "pods disagree: " + ", ".join(
                                             row.mixed_digests_in)),
                                         (bool(row.changed_outside_in), "changed outside the tool: " + ", ".join(
                                             _noticed(c) for c in row.cells if c.outside_changes))) if flag]
        notes += [f"locked in {lock.environment}: {lock.message}" for lock in _locks_of(held, row.name)]
        notes[:0] = [f"{c.environment.name}: {why} ({_containers_text(row, c)})"
                     for c, why in zip(row.cells, row.explanations, strict=True) if why]
        if not row.promotable and row.differs:
            notes.insert(0, f"{row.kind}: not promoted by this tool")
        rows.append([row.kind, row.name, *cells, "yes" if row.differs else "", "; ".join(notes)])
    headers = ["KIND", "NAME", *[n.upper() for n in names], "DIFFERS", "NOTES"]
    payload = comparison_payload(comparison)
    payload["locks"] = [locks.lock_payload(v) for by_service in held.values() for views in by_service.values()
                        for v in views]  # release trains: what a sync into each environment would meet
    emit(args, payload, rows, headers)
    return EXIT_OK


def _locks_of(held: dict[int, dict[str | None, list[Any]]], service: str) -> list[Any]:
    """The locks that hold `service` still, in every compared environment (its own and the environment's)."""
    return [lock for by_service in held.values() for lock in [*by_service.get(None, []), *by_service.get(service, [])]]


def _containers_text(row: Any, cell: Any) -> str:
    """"exporter (sidecar): …:v1.61.0 → …:v1.62.0": the containers behind a hidden difference."""
    from ranchersync.inventory.compare import changed_containers

    j = row.cells.index(cell)
    return "; ".join(c.text() for c in changed_containers(cell, row.cells[j - 1]))


def _noticed(cell: Any) -> str:
    """"Prod (noticed 2026-11-30 14:02 UTC)": when the change was first seen, not when this command read it."""
    first = min(s.outside.noticed_at for s in cell.outside_changes if s.outside is not None)
    return f"{cell.environment.name} (noticed {first:%Y-%m-%d %H:%M} UTC)"
