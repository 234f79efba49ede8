"""Audit log: every change — who, when, from where, what — newest first, filtered; a CSV export and a check of the
hash chain that finds an edited or deleted event."""

import streamlit as st

from ui import screen
from ui.governance import audit_view
from ui.shell import widgets

view = screen.start("Audit log", ":material/policy:")

title, tools = st.columns([3, 2], vertical_alignment="bottom")
title.title("Audit log")
st.caption("Every change made from the dashboard or the command line, chained by SHA-256 so that an edited or "
           "deleted event is found. Times are when the change was committed.")

filters = audit_view.filter_bar(view.tz)
with tools.container(horizontal=True, horizontal_alignment="right"):
    audit_view.verify_button()
    audit_view.export(filters)
audit_view.verify_result(view.tz)

page = audit_view.events(filters, int(st.session_state.get(audit_view.PAGE, 1)))
if page.total and not page.items:  # the log shrank under an old page number (a filter change): its last page
    page = audit_view.events(filters, page.pages)
if not page.total:
    widgets.empty_state("No event matches these filters. Changes to sites, environments, freeze windows and "
                        "syncs are recorded here as they happen.", icon=":material/policy:")
else:
    audit_view.table(page, view.tz)
