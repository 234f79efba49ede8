"""Everything the command line prints: JSON, tables, sentences, warnings, progress and errors.

Text reaches a terminal, and much of it comes from servers we do not control (Rancher's messages, workload names,
display names): every value printed as text passes through `textsafe.printable`, so an escape sequence, a carriage
return or a bidi override cannot repaint or reorder what the user reads. JSON needs no cleaning (`json.dumps`
escapes control characters). Errors are printed here and only here, with the exit code their class carries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.textsafe import printable

EXIT_OK = 0
EXIT_FAILED = 1  # the operation failed; the other codes come with the errors (ranchersync.kernel.errors)
EXIT_REFUSED = 3  # not done because of a policy: here a sync that became an approval request (an outcome, no error)


def emit(
    args: argparse.Namespace,
    payload: Any,
    rows: Sequence[Sequence[Any]] | None = None,
    headers: Sequence[str] | None = None,
    text: str | None = None,
) -> None:
    """Print JSON with --json, else a table or a sentence."""
    if args.json:
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    elif rows is not None and headers is not None:
        print(format_table(headers, rows))
    elif text is not None:
        say(text)


def emit_items(items: Iterable[Any]) -> None:
    """Print a JSON array one item at a time, one item per line: a long list (2,000 services) is never held as a
    whole payload or as one big string, and the first items reach a pipe before the last are made."""
    write = sys.stdout.write
    first = True
    try:
        for item in items:
            write(("[\n  " if first else ",\n  ") + json.dumps(item, ensure_ascii=False))
            first = False
        write("[]\n" if first else "\n]\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (`| head`): nothing failed; let the exit not complain
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def emit_removed(args: argparse.Namespace, what: str, name: str, instances: Sequence[str]) -> None:
    """Report a removal, with the app instances removed along with it (a cascade)."""
    extra = f" and its app instances {', '.join(instances)}" if instances else ""
    emit(args, {"removed": name, "removedAppInstances": instances}, text=f"Removed {what} '{name}'{extra}.")


def say(text: str) -> None:
    """A line (or block) of text on standard output."""
    print(printable(text))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table; each cell on one line, without control characters."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) if cells else lines[0] + "\n(none)"


def _cell(value: Any) -> str:
    return "" if value is None else " ".join(printable(value).split())


def note(message: str) -> None:
    """Progress and context on standard error, so --json output stays parseable."""
    print(printable(message), file=sys.stderr)


def warn(message: str) -> None:
    """A warning on standard error."""
    note(f"warning: {message}")


def ask(prompt: str) -> str:
    """A question on the terminal; the answer, stripped."""
    return input(printable(prompt)).strip()


def report_error(error: RancherSyncError) -> int:
    """Print an error and what to do about it on standard error; return the exit code its class carries."""
    note(f"error: {error}")
    if error.hint:
        note(f"hint: {error.hint}")
    return error.exit_code
