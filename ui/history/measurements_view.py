"""The verification measurements of an operation, as the live progress and the history detail show them: per service,
each gate's query values with their time (hh:mm:ss in the viewer's zone) and verdict (the n-th of its
measurements), and the soak's restarts."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from ranchersync.kernel.textsafe import escape_markdown

COLUMNS = ("Verdict", "Service", "Where", "Gate", "#", "Time", "Values", "Detail")
_MARK = {"pass": "✓ pass", "fail": "✗ fail", "inconclusive": "? inconclusive"}
_COLOR = {"✓ pass": "color: #21A366; font-weight: 600", "✗ fail": "color: #E5484D; font-weight: 600",
          "? inconclusive": "color: #E8890C; font-weight: 600"}


def frame(measured: Sequence[tuple[str, str, dict[str, Any]]], tz: dt.tzinfo) -> pd.DataFrame:
    """One row per measurement, in the order taken."""
    seen: Counter[tuple[str, str, str]] = Counter()
    rows = []
    for service, where, m in measured:
        number = seen[(service, where, m["gate"])] = seen[(service, where, m["gate"])] + 1
        values = m.get("values") or []
        shown = _values(m) if m["gate"] == "soak" else (
            ", ".join("NaN" if v is None else f"{v:.4g}" for v in values) or "(no value)")
        at = dt.datetime.fromisoformat(m["at"]) if m.get("at") else None
        rows.append((_MARK.get(m["verdict"], m["verdict"]), service, where, m["gate"], number,
                     f"{at.astimezone(tz):%H:%M:%S}" if at else "—", shown, m.get("detail") or ""))
    return pd.DataFrame(rows, columns=list(COLUMNS))


_MAX_LINES = 8


def failing_lines(measured: Sequence[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """One line per gate (or soak) of a service that did not pass, with every value it measured, in order (the
    series of one measurement joined by '/'), and the last failure's detail:
    "✗ web (site · cluster · namespace) · error-rate: 0.2, 0.2, 0.2 — result < 0.05: 0.2"."""
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for service, where, m in measured:
        grouped.setdefault((service, where, m["gate"]), []).append(m)
    lines = []
    for (service, where, gate), found in grouped.items():
        bad = [m for m in found if m["verdict"] != "pass"]
        if not bad:
            continue
        values = ", ".join(_values(m) for m in found)
        lines.append(f"{_MARK[bad[-1]['verdict']][0]} {service} ({where}) · {gate}: {values} — {bad[-1]['detail']}")
    return lines


def _values(m: dict[str, Any]) -> str:
    values = m.get("values") or []
    if m["gate"] == "soak":
        return f"{values[0] if values else 0} restart(s)"
    return "/".join("NaN" if v is None else f"{v:.4g}" for v in values) or "no value"


def table(measured: Sequence[tuple[str, str, dict[str, Any]]], tz: dt.tzinfo, *, key: str) -> None:
    """The measurements as a table (nothing when there are none), failed ones stated above it."""
    if not measured:
        return
    shown = frame(measured, tz)
    failed = [f"{s} · {m['gate']}" for s, _, m in measured if m["verdict"] != "pass"]
    with st.container(key=key):
        st.markdown("**Verification** · " + (f":red[{len(failed)} measurement(s) did not pass]" if failed
                                              else ":green[every measurement passed]"))
        lines = failing_lines(measured)
        if lines:
            st.markdown("\n".join(f"- {escape_markdown(line)}" for line in lines[:_MAX_LINES])
                        + (f"\n- … and {len(lines) - _MAX_LINES} more (see the table)" if len(lines) > _MAX_LINES
                           else ""))
        st.dataframe(shown.style.apply(lambda column: column.map(_COLOR).fillna(""), subset=["Verdict"]),
                     hide_index=True, key=f"{key}_table",
                     column_config={"Detail": st.column_config.TextColumn(width="large")})
