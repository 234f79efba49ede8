"""Approvals: syncs waiting for four-eyes approval, each with the exact diff it is bound to; approve or reject with
a comment (the last approval re-checks and runs the sync); and how earlier requests ended."""

import streamlit as st

from ui import screen
from ui.governance import approval_actions, approvals_view
from ui.shell import widgets

view = screen.start("Approvals", ":material/approval:")
requests = approval_actions.list_requests(view.actor)

st.title("Approvals")
st.caption("A sync into an environment that needs approvals waits here as a request. Another person with the "
           "releaser role approves it; the last approval checks that nothing moved since the request (source "
           "digests, target workloads, freezes, the source's health) and runs the sync. Requests expire after 24 h.")

st.subheader(f"Waiting for a decision ({len(requests.pending)})", anchor=False)
if not requests.pending:
    widgets.empty_state("No sync waits for approval. Environments that need approvals are set on the Environments "
                        "page; a sync into one becomes a request here.", icon=":material/approval:")
for request in requests.pending:
    approvals_view.pending_card(view.actor, request, requests.me, view.tz)

st.subheader("Scheduled", anchor=False)
approvals_view.scheduled_section(view.actor, approval_actions.list_scheduled(), view.tz)

st.subheader("Decided", anchor=False)
if requests.decided:
    approvals_view.decided_table(requests.decided, view.tz)
else:
    st.caption("No request was decided yet.")

approvals_view.show_requested(view.actor, requests.pending)
approvals_view.show_cancel_requested(view.actor)
