"""The comparison of environments as the screens show it: display text, a class per cell, what to filter on.
Built once per read in queries.py (and cached there); the Services screen draws it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pandas as pd
from pandas.io.formats.style import Styler

from ranchersync.inventory.compare import Cell, CellState, Comparison, ComparisonRow, cell_state, hidden_difference
from ranchersync.inventory.reading import InstanceFailure, Inventory

MISSING = "—"
UNREADABLE = "? unreadable"

# How each cell state of the comparison (the core's compare.cell_state) is drawn; a cell in the "same" state is
# left plain. Translucent backgrounds read on both themes.
DRIFT: CellState = "drift"
READ_ONLY: CellState = "readonly"
ABSENT: CellState = "missing"
INCONSISTENT: CellState = "inconsistent"
NOT_READ: CellState = "unreadable"
CELL_CSS: dict[str, str] = {
    DRIFT: "background-color: rgba(232, 137, 12, 0.24)",
    READ_ONLY: "background-color: rgba(139, 141, 152, 0.18)",
    INCONSISTENT: "background-color: rgba(229, 72, 77, 0.26)",
    ABSENT: "color: #8B8D98",
    NOT_READ: "color: #8B8D98; font-style: italic",
}

def contains(column: pd.Series, needle: str) -> pd.Series:
    return column.str.lower().str.contains(needle, regex=False)


@dataclass(frozen=True)
class ComparisonTable:
    """The comparison as the screen shows it: display text, a class per environment cell, and what to filter on."""

    columns: tuple[str, ...]  # environment names, pipeline order
    text: pd.DataFrame  # Service, Kind, then one column per environment; indexed by "kind/name"
    classes: pd.DataFrame  # a CELL_CSS key (or "") per environment cell
    differs: pd.Series  # bool per row
    promotable: pd.Series  # bool per row: False for a kind no sync changes (a CronJob), shown apart, not selectable
    images: pd.Series  # every image of the row, for the text search
    failures: tuple[InstanceFailure, ...]
    fetched_at: dt.datetime | None
    # Where the compared inventories came from: "watch" only when every one came from the collector.
    source: str = "live"
    observed_at: dt.datetime | None = None
    stale: tuple[str, ...] = ()
    # The comparison's rows by id ("kind/name"): the service detail (digests side by side) reads them.
    rows: Mapping[str, ComparisonRow] = dataclasses.field(default_factory=dict)

    def view(self, *, only_differences: bool = False, text: str = "", kinds: Collection[str] = ()) -> pd.DataFrame:
        """The display frame, filtered."""
        mask = pd.Series(True, index=self.text.index)
        if only_differences:  # a row with a note (a re-pushed tag, an outside change) needs a look too
            mask &= self.differs | (self.text["Notes"] != "") if "Notes" in self.text else self.differs
        if kinds:
            mask &= self.text["Kind"].isin(list(kinds))
        if needle := text.strip().lower():
            mask &= contains(self.text["Service"], needle) | contains(self.images, needle)
        return self.text[mask]

    def style(self, shown: pd.DataFrame) -> Styler:
        """Colour drift, missing, inconsistent and unreadable cells of the rows `shown`."""
        css = self.classes.loc[shown.index].apply(lambda column: column.map(CELL_CSS).fillna(""))
        columns = list(self.columns)
        return shown.style.apply(lambda _: css, axis=None, subset=columns)


def comparison_table(
    comparison: Comparison, inventories: Mapping[int, Inventory],
    readiness: Mapping[tuple[str, str, str], str] | None = None,
) -> ComparisonTable:
    """Flatten a comparison into display text and cell classes (drift = differs from the column before it).
    `readiness`: by (kind, service, environment), how the cell's version stands against the next environment's
    minimum source soak ("ready to promote in 40 min"), appended to the cell."""
    envs = comparison.environments
    rows = comparison.rows
    index = pd.Index([f"{r.kind}/{r.name}" for r in rows], name="id")
    text: dict[str, list[str]] = {"Service": [r.name for r in rows], "Kind": [r.kind for r in rows]}
    classes: dict[str, list[str]] = {}
    for j, env in enumerate(envs):
        cells, kinds = [], []
        for row in rows:
            cell, before = row.cells[j], row.cells[j - 1] if j else None
            state = cell_state(cell, before)
            text_ = _cell_text(cell, hidden_difference(cell, before))
            soaked = (readiness or {}).get((row.kind, row.name, env.name))
            cells.append(f"{text_} · ⏳ {soaked}" if soaked and soaked.startswith("ready to promote")
                         else f"{text_} · {soaked}" if soaked else text_)
            kinds.append("" if state == "same" else state)
        text[env.name], classes[env.name] = cells, kinds
    notes = [row_notes(r) for r in rows]
    if any(notes):
        text["Notes"] = notes
    images = [" ".join(img for c in r.cells for s in c.services for img in s.images.values()) for r in rows]
    failures = tuple(f for e in envs if (inv := inventories.get(e.id)) for f in inv.failures)
    found = [inv for e in envs if (inv := inventories.get(e.id))]
    fetched = [inv.fetched_at for inv in found]
    observed = [inv.observed_at for inv in found if inv.observed_at is not None]
    return ComparisonTable(
        columns=tuple(e.name for e in envs),
        text=pd.DataFrame(text, index=index),
        classes=pd.DataFrame(classes, index=index, columns=[e.name for e in envs]),
        differs=pd.Series([r.differs for r in rows], index=index, dtype=bool),
        promotable=pd.Series([r.promotable for r in rows], index=index, dtype=bool),
        images=pd.Series(images, index=index, dtype="str"),
        failures=failures,
        fetched_at=min(fetched) if fetched else None,
        source="watch" if found and all(inv.source == "watch" for inv in found) else "live",
        observed_at=min(observed) if observed else None,
        stale=tuple(sorted({reason for inv in found for reason in inv.stale})),
        rows={f"{r.kind}/{r.name}": r for r in rows},
    )


def row_notes(row: ComparisonRow) -> str:
    """What the digests and our sync records say about a row: a re-pushed tag, pods that disagree, a change made
    outside the tool."""
    notes = []
    if row.digest_mismatch:
        notes.append("same tag, other digest")
    if row.mixed_digests_in:
        notes.append("pods disagree in " + ", ".join(row.mixed_digests_in))
    if row.changed_outside_in:
        notes.append("changed outside the tool in " + ", ".join(row.changed_outside_in))
    return " · ".join(notes)


def _cell_text(cell: Cell, why: str = "") -> str:
    """The tag, then what it does not show: the status when not running, and why a cell whose tag is the same as
    the one before still differs ("7.2.4 · ≠ sidecar differs")."""
    if not cell.services:
        return UNREADABLE if cell.unreadable else MISSING
    tag = cell.image_tag
    text = f"⚠ {tag}" if cell.inconsistent else tag
    status = cell.status
    if status not in (None, "running"):
        text = f"{text} · {status}"
    return f"{text} · ≠ {why}" if why else text
