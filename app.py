"""Overview: site health, the environment pipeline, the latest syncs. The first page (served by serve.py)."""

import streamlit as st

from ranchersync.catalogue.rules import TOKEN_WARNING_DAYS, token_state, unreachable_sites
from ranchersync.kernel.humanize import ago
from ranchersync.kernel.textsafe import escape_markdown
from ui import screen
from ui.catalogue import first_visit
from ui.governance import freeze_view, quarantine_view
from ui.history import history_view
from ui.services import locks_view, services_view
from ui.shell import frame, widgets

view = screen.start("Overview", ":material/space_dashboard:")
now = widgets.now()

st.title("Overview")
st.caption("Where your environments stand, and whether every Rancher site can be reached.")

if not view.sites:
    with st.container(border=True, key="get_started"):
        st.subheader(":material/rocket_launch: Get started")
        if view.actor.at_least("admin"):
            st.markdown("Connect your first Rancher server, or try every screen on the built-in demo first.")
            st.button("Connect Rancher or start the demo", key="get_started_open", type="primary",
                      on_click=first_visit.reopen_welcome)
        else:
            st.markdown("No Rancher server is connected yet: an admin connects the first one.")

active = [s for s in view.sites if s.active]
expiring = [s for s in active if token_state(s.token_expires_at, now, tested=s.tested).needs_attention]
unreachable = unreachable_sites(active)
sites_col, envs_col, instances_col, tokens_col = st.columns(4)
reach = f"{len(unreachable)} unreachable" if unreachable else "all reachable"
sites_col.metric("Sites", f"{len(active)} active", reach, delta_color="inverse" if unreachable else "off",
                 delta_arrow="off", border=True)
envs_col.metric("Environments", len(view.environments), border=True)
instances_col.metric("App instances", sum(e.instance_count for e in view.environments), border=True)
tokens_col.metric("Tokens expiring soon", len(expiring), f"within {TOKEN_WARNING_DAYS} days" if expiring else None,
                  delta_color="inverse", delta_arrow="off", border=True)

quarantined_slot = st.container()  # filled last: where quarantined images run needs every pod's digest
service_slots = {}
pipeline_col, health_col = st.columns([3, 2], gap="large")
with pipeline_col:
    st.subheader("Environment pipeline")
    if not view.environments:
        st.page_link(frame.PAGES["Environments"], label="Create your environments", icon=":material/add:")
    else:
        service_slots = widgets.pipeline_cards(view.environments, freeze_view.badges(view.environments, view.tz),
                                               locks_view.overview_badges(view.environments))
        st.page_link(frame.PAGES["Services"], label="See the services", icon=":material/arrow_forward:")

with health_col:
    st.subheader("Site health")
    if not view.sites:
        st.caption("No Rancher site yet.")
    for site in view.sites:
        with st.container(border=True, key=f"overview_site_{site.id}"):
            with st.container(horizontal=True):
                st.markdown(f"**{escape_markdown(site.name)}**")
                widgets.health_badge(site)
                widgets.token_badge(site)
            latency = f" · {site.last_latency_ms} ms" if site.last_latency_ms is not None else ""
            st.caption(f"{escape_markdown(site.rancher_user) if site.rancher_user else 'user unknown'} · last contact "
                       f"{ago(site.last_contact_at, now)}{latency}")
    st.page_link(frame.PAGES["Sites"], label="Manage sites", icon=":material/arrow_forward:")

st.subheader("Latest syncs")
history_view.latest(5, {e.name: e.color for e in view.environments}, view.tz)

with quarantined_slot:
    quarantine_view.overview_flags()
if service_slots:  # last: the rest of the page is already shown while Rancher answers
    services_view.fill_service_counts(service_slots, view.environments)
