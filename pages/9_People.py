"""People: who signed in, each one's role and where it comes from; admins assign or clear roles (audited) and
manage the API tokens pipelines act with."""

import streamlit as st

from ranchersync.access.identity import refusal
from ui import screen
from ui.governance import people_view, tokens_view
from ui.shell import widgets

view = screen.start("People", ":material/group:")

st.title("People")
st.caption("Everyone who signed in or was given a role. Roles: viewer reads; operator syncs and rolls back outside "
           "protected environments and requests syncs into them; releaser approves and syncs into protected "
           "environments; admin manages sites, environments, app instances, roles and freezes.")

if (why := refusal(view.actor, "manage_roles")) is not None:
    st.warning(f"Only admins see this page. {why}.", icon=":material/lock:")
    st.stop()

found = people_view.list_people()
if not found:
    widgets.empty_state("Nobody has signed in yet.", icon=":material/group:")
else:
    people_view.table(found, widgets.now())
people_view.assign_form(view.actor, found)
people_view.dialogs(view.actor)
tokens_view.section(view.actor, widgets.now())
