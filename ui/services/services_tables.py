"""The Services screen's tables, built from the core's inventories and comparison: pure pandas, no Streamlit.

Every table is indexed by a stable id (a service's "instance/kind/name", a comparison row's "kind/name"), so a
dataframe selection, which Streamlit reports by row position, is mapped back to ids at once (`ids_at`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from pandas.io.formats.style import Styler

from ranchersync.inventory.compare import STATUS_SEVERITY, Cell, CellState, Comparison, ComparisonRow, cell_state
from ranchersync.inventory.compare import status_counts as status_counts_of
from ranchersync.inventory.reading import InstanceFailure, Inventory, Service, display_tag
from ranchersync.kernel.textsafe import escape_markdown
from ui.shell import format as fmt

# The images last: they are long, and the short columns should not scroll out of view behind them.
SERVICE_COLUMNS = ("Status", "Service", "Kind", "App instance", "Tag", "Replicas", "Last synced", "Images")
MISSING = "—"
UNREADABLE = "? unreadable"

# How each cell state of the comparison (the core's compare.cell_state) is drawn; a cell in the "same" state is
# left plain. Translucent backgrounds read on both themes.
DRIFT: CellState = "drift"
ABSENT: CellState = "missing"
INCONSISTENT: CellState = "inconsistent"
NOT_READ: CellState = "unreadable"
CELL_CSS: dict[str, str] = {
    DRIFT: "background-color: rgba(232, 137, 12, 0.24)",
    INCONSISTENT: "background-color: rgba(229, 72, 77, 0.26)",
    ABSENT: "color: #8B8D98",
    NOT_READ: "color: #8B8D98; font-style: italic",
}
LEGEND = (
    "Amber: differs from the environment before it (a promotion is pending) · red ⚠: the app instances of one "
    "environment run different versions · —: not deployed there · ?: its app instance could not be read"
)


# ---- one environment's services ---------------------------------------------------------------------------------


def services_frame(services: Iterable[Service], tz: dt.tzinfo) -> pd.DataFrame:
    """One row per service per app instance, sorted by name, indexed by the service's stable id."""
    ordered = sorted(services, key=lambda s: (s.name, s.kind, s.instance.name))
    frame = pd.DataFrame(
        {
            "Status": [fmt.status_text(s.status) for s in ordered],
            "Service": [s.name for s in ordered],
            "Kind": [s.kind for s in ordered],
            "App instance": [s.instance.name for s in ordered],
            "Tag": [s.image_tag for s in ordered],
            "Images": [_images(s.images) for s in ordered],
            "Replicas": [fmt.replicas(s.workload.available_replicas, s.workload.replicas) for s in ordered],
            "Last synced": [fmt.when(s.last_synced, tz, empty="never") for s in ordered],
        },
        index=pd.Index([s.id for s in ordered], name="id"),
        columns=list(SERVICE_COLUMNS),
    )
    return frame


def _images(images: Mapping[str, str]) -> str:
    if len(images) == 1:
        return next(iter(images.values()))
    return " · ".join(f"{name}: {image}" for name, image in images.items())


def filter_services(
    frame: pd.DataFrame,
    *,
    statuses: Collection[str] = (),
    kinds: Collection[str] = (),
    instances: Collection[str] = (),
    text: str = "",
) -> pd.DataFrame:
    """The rows matching every given filter; an empty filter matches all. Text searches name and images."""
    mask = pd.Series(True, index=frame.index)
    if statuses:
        mask &= frame["Status"].isin([fmt.status_text(s) for s in statuses])
    if kinds:
        mask &= frame["Kind"].isin(list(kinds))
    if instances:
        mask &= frame["App instance"].isin(list(instances))
    if needle := text.strip().lower():
        mask &= _contains(frame["Service"], needle) | _contains(frame["Images"], needle)
    return frame[mask]


def _contains(column: pd.Series, needle: str) -> pd.Series:
    return column.str.lower().str.contains(needle, regex=False)


_STATUS_OF_TEXT = {fmt.status_text(s): s for s in STATUS_SEVERITY}


def status_counts(frame: pd.DataFrame) -> dict[str, int]:
    """How many rows of a services frame are in each status: the core's count (worst first, zeros left out)."""
    return status_counts_of(_STATUS_OF_TEXT[text] for text in frame["Status"] if text in _STATUS_OF_TEXT)


def style_services(frame: pd.DataFrame) -> Styler:
    """Colour the status dots; the words stay, so colour is never the only signal."""
    colours = {fmt.status_text(s): f"color: {hex_}" for s, hex_ in fmt.STATUS_HEX.items()}
    return frame.style.apply(lambda column: column.map(colours).fillna(""), subset=["Status"])


def failures_text(failures: Sequence[InstanceFailure]) -> str:
    """The unreadable app instances as a Markdown list, each with its reason (Rancher's words, escaped)."""
    md = escape_markdown
    return "\n".join(
        f"- **{md(f.instance.name)}** ({md(f.instance.site_name)} · "
        f"{md(f.instance.cluster_name)}/{md(f.instance.namespace)}): {md(f.message)}"
        for f in failures
    )


