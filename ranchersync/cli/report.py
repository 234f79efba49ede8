"""`report drift` (what waits for promotion, and since when) and `report delivery` (the period's DORA measures, charts
and operations as one self-contained HTML file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ranchersync.cli import values
from ranchersync.cli.common import Commands, UsageError, add_command, add_group
from ranchersync.cli.output import EXIT_OK, note

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `report` group."""
    group = add_group(commands, "report", "reports: drift between environments, delivery over a period")
    p = add_command(group, "drift", cmd_report_drift,
                    "services waiting for promotion between neighbouring environments, and since when", json=False)
    p.add_argument("--env", action="append", default=[], metavar="E",
                   help="an environment to include (twice: a pair); default: the whole pipeline")
    p.add_argument("--format", choices=("md", "csv", "json"), default="md", help="Markdown (default), CSV or JSON")
    p.add_argument("--tag-only", action="store_true", help="compare tags only, not whole image references")
    p = add_command(group, "delivery", cmd_report_delivery,
                    "the period's delivery measures, charts and operations as one HTML file (opens offline)",
                    json=False)
    p.add_argument("--since", type=values.day, required=True, metavar="YYYY-MM-DD", help="first day (UTC)")
    p.add_argument("--until", type=values.day, required=True, metavar="YYYY-MM-DD", help="last day, included (UTC)")
    p.add_argument("--out", required=True, metavar="FILE.html", help="where to write the report")


def cmd_report_drift(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.reports import build_drift_report, render_drift

    if len(args.env) == 1:
        raise UsageError("name two environments (--env A --env B), or none for the whole pipeline")
    with ctx.session() as session:
        report = build_drift_report(session, ctx.cipher, args.env or None,
                                    compare_by="tag" if args.tag_only else "image")
    text = render_drift(report, args.format)
    sys.stdout.write(text if args.format != "md" else text)
    return EXIT_OK


def cmd_report_delivery(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.history import date_range
    from ranchersync.reports import write_delivery_report

    since, until = date_range(args.since, args.until)
    if since is None or until is None or since >= until:
        raise UsageError("--since must be on or before --until")
    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out must name an .html file, not {out.name}")
    with ctx.session() as session:
        size = write_delivery_report(session, since, until, out)
    note(f"Wrote {out} ({size // 1024} KB): open it in a browser, no network needed.")
    return EXIT_OK
