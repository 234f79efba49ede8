"""`history` and `metrics`: past operations, and the delivery metrics computed from them."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_args, overload

from ranchersync.cli import values
from ranchersync.cli.common import Commands, add_command
from ranchersync.cli.output import EXIT_OK, emit, note, say

if TYPE_CHECKING:
    from ranchersync.context import AppContext
    from ranchersync.history import HistoryFilter


class _OperationStatuses(Sequence[str]):
    """An operation's statuses, read from the models only when `--status` is used or shown: building the parser,
    which every command does, must not import SQLAlchemy's models."""

    def _all(self) -> tuple[str, ...]:
        from ranchersync.models import OperationStatus

        return get_args(OperationStatus)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())


def register(commands: Commands) -> None:
    """Add `history` and `metrics`."""
    p = add_command(commands, "history", cmd_history, "past sync and rollback operations, newest first")
    # `history show OPERATION` opens one; `history [filters]` alone lists them, so the action is optional.
    actions = p.add_subparsers(title="actions", metavar="show OPERATION", required=False)
    show = add_command(actions, "show", cmd_history_show,
                       "one operation with each service's and container's result (the API's GET /operations/{id})")
    show.add_argument("operation", type=int, help="the operation's id (see `history`)")
    _period(p)
    p.add_argument("--status", choices=_OperationStatuses())
    p.add_argument("--service", metavar="NAME")
    p.add_argument("--by", metavar="USER", help="who initiated it")
    p.add_argument("--page", type=values.whole(1, 1_000_000), default=1)
    p.add_argument("--limit", type=values.whole(1, 1000), default=50, help="operations per page")
    p = add_command(commands, "metrics", cmd_metrics,
                    "delivery metrics: frequency, failure rate, restore and lead times")
    _period(p)
    p.add_argument("--failure-window-hours", type=values.hours(24 * 365), default=24,
                   help="a sync rolled back within this many hours counts as failed (default 24)")


