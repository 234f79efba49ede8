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
    from ranchersync.security.crypto import TokenCipher


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
    p = add_command(actions, "verify", cmd_audit_verify, "check the hash chain: report the first broken link, and "
                    "print a signed checkpoint of its head (keep it outside the database)")
    p.add_argument("--checkpoint", metavar="FILE|VALUE",
                   help="prove the log still extends a checkpoint printed earlier (a value, or a file such as a log "
                        "export: every checkpoint in it is checked)")


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
    from ranchersync.security import checkpoint

    wanted = checkpoint.parse(_checkpoint_text(args.checkpoint)) if args.checkpoint else []
    # The chain is checked without any key (a restored database may hold another installation's tokens); signing
    # and checking checkpoints need this installation's keys.
    cipher = ctx.cipher if wanted else _cipher_or_none(ctx)
    with ctx.session() as session:
        report = audit.verify(session)
        restores = audit.list_restores(session)
        proofs = [checkpoint.check(session, cipher, c) for c in wanted] if cipher is not None else []
        head = checkpoint.current(session, cipher) if report.ok and cipher is not None else None
    if head is not None:
        checkpoint.publish(head)
    payload = {"ok": report.ok and all(p.ok for p in proofs), "checked": report.checked,
               "brokenAt": report.broken_at, "problem": report.problem,
               "restores": [r.payload() for r in restores], "checkpoint": head.text if head else None,
               "checkpoints": [p.payload() for p in proofs]}
    if not report.ok:
        emit(args, payload)
        if not args.json:
            say(f"The audit chain is broken at event #{report.broken_at}: {report.problem}. "
                f"The {report.checked} event(s) before it are intact.")
        return EXIT_FAILED
    emit(args, payload, text=f"The audit chain is intact: {report.checked} event(s) checked.")
    if not args.json:
        for r in restores:
            say(f"Restored from a backup: event #{r.event_id} at {r.at}, {r.file} by {r.actor} "
                f"(the log before it was rolled back to the backup's event #{r.head_id}).")
        for proof in proofs:
            say(f"Checkpoint of event #{proof.checkpoint.event_id}: " +
                ("the log extends it." if proof.ok else f"NOT extended: {proof.problem}."))
        if head is not None:
            say(f"Checkpoint of the head (keep it outside the database): {head.text}")
    return EXIT_OK if all(p.ok for p in proofs) else EXIT_FAILED


def _cipher_or_none(ctx: AppContext) -> TokenCipher | None:
    from ranchersync.kernel.errors import RancherSyncError

    try:
        return ctx.cipher
    except RancherSyncError as error:
        note(f"no checkpoint printed: {error}")
        return None


def _checkpoint_text(value: str) -> str:
    """A checkpoint value, or the content of the file it names."""
    from pathlib import Path

    path = Path(value)
    if not value.startswith("rsmcp1.") and path.is_file():
        return path.read_text(errors="replace")
    return value
