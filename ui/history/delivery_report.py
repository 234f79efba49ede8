"""The delivery report's download on the Sync history screen (built by ranchersync.reports)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from ranchersync import reports
from ranchersync.history import HistoryFilter
from ui.shell import deps


def delivery_download(filters: HistoryFilter) -> None:
    """The delivery report of the filtered period (the last 30 days without one) as one HTML file."""
    until = filters.until or dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) + \
        dt.timedelta(days=1)
    since = filters.since or until - dt.timedelta(days=30)

    def build() -> str:
        with deps.get_context().session() as session:
            return reports.delivery_html(session, since, until)

    st.download_button("Delivery report", build, file_name=f"delivery-{since:%Y-%m-%d}-{until:%Y-%m-%d}.html",
                       mime="text/html", key="hist_delivery", icon=":material/monitoring:",
                       help="The period's delivery measures, charts and operations as one HTML file that opens "
                            "without a network.")
