"""`audit` and `audit verify`: read the append-only audit log, and check its hash chain."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, UsageError, add_command
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, emit, note, say

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add `audit` (the log, newest first) and `audit verify`."""
    help_text = "the audit log: who changed what, when and from where, newest first"
    p = commands.add_parser("audit", help=help_text, description=help_text[:1].upper() + help_text[1:] + ".")
    p.set_defaults(handler=cmd_audit, database=True)
    p.add_argument("--since", metavar="DATE|TIME", help="YYYY-MM-DD or an ISO time (UTC unless it has an offset)")
    p.add_argument("--until", metavar="DATE|TIME", help="a date is included whole; a time is excluded")
    p.add_argument("--actor", help="who acted (exactly as logged)")
    p.add_argument("--action", help="e.g. freeze.add, or a family: freeze")
    p.add_argument("--object", help='e.g. environment, environment:3 or an object\'s name')
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--limit", type=int, default=50, help="events per page")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="every matching event as CSV (streamed; no paging)")
    out.add_argument("--json", action="store_true", help="print JSON")
    actions = p.add_subparsers(title="commands", metavar="ACTION")
    add_command(actions, "verify", cmd_audit_verify, "check the hash chain: report the first broken link")


def _moment(text: str | None, *, end: bool) -> dt.datetime | None:
    if not text:
        return None
    try:
        if len(text.strip()) == 10:  # a calendar day (UTC); as an end, the whole day is included
            day = dt.date.fromisoformat(text.strip())
            return dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), dt.UTC)
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"'{text}' is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM)") from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def cmd_audit(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.access import audit
    filters = audit.AuditFilter(since=_moment(args.since, end=False), until=_moment(args.until, end=True),
                                actor=args.actor, action=args.action, object=args.object)
    if args.csv:
        with ctx.session() as session:
            sys.stdout.writelines(audit.iter_csv(session, filters))
        return EXIT_OK
    with ctx.session() as session:
        page = audit.list_events(session, filters, page=args.page, page_size=args.limit)
    rows = [[e.id, f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.role, e.channel, e.action, e.object_label,
             " · ".join(p for p in (e.detail, e.change) if p)] for e in page.items]
    emit(args, [e.payload() for e in page.items], rows,
         ["ID", "AT (UTC)", "ACTOR", "ROLE", "CHANNEL", "ACTION", "OBJECT", "DETAIL"])
    if not args.json and page.pages > 1:
        note(f"page {page.page} of {page.pages} ({page.total} events); --page N for more")
    return EXIT_OK


def cmd_audit_verify(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.access import audit
    with ctx.session() as session:
        report = audit.verify(session)
        restores = audit.list_restores(session)
    payload = {"ok": report.ok, "checked": report.checked, "brokenAt": report.broken_at, "problem": report.problem,
               "restores": [r.payload() for r in restores]}
    if report.ok:
        emit(args, payload, text=f"The audit chain is intact: {report.checked} event(s) checked.")
        if not args.json:
            for r in restores:
                say(f"Restored from a backup: event #{r.event_id} at {r.at}, {r.file} by {r.actor} "
                    f"(the log before it was rolled back to the backup's event #{r.head_id}).")
        return EXIT_OK
    emit(args, payload)
    if not args.json:
        say(f"The audit chain is broken at event #{report.broken_at}: {report.problem}. "
            f"The {report.checked} event(s) before it are intact.")
    return EXIT_FAILED
