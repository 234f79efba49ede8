"""Sync history: every sync and rollback, newest first, filtered; an operation's services with their previous and
new images, and its rollback; the delivery metrics of the period as cards and charts; CSV and JSON exports."""

import streamlit as st

from ui import screen
from ui.history import delivery_report, history_view
from ui.shell import deps, frame, queries, widgets

view = screen.start("Sync history", ":material/history:")
envs = {e.name: e for e in view.environments}
colors = {name: e.color for name, e in envs.items()}

title, downloads = st.columns([3, 2], vertical_alignment="bottom")
title.title("Sync history")
st.caption("Every sync and rollback: who started it, from where to where, and what each service ran before and "
           "after. Select an operation to see its services or roll it back.")

if deps.recover_interrupted():  # a replica that died mid-sync: its operation can be rolled back from here
    queries.clear_history()
filters = history_view.filter_bar(view.environments, view.tz)
stamp = queries.history_stamp()
metrics = queries.history_metrics(filters, stamp)
with downloads.container(horizontal=True, horizontal_alignment="right"):
    history_view.exports(filters, metrics)
    delivery_report.delivery_download(filters)
history_view.metric_cards(metrics)

operations_tab, charts_tab = st.tabs([":material/list: Operations", ":material/bar_chart: Metrics"])
with operations_tab:
    page = queries.history_page(filters, int(st.session_state.get(history_view.PAGE, 1)), stamp, view.rows_per_page)
    if page.total and not page.items:  # the history shrank under an old page number: its last page
        page = queries.history_page(filters, page.pages, stamp, view.rows_per_page)
    if not page.total:
        widgets.empty_state("No sync matches these filters. Syncs start on the Services screen, from the services "
                            "you select.", icon=":material/history:")
        st.page_link(frame.PAGES["Services"], label="Go to the services", icon=":material/arrow_forward:")
    else:
        # A selected row wins; else the operation a link (a notification's) names, wherever it is in the history.
        selected = history_view.operations_table(page, colors, view.tz)
        history_view.publish_selected(selected)  # the address names the opened operation: a link to share
        opened = selected or history_view.linked_operation()
        history_view.pager(page)
        if opened is not None:
            history_view.detail(view.actor, opened, envs, view.tz, linked=selected is None)
with charts_tab:
    history_view.charts_grid(metrics, colors)

history_view.show_requested(view.actor)
