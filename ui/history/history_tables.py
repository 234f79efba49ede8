"""The Sync history screen's tables, built from the core's history records: pure pandas, no Streamlit.

The operations table is indexed by operation id, so a dataframe selection (by row position) maps to an id at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import pandas as pd
from pandas.io.formats.style import Styler

from ranchersync.history import OperationDetail, OperationSummary, ResultView
from ranchersync.inventory.reading import display_tag
from ranchersync.kernel.humanize import duration_text, status_word
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.registry import Changelog
from ranchersync.sync import rollback_candidates, rollback_refusal
from ui.shell import format as fmt

OPERATION_COLUMNS = ("Status", "Kind", "From", "To", "Services", "By", "Started", "Duration")
RESULT_COLUMNS = ("Status", "Service", "Where", "Container", "Previous", "New", "Error")

# Operation and result statuses, and their colours: mid tones that read on the light and the dark theme.
STATUS_HEX = {
    "complete": "#21A366", "success": "#21A366", "partial": "#E8890C", "failed": "#E5484D", "interrupted": "#E5484D",
    "rolled_back": "#9D7CE0", "running": "#3B82F6", "pending": "#8B8D98", "skipped": "#8B8D98",
}
BADGE_COLOR = {
    "complete": "green", "success": "green", "partial": "orange", "failed": "red", "interrupted": "red",
    "rolled_back": "violet", "running": "blue", "pending": "gray", "skipped": "gray",
}
BADGE_ICON = {
    "complete": ":material/check_circle:", "success": ":material/check_circle:", "partial": ":material/warning:",
    "failed": ":material/error:", "interrupted": ":material/pause_circle:", "rolled_back": ":material/undo:",
    "running": ":material/sync:", "pending": ":material/schedule:", "skipped": ":material/skip_next:",
}
def operations_frame(items: Sequence[OperationSummary], tz: dt.tzinfo) -> pd.DataFrame:
    """One row per operation, newest first (the core's order), indexed by operation id."""
    return pd.DataFrame(
        {
            "Status": [fmt.status_text(status_word(o.status)) for o in items],
            "Kind": ["↩ rollback" if o.kind == "rollback" else "sync" for o in items],
            "From": [o.source_environment for o in items],
            "To": [o.target_environment for o in items],
            "Services": [_services(o) for o in items],
            "By": [o.initiated_by for o in items],
            "Started": [fmt.when(o.started_at or o.created_at, tz) for o in items],
            "Duration": [duration_text(o.duration_seconds) for o in items],
        },
        index=pd.Index([o.id for o in items], name="#"),
        columns=list(OPERATION_COLUMNS),
    )


def _services(operation: OperationSummary) -> str:
    names = operation.services
    listed = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    return f"{len(names)} · {listed}" if names else "0"


def style_operations(frame: pd.DataFrame, colors: Mapping[str, str]) -> Styler:
    """Environments in their colours (the chips of the other screens), statuses as coloured dots."""
    dots = {fmt.status_text(status_word(s)): f"color: {hex_}; font-weight: 600" for s, hex_ in STATUS_HEX.items()}
    chips = {name: f"background-color: {color}; color: {fmt.text_color_for(color)}; font-weight: 600"
             for name, color in colors.items()}
    styler = frame.style.apply(lambda column: column.map(dots).fillna(""), subset=["Status"])
    return styler.apply(lambda column: column.map(chips).fillna(""), subset=["From", "To"])


def id_at(frame: pd.DataFrame, rows: Iterable[int]) -> int | None:
    """The operation id of the first selected row position, if it is still on the page."""
    for position in rows:
        if 0 <= position < len(frame):
            return int(frame.index[position])
    return None


def results_frame(detail: OperationDetail) -> pd.DataFrame:
    """One row per container of each service: where it ran, previous → new image, status and error."""
    rows = []
    for result in detail.results:
        for name, previous, new in _containers(result):
            rows.append((fmt.status_text(status_word(result.status)), f"{result.service} ({result.workload_kind})",
                         result.location, name, previous or "—",
                         new or "—", result.error or ""))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def _containers(result: ResultView) -> list[tuple[str, str | None, str | None]]:
    if not result.containers:  # skipped before anything was planned
        return [("—", result.previous_image, result.new_image)]
    return [(f"{c.name} (init)" if c.init else c.name, c.previous, c.new) for c in result.containers]


def changelog_lines(detail: OperationDetail) -> list[str]:
    """Per changed container whose operation recorded them: the changelog ("commits a1b2c3d → e4f5a6b", a compare
    link, the build dates, or "no labels") and the digest promoted, as escaped Markdown lines."""
    lines = []
    for result in detail.results:
        for c in result.containers:
            if c.changelog is None and not c.new_digest:
                continue
            facts = []
            log = c.changelog or {}
            if c.changelog is not None:
                facts.append(escape_markdown(_sentence(log)))
            url = log.get("compareUrl")
            if isinstance(url, str) and url.startswith(("https://", "http://")):
                facts.append(f"[compare]({quote(url, safe=_URL_SAFE)})")
            if c.new_digest:
                facts.append(f"digest `{c.new_digest}`")
            if c.source_digest and c.new_digest and c.source_digest != c.new_digest:
                facts.append(f"the tag had moved: the source ran `{c.source_digest}`")
            lines.append(f"**{escape_markdown(result.service)}** ({escape_markdown(result.location)}, "
                         f"{escape_markdown(c.name)}): " + " · ".join(facts))
    return lines


_URL_SAFE = ":/?#@!$&'*+,;=%-._~"  # brackets and spaces encoded: a label's URL cannot end the Markdown link


def _sentence(log: Mapping[str, Any]) -> str:
    """The recorded changelog payload in the review's words (the link apart)."""
    def text(key: str) -> str | None:
        value = log.get(key)
        return str(value) if value else None

    return Changelog(text("fromRevision"), text("toRevision"), text("source"), text("compareUrl"),
                     text("fromVersion"), text("toVersion"), text("fromCreated"),
                     text("toCreated")).sentence(link=False)


def style_results(frame: pd.DataFrame) -> Styler:
    """Colour the status dots."""
    dots = {fmt.status_text(status_word(s)): f"color: {hex_}; font-weight: 600" for s, hex_ in STATUS_HEX.items()}
    return frame.style.apply(lambda column: column.map(dots).fillna(""), subset=["Status"])


def rollback_rows(detail: OperationDetail) -> pd.DataFrame:
    """What a rollback of this operation will change: each container from the image the operation set back to the
    one it replaced, for the services the core's rollback takes."""
    rows = [
        (r.service, r.location, f"{c.name} (init)" if c.init else c.name,
         c.new or "—", c.previous or "—")
        for r in rollback_candidates(detail.results)
        for c in r.containers
    ]
    return pd.DataFrame(rows, columns=["Service", "Where", "Container", "Now", "Back to"])


def can_roll_back(detail: OperationDetail) -> tuple[bool, str]:
    """Whether the core will accept a rollback of this operation, and why not (the core's own rule)."""
    refusal = rollback_refusal(detail.status, detail.results)
    return (False, f"This operation {refusal}.") if refusal else (True, "")


def change_text(previous: str | None, new: str | None) -> str:
    """'3.8.0 → 3.8.1'."""
    return f"{display_tag(previous) if previous else '—'} → {display_tag(new) if new else '—'}"
