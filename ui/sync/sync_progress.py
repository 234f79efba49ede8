"""What a sync or rollback does, drawn while it runs (one line per service and app instance, from the core's typed
events relayed to the script thread), and the sync's report after it on the Services page, until dismissed. The
report is the history's detail of the operation: the same read model as the Sync history screen."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ranchersync.history import OperationDetail
from ranchersync.kernel.humanize import plural, status_word
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.sync import ProgressEvent, Stage
from ui.shell import frame
from ui.shell.outcome import Outcome

REPORT = "sync_report"  # the last operation's report, shown on the Services page until dismissed
# An icon for each stage of the core's closed vocabulary (`done` is about the operation: it draws no line).
STAGE_ICONS: dict[Stage, str] = {
    "planned": ":gray[:material/schedule:]",
    "applying": ":blue[:material/sync:]",
    "applied": ":blue[:material/done:]",
    "verifying": ":blue[:material/hourglass_top:]",
    "success": ":green[:material/check_circle:]",
    "failed": ":red[:material/error:]",
    "skipped": ":orange[:material/skip_next:]",
    "rolling_back": ":violet[:material/undo:]",
    "rolled_back": ":violet[:material/undo:]",
    "rollback_failed": ":red[:material/error:]",
}


def stage_markdown(event: ProgressEvent) -> str:
    """One service's progress line: its stage's icon, the service → its app instance, the stage's words and why."""
    note = f": {escape_markdown(event.note)}" if event.note else ""
    return (f"{STAGE_ICONS.get(event.stage, '')} **{escape_markdown(event.service)}** → "
            f"{escape_markdown(event.target)}: {event.words}{note}")


class Progress:
    """Draws an operation's progress, one line per (service, app instance), from events relayed in the script
    thread; the services known beforehand (a plan's) are listed at once, as planned."""

    def __init__(self, slot: DeltaGenerator, label: str, planned: Iterable[tuple[str, str]] = ()) -> None:
        self.status = slot.status(label, expanded=True)
        self.lines: dict[tuple[str, str], DeltaGenerator] = {}
        for service, target in planned:
            self._draw(ProgressEvent(0, service, target, "planned"))

    def __call__(self, event: ProgressEvent) -> None:
        # The core names every stage, the automatic rollback's included: nothing to guess from the event order.
        if event.stage != "done":
            self._draw(event)

    def _draw(self, event: ProgressEvent) -> None:
        self.lines.setdefault((event.service, event.target), self.status.empty()).markdown(stage_markdown(event))

    def finish(self, report: OperationDetail | Outcome, *, not_done: str) -> None:
        """The box's last label: the operation and how it ended, or `not_done` when it was refused."""
        if isinstance(report, OperationDetail):
            kind = "Rollback" if report.kind == "rollback" else "Sync"
            self.status.update(label=f"{kind} #{report.id}: {status_word(report.status)}",
                               state="complete" if report.ok else "error")
        else:
            self.status.update(label=not_done, state="error")


# ---- the report -------------------------------------------------------------------------------------------------

_REPORT_KIND = {"complete": "success", "partial": "warning"}


def keep_report(report: OperationDetail) -> None:
    """Show this report on the Services page from the next run on (session state only)."""
    st.session_state[REPORT] = report


def show_report() -> None:
    """The last sync's outcome with each service's result, until dismissed."""
    report: OperationDetail | None = st.session_state.get(REPORT)
    if report is None:
        return
    with st.container(border=True, key="sync_report"):
        kind = _REPORT_KIND.get(report.status, "error")
        source, target = escape_markdown(report.source_environment), escape_markdown(report.target_environment)
        headline = (f"**Sync #{report.id} {source} → {target}: {status_word(report.status)}** · "
                    f"{plural(report.updated, 'workload')} updated")
        icon = {"success": ":material/check_circle:", "warning": ":material/warning:"}.get(kind, ":material/error:")
        getattr(st, kind)(headline, icon=icon)
        st.dataframe(
            pd.DataFrame(
                [(r.service, r.target_label, r.status,
                  f"{r.previous_tag} → {r.new_tag}" if r.previous_tag and r.new_tag else "", r.error or "")
                 for r in report.results],
                columns=["Service", "App instance", "Result", "Change", "Note"],
            ),
            hide_index=True, key="sync_report_table",
            column_config={"Note": st.column_config.TextColumn(width="large")},
        )
        with st.container(horizontal=True):
            st.page_link(frame.PAGES["Sync history"], label="Open the sync history", icon=":material/history:")
            st.button("Dismiss", key="sync_report_dismiss", on_click=_dismiss_report)


def _dismiss_report() -> None:
    st.session_state.pop(REPORT, None)
