"""What a sync operation does, drawn while it runs (one line per target workload, from events relayed to the
script thread) and reported after it on the Services page, until dismissed."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ranchersync.humanize import plural
from ranchersync.inventory import display_tag
from ranchersync.sync import ProgressEvent, SyncPlan, stage_words
from ranchersync.textsafe import escape_markdown
from ui import frame
from ui.actions import Outcome, SyncReport

REPORT = "sync_report"  # the last operation's report, shown on the Services page until dismissed
_STAGES = {
    "waiting": ":gray[:material/schedule:]",
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


class Progress:
    """Draws the operation's progress, one line per target workload, from events relayed in the script thread."""

    def __init__(self, plan: SyncPlan, slot: DeltaGenerator) -> None:
        self.plan = plan
        target = escape_markdown(plan.target.name)
        self.status = slot.status(f"Applying {plural(len(plan.to_apply), 'change')} to {target}…",
                                  expanded=True)
        self.lines = {(item.name, item.target_label): self.status.empty() for item in plan.to_apply}
        for service, target_label in self.lines:
            self._draw(service, target_label, "waiting", "")

    def __call__(self, event: ProgressEvent) -> None:
        # The core names every stage, the automatic rollback's included: nothing to guess from the event order.
        self._draw(event.service, event.target, event.stage, event.note)

    def _draw(self, service: str, target: str, stage: str, note: str) -> None:
        line = self.lines.get((service, target))
        if line is not None:
            text = f": {escape_markdown(note)}" if note else ""
            line.markdown(f"{_STAGES.get(stage, '')} **{escape_markdown(service)}** → {escape_markdown(target)}: "
                          f"{stage_words(stage)}{text}")

    def finish(self, report: SyncReport | Outcome) -> None:
        ok = isinstance(report, SyncReport) and report.ok
        label = f"Sync #{report.operation_id}: {report.status}" if isinstance(report, SyncReport) else "Not applied"
        self.status.update(label=label, state="complete" if ok else "error")


# ---- the report -------------------------------------------------------------------------------------------------

_REPORT_KIND = {"complete": "success", "partial": "warning"}


def keep_report(report: SyncReport) -> None:
    """Show this report on the Services page from the next run on (session state only)."""
    st.session_state[REPORT] = report


def show_report() -> None:
    """The last sync's outcome with each service's result, until dismissed."""
    report: SyncReport | None = st.session_state.get(REPORT)
    if report is None:
        return
    with st.container(border=True, key="sync_report"):
        kind = _REPORT_KIND.get(report.status, "error")
        source, target = escape_markdown(report.source), escape_markdown(report.target)
        headline = (f"**Sync #{report.operation_id} {source} → {target}: "
                    f"{report.status.replace('_', ' ')}** · {plural(report.changed, 'workload')} updated")
        icon = {"success": ":material/check_circle:", "warning": ":material/warning:"}.get(kind, ":material/error:")
        getattr(st, kind)(headline, icon=icon)
        st.dataframe(
            pd.DataFrame(
                [(line.service, line.target, line.status, _change(line.previous, line.new), line.note)
                 for line in report.lines],
                columns=["Service", "App instance", "Result", "Change", "Note"],
            ),
            hide_index=True, key="sync_report_table",
            column_config={"Note": st.column_config.TextColumn(width="large")},
        )
        with st.container(horizontal=True):
            st.page_link(frame.PAGES["Sync history"], label="Open the sync history", icon=":material/history:")
            st.button("Dismiss", key="sync_report_dismiss", on_click=_dismiss_report)


def _change(previous: str, new: str) -> str:
    """'3.8.0 → 3.8.1': the tags an operator reads (the full images are in the sync history)."""
    return f"{display_tag(previous)} → {display_tag(new)}" if previous and new else ""


def _dismiss_report() -> None:
    st.session_state.pop(REPORT, None)