def ids_at(frame: pd.DataFrame, positions: Iterable[int]) -> list[str]:
    """The stable ids of the selected row positions (positions past the end are ignored)."""
    return [str(frame.index[p]) for p in positions if 0 <= p < len(frame)]


def selection_key(prefix: str, frame: pd.DataFrame, generation: int = 0) -> str:
    """A dataframe key that changes whenever the rows shown change: a selection is by position, so it must not
    survive a filter, a refresh or a sync that puts other rows at those positions."""
    digest = hashlib.sha1("\n".join(map(str, frame.index)).encode()).hexdigest()[:12]
    return f"{prefix}_{generation}_{digest}"


def service_keys(ids: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, name) of service ids "instance/kind/name" (or comparison ids "kind/name"), deduplicated, in order."""
    keys = []
    for sid in ids:
        kind, name = sid.split("/")[-2:]
        keys.append((kind, name))
    return list(dict.fromkeys(keys))


# ---- the comparison -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparisonTable:
    """The comparison as the screen shows it: display text, a class per environment cell, and what to filter on."""

    columns: tuple[str, ...]  # environment names, pipeline order
    text: pd.DataFrame  # Service, Kind, then one column per environment; indexed by "kind/name"
    classes: pd.DataFrame  # a CELL_CSS key (or "") per environment cell
    differs: pd.Series  # bool per row
    images: pd.Series  # every image of the row, for the text search
    failures: tuple[InstanceFailure, ...]
    fetched_at: dt.datetime | None
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
            mask &= _contains(self.text["Service"], needle) | _contains(self.images, needle)
        return self.text[mask]

    def style(self, shown: pd.DataFrame) -> Styler:
        """Colour drift, missing, inconsistent and unreadable cells of the rows `shown`."""
        css = self.classes.loc[shown.index].apply(lambda column: column.map(CELL_CSS).fillna(""))
        columns = list(self.columns)
        return shown.style.apply(lambda _: css, axis=None, subset=columns)


def comparison_table(
    comparison: Comparison, inventories: Mapping[int, Inventory]
) -> ComparisonTable:
    """Flatten a comparison into display text and cell classes (drift = differs from the column before it)."""
    envs = comparison.environments
    rows = comparison.rows
    index = pd.Index([f"{r.kind}/{r.name}" for r in rows], name="id")
    text: dict[str, list[str]] = {"Service": [r.name for r in rows], "Kind": [r.kind for r in rows]}
    classes: dict[str, list[str]] = {}
    for j, env in enumerate(envs):
        cells, kinds = [], []
        for row in rows:
            cell = row.cells[j]
            state = cell_state(cell, row.cells[j - 1] if j else None)
            cells.append(_cell_text(cell))
            kinds.append("" if state == "same" else state)
        text[env.name], classes[env.name] = cells, kinds
    notes = [row_notes(r) for r in rows]
    if any(notes):
        text["Notes"] = notes
    images = [" ".join(img for c in r.cells for s in c.services for img in s.images.values()) for r in rows]
    failures = tuple(f for e in envs if (inv := inventories.get(e.id)) for f in inv.failures)
    fetched = [inv.fetched_at for e in envs if (inv := inventories.get(e.id))]
    return ComparisonTable(
        columns=tuple(e.name for e in envs),
        text=pd.DataFrame(text, index=index),
        classes=pd.DataFrame(classes, index=index, columns=[e.name for e in envs]),
        differs=pd.Series([r.differs for r in rows], index=index, dtype=bool),
        images=pd.Series(images, index=index, dtype="str"),
        failures=failures,
        fetched_at=min(fetched) if fetched else None,
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


def digest_detail(row: ComparisonRow) -> pd.DataFrame:
    """Per environment and container: the image our last sync set, the digests running now, and the digest the
    same tag runs in the environment before it (the source of a promotion)."""
    records = []
    for j, cell in enumerate(row.cells):
        before = row.cells[j - 1] if j else None
        before_digests = dict(before.digests or ()) if before is not None else {}
        for service in cell.services:
            running = service.running.by_container if service.running else {}
            ours = service.last_sync.images if service.last_sync else {}
            promoted = service.last_sync.digests if service.last_sync else {}
            for container, image in service.images.items():
                source = ""
                if before is not None and any(display_tag(s.images.get(container, "")) == display_tag(image)
                                              for s in before.services):
                    source = ", ".join(before_digests.get(container, ())) or "not read"
                records.append({
                    "Environment": cell.environment.name, "App instance": service.instance.name,
                    "Container": container, "Tag": display_tag(image),
                    "Last promoted": promoted.get(container) or (
                        f"{display_tag(ours[container])} (digest not recorded)" if container in ours
                        else "never by this tool"),
                    "Running now": ", ".join(running.get(container, ())) or "not read",
                    "Same tag in source": source or "other tag",
                })
    return pd.DataFrame(records)


def _cell_text(cell: Cell) -> str:
    if not cell.services:
        return UNREADABLE if cell.unreadable else MISSING
    tag = cell.image_tag
    text = f"⚠ {tag}" if cell.inconsistent else tag
    status = cell.status
    return text if status in (None, "running") else f"{text} · {status}"
