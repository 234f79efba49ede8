"""CSV exports that are safe to open in a spreadsheet, streamed line by line (the history, the audit log)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

# A cell starting with one of these is a formula to a spreadsheet (CSV injection): an error message or a user name
# must not run as one when the export is opened.
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with a quote; other values as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can stream."""

    def write(self, line: str) -> str:
        return line


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header, then each row, as CSV lines; every cell passes through `defuse_formula`."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([defuse_formula(v) for v in row])
