"""What SQLite and PostgreSQL spell differently: a timestamp's UTC day, seconds between two, planner settings.

SQLite keeps our timestamps as UTC text (`UTCDateTime` converts before binding), PostgreSQL as `timestamptz`; each
construct compiles to the native spelling, so the queries built on them stay one statement for both databases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, String, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp, as 'YYYY-MM-DD' text."""

    type = String()
    name = "utc_day"
    inherit_cache = True


class seconds_between(FunctionElement[float]):
    """Seconds from the first timestamp to the second (negative when the second is earlier), to the millisecond."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


class unindexed(FunctionElement[Any]):
    """A column SQLite must not read through an index: SQLite's documented unary `+`; the bare column elsewhere.

    Without ANALYZE statistics SQLite walks an index to spare a GROUP BY its sort, even when that means reading
    every row in random order; PostgreSQL plans by its statistics and needs no such help.
    """

    name = "unindexed"
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any] | InstrumentedAttribute[Any]) -> None:
        super().__init__(column)
        self.type = column.type


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(arg, **kw) for arg in element.clauses]


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({_args(element, compiler, **kw)[0]})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # The session's TimeZone setting would otherwise decide which day a timestamp falls on.
    return f"to_char(({_args(element, compiler, **kw)[0]}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return _args(element, compiler, **kw)[0]


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{_args(element, compiler, **kw)[0]}"


@compiles(seconds_between)
def _seconds_between_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    # julianday() is a double: rounding to the millisecond turns 59.99999999 back into the 60 that was stored.
    return f"round((julianday({end}) - julianday({start})) * 86400.0, 3)"


@compiles(seconds_between, "postgresql")
def _seconds_between_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    return f"CAST(EXTRACT(EPOCH FROM ({end}) - ({start})) AS DOUBLE PRECISION)"


def tune_for_reports(session: Session) -> None:
    """On PostgreSQL, set up the rest of this transaction for report queries: no JIT, more memory per sort/hash.

    The metrics' correlated lookups make the planner's cost estimates large enough to trigger JIT compilation,
    which took ~0.7 s where the queries themselves take tens of ms (measured); and grouping every arrival of a
    year of syncs spills the default 4 MB work_mem to disk. SET LOCAL ends with the transaction.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
