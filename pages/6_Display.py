"""Display: a wall screen for a team's TV — the pipeline with its drift, running syncs, today's delivery figures and
site health — that refreshes itself. Open it with `?embed=true` for a full-screen view without the sidebar; a
viewer account is enough."""

import streamlit as st

from ui import screen
from ui.display import display_view
from ui.shell import live_refresh

view = screen.start("Display", ":material/tv:")
st.html(display_view.CSS)
if st.context.is_embedded:
    st.html(display_view.EMBEDDED_CSS)
live_refresh.remember_shown()
with st.container(key="wall"):
    st.title("Delivery pipeline")
    display_view.pipeline()
    display_view.activity(view.tz)
    display_view.site_health_row()
live_refresh.follow_inventory()  # with a collector, a rollout redraws the pipeline as it happens
