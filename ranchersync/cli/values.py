"""Argument types that refuse what no command can use (exit 2 with a sentence), before anything runs.

argparse's `type=float` takes `nan` and `inf`, and `date.fromisoformat` takes 9999-12-31, whose next day (an
"until" is inclusive) does not exist: each would fail later, deep inside, as a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)

EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(9998, 12, 31)


def seconds(maximum: float) -> Callable[[str], float]:
    """A number of seconds, more than 0 and at most `maximum`."""
    return _number(float, 0, maximum, "seconds", exclusive_low=True)


def hours(maximum: float) -> Callable[[str], float]:
    """A number of hours, more than 0 and at most `maximum`."""
    return _number(float, 0, maximum, "hours", exclusive_low=True)


def whole(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`."""
    return _number(int, low, high, "")


def day(text: str) -> dt.date:
    """A date written YYYY-MM-DD, from 1970-01-01 to 9998-12-31."""
    try:
        value = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("a date is written YYYY-MM-DD, e.g. 2026-11-30") from None
    if not EARLIEST <= value <= LATEST:
        raise argparse.ArgumentTypeError(f"the date must be between {EARLIEST} and {LATEST}")
    return value


def _number(kind: Callable[[str], N], low: float, high: float, unit: str, *, exclusive_low: bool = False
            ) -> Callable[[str], N]:
    words = f" {unit}" if unit else ""

    def parse(text: str) -> N:
        try:
            value = kind(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number{words}") from None
        below = value <= low if exclusive_low else value < low
        if not math.isfinite(value) or below or value > high:
            floor = f"more than {low:g}" if exclusive_low else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"must be {floor} and at most {high:g}{words}")
        return value

    parse.__name__ = unit or "number"  # argparse names the type in its own messages
    return parse
