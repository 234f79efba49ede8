"""Sites: the Rancher servers, their tokens and how they answered; add, edit, test, deactivate, remove."""

import streamlit as st

from ranchersync.access.identity import refusal
from ranchersync.catalogue.rules import TOKEN_WARNING_DAYS, site_health
from ranchersync.kernel.humanize import ago, plural
from ranchersync.kernel.textsafe import escape_markdown
from ui import screen
from ui.catalogue import catalogue_actions, site_dialogs
from ui.shell import format as fmt
from ui.shell import widgets

view = screen.start("Sites", ":material/dns:")
now = widgets.now()
locked = refusal(view.actor, "manage_catalogue")  # why this person may not change sites (the core refuses too)

title, add = st.columns([4, 1], vertical_alignment="bottom")
title.title("Sites")
title.caption("The Rancher servers this tool reaches, and the API token it uses for each (stored encrypted).")
add.button("Add site", key="site_add", type="primary", icon=":material/add:", width="stretch",
           on_click=widgets.open_dialog, args=("add_site",), disabled=bool(locked), help=locked)

if not view.sites:
    widgets.empty_state("No Rancher site yet. Add one to start: its connection is tested before it is saved.")

for site in view.sites:
    with st.container(border=True, key=f"site_card_{site.id}"):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"#### {escape_markdown(site.name)}", anchors=False, width="content")
            st.markdown(escape_markdown(site.url))
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            widgets.health_badge(site)
            widgets.token_badge(site)
            widgets.tls_badge(site)
            st.badge(plural(site.instance_count, "app instance"), color="gray", icon=":material/deployed_code:")
        latency = f" · {site.last_latency_ms} ms" if site.last_latency_ms is not None else ""
        contact = fmt.when(site.last_contact_at, view.tz, empty="never")
        expiry = f" · token expires {fmt.when(site.token_expires_at, view.tz)}" if site.token_expires_at else ""
        user = escape_markdown(site.rancher_user) if site.rancher_user else "Rancher user not known yet"
        st.caption(f":material/person: {user} · last successful contact "
                   f"{ago(site.last_contact_at, now)} ({contact}){latency}{expiry}")
        if site.last_error and site_health(site) == "unreachable":
            st.caption(f":red[:material/error: Last test: {escape_markdown(site.last_error)}]")
        with st.container(horizontal=True):
            if st.button("Test connection", key=f"site_test_{site.id}", icon=":material/cable:",
                         disabled=not site.active):
                with st.spinner(f"Testing the connection to {escape_markdown(site.name)}…"):
                    widgets.flash_outcome(site_dialogs.test_site(site.id))
                st.rerun()
            st.button("Edit", key=f"site_edit_{site.id}", icon=":material/edit:", disabled=bool(locked), help=locked,
                      on_click=widgets.open_dialog, args=("edit_site",), kwargs={"site_id": site.id})
            if st.button("Deactivate" if site.active else "Activate", key=f"site_active_{site.id}",
                         icon=":material/pause:" if site.active else ":material/play_arrow:", disabled=bool(locked),
                         help=locked):
                widgets.flash_outcome(catalogue_actions.set_site_active(view.actor, site.id, not site.active))
                st.rerun()
            st.button("Remove", key=f"site_remove_{site.id}", icon=":material/delete:", disabled=bool(locked),
                      help=locked, on_click=widgets.open_dialog, args=("remove_site",), kwargs={"site_id": site.id})

st.caption(f"Times in {fmt.zone_label(view.tz)}. A token shows a warning {TOKEN_WARNING_DAYS} days before it expires.")
site_dialogs.show_requested(view.actor)
