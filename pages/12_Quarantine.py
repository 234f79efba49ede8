"""Quarantine: images declared bad, by digest — refused in every plan on every site — with where each runs now;
quarantine one (releaser or admin, with a reason) or lift one (confirmed, audited)."""

import streamlit as st

from ui import screen
from ui.governance import quarantine_view
from ui.shell import widgets

view = screen.start("Quarantine", ":material/block:")

st.title("Quarantine")
st.caption("A quarantined digest is refused in every plan on every site and environment — resolved from a tag, "
           "pinned, or run by the source — and rollbacks to it too. Adding and lifting are audited; adding "
           "notifies `image.quarantined`.")
quarantine_view.add_form(view.actor)

active = quarantine_view.quarantines()
st.subheader(f"In force ({len(active)})", anchor=False)
if not active:
    widgets.empty_state("No image is quarantined. Quarantine a digest above, or with `python -m ranchersync "
                        "quarantine add IMAGE@sha256:… --reason R`.", icon=":material/verified_user:")
else:
    with st.spinner("Reading where each one runs (the pods' digests on every site)…"):
        running = quarantine_view.where_running(active)
    quarantine_view.active_list(view.actor, active, running, view.tz)

st.subheader("Lifted", anchor=False)
quarantine_view.lifted_table([q for q in quarantine_view.quarantines(include_lifted=True) if q.lifted_at], view.tz)

quarantine_view.show_requested(view.actor, active)
