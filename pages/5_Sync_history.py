"""Sync history: every promotion and rollback (arrives with the sync issue; an honest placeholder now)."""

import streamlit as st

from ui import frame

frame.frame("Sync history", ":material/history:")

st.title("Sync history")
st.info(
    "**Coming with syncs.** This screen will list every sync and rollback: who started it, from which environment "
    "to which, and for each service the previous and the new image, with the outcome of its rollout. From here "
    "you will be able to roll a sync back, and filter by environment, status, service and date.",
    icon=":material/construction:",
)
st.page_link(frame.PAGES["Environments"], label="Meanwhile: set up the pipeline", icon=":material/arrow_forward:")
