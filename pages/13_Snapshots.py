"""Snapshots: take one of an environment, list, show and compare them; promote one to another environment or
restore an environment to one of its own, now (reviewed, one operation, all or nothing) or at a time."""

import streamlit as st

from ui import screen
from ui.shell import widgets
from ui.trains import snapshot_actions, snapshots_view

view = screen.start("Snapshots", ":material/photo_library:")
envs = view.environments

st.title("Snapshots")
st.caption("A snapshot records every service of an environment (per container: the image and the digest its pods "
           "run). Promote it to another environment as one unit, or restore its own environment to it.")
if not envs:
    widgets.empty_state("Create the environments of your pipeline first.")
    st.stop()

snapshots_view.create_form(view.actor, envs, view.environment)
automatic = st.toggle("Show the automatic snapshots taken before each sync", value=True, key="snap_automatic")
rows = snapshot_actions.list_snapshots(automatic=automatic)
if not rows:
    widgets.empty_state("No snapshot yet: take one above.", icon=":material/photo_library:")
    st.stop()
snapshots_view.snapshots_table(rows, view.tz)

names = [r.name for r in rows]
if st.session_state.get("snap_pick") not in names:
    st.session_state["snap_pick"] = names[0]
picked = st.selectbox("Snapshot", names, key="snap_pick")
snapshot = next(r for r in rows if r.name == picked)

show, cmp, put = st.tabs([":material/list: Services", ":material/compare_arrows: Compare",
                          ":material/rocket_launch: Promote or restore"])
with show:
    snapshots_view.services_of(snapshot)
with cmp:
    snapshots_view.compare_section(snapshot, rows, envs)
with put:
    snapshots_view.put_in_place_section(view.actor, snapshot, envs, view.tz)

snapshots_view.show_requested(view.actor, envs)
