"""The drift report on the Services screen: what waits for promotion, and since when (built by
ranchersync.reports)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from ranchersync import reports
from ranchersync.inventory import compare
from ranchersync.inventory import reading as inventory
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.reports.drift import DriftReport, Format, history_since
from ui.shell import deps, queries, widgets
from ui.shell import format as fmt


def drift_report(compare_by: compare.CompareBy) -> DriftReport:
    """The drift report of the whole pipeline, from the cached inventories and the history."""
    envs = queries.environments()
    ids = tuple(e.id for e in envs)
    found = queries.inventories(ids, queries.catalogue_stamp(ids), queries.services_refresh())
    refs = [inventory.EnvironmentRef(e.id, e.name, e.color, e.position) for e in envs]
    with deps.get_context().session() as session:
        return reports.drift_report(compare.compare(refs, found, compare_by=compare_by), history_since(session),
                                    dt.datetime.now(dt.UTC))


def drift_section(compare_by: compare.CompareBy) -> None:
    """What waits for promotion between neighbouring environments, since when; versions that differ inside one."""
    st.divider()
    if not st.toggle("Drift report: what waits for promotion, and since when", key="drift_show"):
        return
    try:
        report = drift_report(compare_by)
    except RancherSyncError as error:
        widgets.empty_state(f"The drift report needs every environment: {error}")
        return
    with st.container(key="drift_report"):
        _drift(report)


def _drift(report: DriftReport) -> None:
    with st.container(horizontal=True, horizontal_alignment="right"):
        forms: tuple[tuple[Format, str, str], ...] = (
            ("md", "Markdown", "text/markdown"), ("csv", "CSV", "text/csv"), ("json", "JSON", "application/json"))
        for form, label, mime in forms:
            st.download_button(label, reports.render_drift(report, form), file_name=f"drift-report.{form}",
                               mime=mime, key=f"drift_{form}", icon=":material/download:")
    if not report.pending:
        widgets.empty_state("Nothing waits: neighbouring environments run the same versions.")
    else:
        st.dataframe(pd.DataFrame({
            "From → to": [f"{p.source} → {p.target}" for p in report.pending],
            "Service": [p.service for p in report.pending],
            "Source runs": [p.source_version for p in report.pending],
            "Target runs": [p.target_version or "missing" for p in report.pending],
            "Ahead since": [fmt.DATE_PATTERN.get() and p.ahead_since.strftime(fmt.DATE_PATTERN.get())
                            if p.ahead_since else "before the history" for p in report.pending],
        }), hide_index=True, width="stretch", key="drift_table",
            column_config={"Ahead since": st.column_config.TextColumn(
                help="When the source got its version by a sync (before the history: it came another way, such "
                     "as a CI deploy, or before the records began)")})
    if report.inconsistent:
        st.caption("Different versions inside one environment: " + "; ".join(
            f"{i.environment}: {i.service} ({' | '.join(i.versions)})" for i in report.inconsistent))
