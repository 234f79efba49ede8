"""App instances: the namespaces that make up each environment; add through Rancher pickers, edit, move, remove."""

import pandas as pd
import streamlit as st

from ranchersync.access.identity import refusal
from ranchersync.catalogue.rules import unreachable_sites
from ranchersync.kernel.humanize import plural
from ranchersync.kernel.textsafe import escape_markdown
from ui import screen
from ui.catalogue import instance_dialogs
from ui.shell import format as fmt
from ui.shell import frame, queries, widgets

view = screen.start("App instances", ":material/deployed_code:")
locked = refusal(view.actor, "manage_catalogue")  # why this person may not change app instances

title, add = st.columns([4, 1], vertical_alignment="bottom")
title.title("App instances")
title.caption("Each app instance is one namespace of one cluster of one site, mapped to an environment.")
add.button("Add app instance", key="inst_add", type="primary", icon=":material/add:", width="stretch",
           on_click=widgets.open_dialog, args=("add_instance",),
           disabled=not view.environments or not any(s.active for s in view.sites) or bool(locked), help=locked)

if not view.environments or not view.sites:
    missing = "an environment" if not view.environments else "a Rancher site"
    widgets.empty_state(f"Add {missing} first: an app instance belongs to both.")
    st.page_link(frame.PAGES["Environments" if not view.environments else "Sites"], label=f"Add {missing}",
                 icon=":material/arrow_forward:")
    instance_dialogs.show_requested(view.actor)
    st.stop()

frame.environment_picker("Environment", "inst_env", view.environments, segmented=True)
env = view.environment
assert env is not None  # there is at least one environment
rows = queries.instances(env.id)

st.subheader(f"{escape_markdown(env.name)}: {plural(len(rows), 'app instance')}")
down = sorted({r.site_name for r in rows} & {s.name for s in unreachable_sites(view.sites)})
if down:
    st.warning(f"{escape_markdown(', '.join(down))} could not be reached at the last connection test: the list "
               "below is what is stored, and adding needs Rancher to answer.", icon=":material/cloud_off:")
if not rows:
    widgets.empty_state(f"{env.name} has no app instance yet. Add one: pick a site, a cluster and a namespace.")
else:
    table = pd.DataFrame(
        {
            "Name": [r.name for r in rows],
            "Site": [r.site_name + ("" if r.site_active else " (deactivated)") for r in rows],
            "Cluster": [r.cluster_name for r in rows],
            "Cluster ID": [r.cluster_id for r in rows],
            "Namespace": [r.namespace for r in rows],
            "Added": [fmt.when(r.created_at, view.tz) for r in rows],
        }
    )
    event = st.dataframe(table, hide_index=True, key=f"inst_table_{env.id}", on_select="rerun",
                         selection_mode="single-row")
    picked = [rows[i].id for i in event.selection.rows if i < len(rows)]  # positions → ids at once
    chosen = picked[0] if picked else None
    with st.container(horizontal=True):
        st.button("Edit or move", key="inst_edit", icon=":material/edit:", disabled=chosen is None or bool(locked),
                  help=locked, on_click=widgets.open_dialog, args=("edit_instance",), kwargs={"instance_id": chosen})
        st.button("Remove", key="inst_remove", icon=":material/delete:", disabled=chosen is None or bool(locked),
                  help=locked, on_click=widgets.open_dialog, args=("remove_instance",), kwargs={"instance_id": chosen})
        st.caption("Select a row to edit, move or remove it." if chosen is None else "")

instance_dialogs.show_requested(view.actor)