def _period(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", help="as source or target")
    p.add_argument("--since", type=values.day, metavar="YYYY-MM-DD")
    p.add_argument("--until", type=values.day, metavar="YYYY-MM-DD", help="included")


def _history_filter(ctx: AppContext, args: argparse.Namespace) -> HistoryFilter:
    from ranchersync import history
    from ranchersync.catalogue import environments
    since, until = history.date_range(args.since, args.until)
    env_id = None
    if args.env:
        with ctx.session() as session:
            env_id = environments.get_environment(session, args.env).id
    return history.HistoryFilter(environment_id=env_id, status=getattr(args, "status", None),
                                 service=getattr(args, "service", None), initiated_by=getattr(args, "by", None),
                                 since=since, until=until)


def cmd_history(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import history

    filters = _history_filter(ctx, args)
    with ctx.session() as session:
        page = history.list_operations(session, filters, page=args.page, page_size=args.limit)
    print_history(args, [history.operation_payload(op) for op in page.items], page.page, page.pages, page.total)
    return EXIT_OK


def print_history(args: argparse.Namespace, payload: Sequence[Mapping[str, Any]], page: int, pages: int,
                  total: int) -> None:
    """One page of the history, from the operations' payloads (the remote CLI's too)."""
    from ranchersync.kernel.humanize import duration_text

    rows = [[op["id"], op["kind"], f"{op['sourceEnvironment']} -> {op['targetEnvironment']}", op["status"],
             op["initiatedBy"], op["startTime"], duration_text(op["durationSeconds"], empty=""),
             ", ".join(op["serviceIds"])] for op in payload]
    emit(args, payload, rows, ["ID", "KIND", "FROM -> TO", "STATUS", "BY", "STARTED", "TOOK", "SERVICES"])
    if not args.json and pages > 1:
        note(f"page {page} of {pages} ({total} operations); --page N for more")


def cmd_history_show(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import history

    with ctx.session() as session:
        payload = history.operation_detail_payload(session, args.operation)
    emit(args, payload, text=operation_text(payload))
    return EXIT_OK


def operation_text(op: Mapping[str, Any]) -> str:
    """`history show` as text, drawn from the payload alone: the remote CLI prints the API's answer the same way."""
    from ranchersync.cli.output import format_table
    from ranchersync.kernel.humanize import duration_text, workload_location

    lines = [f"Operation #{op['id']}: {op['kind']} {op['sourceEnvironment']} -> {op['targetEnvironment']}, "
             f"{op['status']}",
             f"Mode: {'tag only' if op['mode'] == 'tag' else 'full image'}; initiated by {op['initiatedBy']}"
             + (f"; approved by {', '.join(op['approvedBy'])}" if op.get("approvedBy") else ""),
             f"Started: {op['startTime'] or '-'}; finished: {op['endTime'] or '-'}; took "
             f"{duration_text(op['durationSeconds'], empty='-')}"]
    if op.get("rollbackOf") is not None:
        lines.append(f"Rollback of operation #{op['rollbackOf']}")
    if op.get("rolledBackBy"):
        lines.append("Rolled back by operation " + ", ".join(f"#{i}" for i in op["rolledBackBy"]))
    if op.get("rollbackReason"):
        lines.append(f"Rollback reason: {op['rollbackReason']}")
    if op.get("error"):
        lines.append(f"Error: {op['error']}")
    rows = []
    for r in op["results"]:
        # The screens' "site · cluster name · namespace", without spaces: a table's columns split on them.
        where = workload_location(r["siteName"] or "", r.get("clusterName") or "", r["cluster"] or "",
                                  r["namespace"] or "").replace(" · ", "/")
        containers = r["containers"] or [{"name": "", "init": False, "previous": r["previousImage"],
                                          "new": r["newImage"]}]
        for c in containers:
            rows.append([r["serviceId"], r["workloadType"], where, c["name"] + (" (init)" if c["init"] else ""),
                         c["previous"], c["new"], r["status"], r["error"] or ""])
    lines += ["", format_table(["SERVICE", "KIND", "WHERE", "CONTAINER", "PREVIOUS", "NEW", "STATUS", "NOTE"],
                               rows)]
    measured = [(r, m) for r in op["results"] for m in r.get("measurements") or ()]
    if measured:
        lines += ["", "Verification:"]
        lines += [f"  {r['serviceId']} @ {r['namespace']}: {m['gate']} {m['verdict']} at {m['at']}"
                  + (f" values {', '.join(str(v) for v in m['values'])}" if m.get("values") else "")
                  + (f" ({m['detail']})" if m.get("detail") else "") for r, m in measured]
    return "\n".join(lines)


def cmd_metrics(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import history
    from ranchersync.kernel.humanize import duration_text

    filters = _history_filter(ctx, args)
    with ctx.session() as session:
        metrics = history.compute_metrics(session, filters,
                                          failure_window=dt.timedelta(hours=args.failure_window_hours))
    payload = history.metrics_payload(metrics)
    if args.json:
        emit(args, payload)
        return EXIT_OK
    cfr, headline = metrics.change_failure_rate, metrics.headline

    def took(seconds: float | None) -> str:
        return duration_text(seconds, empty="-")

    per_week = "-" if headline.deploys_per_week is None else f"{headline.deploys_per_week:.1f}"
    lines = [
        f"Period: {metrics.since or '-'} .. {metrics.until or '-'}, {metrics.operations} operation(s)",
        f"Succeeded: {_percent(headline.success_rate)} ({headline.complete} of {headline.finished} finished "
        "operations completed)",
        f"Deploys per week: {per_week} ({headline.deployments} deployment(s) into any environment)",
        f"Change failure rate: {_percent(cfr.rate)} ({cfr.failed} of {cfr.syncs} syncs failed or were rolled back "
        f"within {args.failure_window_hours:g} h)",
        f"Time to restore: median {took(metrics.restore.median_seconds)}, {metrics.restore.incidents} "
        f"incident(s), {metrics.restore.open} still open",
    ]
    lines += [f"Deployments into {d.environment}: {d.total} ({d.average_per_week or 0:.1f} per week)"
              for d in metrics.deployments]
    lines += [f"Lead time {p.from_environment} -> {p.to_environment}: median {took(p.median_seconds)} over "
              f"{p.versions} version(s)" for p in metrics.lead_times.pairs]
    say("\n".join(lines))
    return EXIT_OK


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"
