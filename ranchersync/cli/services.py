"""`services …`: the workloads of environments, read from Rancher, and their comparison."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
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
    with ctx.session() as session:
        found = inventory.list_services(session, ctx.cipher, args.env)
    for failure in found.failures:
        warn(f"app instance '{failure.instance.name}': {failure.title}: {failure.message}")
        if failure.hint:
            note(f"hint: {failure.hint}")
    if args.json:  # streamed: neither the payloads nor the table rows of every service are built at once
        emit_items(service_payload(s) for s in found.services)
    else:
        emit(args, None, *service_rows(service_payload(s) for s in found.services))
    return EXIT_FAILED if found.failures else EXIT_OK  # a pipeline must notice an unreadable app instance


def service_rows(payloads: Iterable[Mapping[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    """`services list` as a table, from the services' payloads (the remote CLI's too)."""
    rows = [[s["appInstance"], s["workloadType"], s["name"], s["imageTag"],
             f"{s['availableReplicas']}/{s['replicas']}", s["status"], s["lastSynced"]] for s in payloads]
    return rows, ["APP INSTANCE", "KIND", "NAME", "TAG", "READY", "STATUS", "LAST SYNC"]


def cmd_services_compare(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import locks
    from ranchersync.inventory import compare
    from ranchersync.inventory.payloads import comparison_payload
    from ranchersync.models import utcnow
    from ranchersync.sync import add_readiness, promotion_readiness

    if len(args.env) < 2:
        raise UsageError("compare needs at least two environments: --env A --env B")
    with ctx.session() as session:
        comparison = compare.compare_environments(session, ctx.cipher, args.env,
                                                  compare_by="tag" if args.tag_only else "image",
                                                  digests=args.digests)
        held = {e.id: locks.locks_by_service(session, e.id) for e in comparison.environments}
        if args.only_differences:
            comparison = comparison.only_differences()
        readiness = promotion_readiness(session, comparison, utcnow())
    payload = comparison_payload(comparison)
    add_readiness(payload, readiness)  # the promotion policy: how long each version ran where the next one asks it
    payload["locks"] = [locks.lock_payload(v) for by_service in held.values() for views in by_service.values()
                        for v in views]  # release trains: what a sync into each environment would meet
    emit(args, payload, *comparison_rows(payload))
    return EXIT_OK


def comparison_rows(payload: Mapping[str, Any]) -> tuple[list[list[Any]], list[str]]:
    """`services compare` as a table, from its payload (the remote CLI's too): a cell is the tag, `(missing)`, or
    `?` (unreadable), marked ` !` inconsistent across app instances, ` ~` pods on mixed digests, ` *` changed
    outside the tool."""
    names = [e["name"] for e in payload["environments"]]
    rows = []
    for row in payload["services"]:
        cells = []
        for name in names:
            cell = row["environments"][name]
            if name in row["missingIn"]:
                cells.append("(missing)")
            elif not cell["appInstanceIds"]:
                cells.append("?")
            else:
                cells.append((cell["imageTag"] or "") + (" !" if name in row["inconsistentIn"] else "")
                             + (" ~" if name in row["mixedDigestsIn"] else "")
                             + (" *" if cell["changedOutside"] else ""))
        outside = {name: row["environments"][name]["changedOutside"] for name in names}
        noticed = [f"{name} (noticed {_minute(min(c['noticedAt'] for c in changes))} UTC)"
                   for name, changes in outside.items() if changes]
        notes = [text for flag, text in ((row["digestMismatch"], "same tag, other digest"),
                                         (bool(row["mixedDigestsIn"]),
                                          "pods disagree: " + ", ".join(row["mixedDigestsIn"])),
                                         (bool(row["changedOutsideIn"]),
                                          "changed outside the tool: " + ", ".join(noticed))) if flag]
        notes += [f"locked in {lock['environment']}: {lock['message']}" for lock in payload.get("locks", ())
                  if lock["service"] in (None, row["name"])]
        notes += [f"{name} → {cell['promotion']['target']}: {cell['promotion']['text']}" for name in names
                  for cell in [row["environments"][name]] if cell.get("promotion")]
        notes[:0] = [f"{name}: {cell['hiddenDifference']} ({'; '.join(cell['hiddenChanges'])})"
                     for name in names for cell in [row["environments"][name]] if cell["hiddenDifference"]]
        if not row["promotable"] and row["differs"]:
            notes.insert(0, f"{row['workloadType']}: not promoted by this tool")
        rows.append([row["workloadType"], row["name"], *cells, "yes" if row["differs"] else "", "; ".join(notes)])
    return rows, ["KIND", "NAME", *[n.upper() for n in names], "DIFFERS", "NOTES"]


def _minute(stamp: str) -> str:
    """"2026-11-30T14:02:11Z" → "2026-11-30 14:02"."""
    return stamp[:16].replace("T", " ")
