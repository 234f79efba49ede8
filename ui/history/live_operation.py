"""The live page of a running operation (the history's detail while it runs): each workload's pods ready x/y, the
rollout's conditions, each service's gate measurements and soak as they come, the time it has run against its
timeout, and Terminate — roll back what changed, or keep it.
It reads the database and Rancher every second in a fragment; the operation itself runs on the server."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ranchersync import jobs
from ranchersync.access.identity import Actor
from ranchersync.kernel.textsafe import escape_markdown
from ui.history import measurements_view
from ui.shell import deps, queries, started, widgets
from ui.sync import sync_actions


@st.fragment(run_every=1.0)
def live(actor: Actor, operation_id: int, may_terminate: str | None) -> None:
    """Redrawn every second while the operation runs; once it finished, the whole page shows its record."""
    found = jobs.live_operation(deps.get_context(), operation_id, deps.client_factory())
    if not found.running:
        queries.clear_history()
        st.rerun()  # the detail above shows the finished record
        return
    timeout = started.timeout_of(operation_id)
    with st.container(border=True, key="live_operation"):
        st.markdown(f":material/progress_activity: **Running** · {jobs.elapsed_text(found.elapsed_seconds, timeout)}"
                    + (" · stopping: asked to terminate" if found.terminate_requested else ""))
        rows = [(w.service, w.where, w.status, f"{w.ready}/{w.desired}" if w.ready is not None else "—",
                 w.updated if w.updated is not None else "—", w.rollout,
                 "; ".join(f"{t}={s}" + (f" ({r})" if r else "") for t, s, r, _ in w.conditions))
                for w in found.workloads]
        st.dataframe(pd.DataFrame(rows, columns=["Service", "Where", "Status", "Pods ready", "Updated", "Rollout",
                                                 "Conditions"]),
                     hide_index=True, key="live_workloads")
        measurements_view.table(found.measurements, widgets.user_zone(), key="live_measurements")
        if found.terminate_requested:
            return
        with st.container(horizontal=True, vertical_alignment="center"):
            keep = st.toggle("Keep what changed", key="terminate_keep", disabled=may_terminate is not None,
                             help="Off: roll back every change this operation made. On: only stop waiting.")
            if st.button("Terminate", key="terminate", icon=":material/stop_circle:", type="primary",
                         disabled=may_terminate is not None,
                         help=escape_markdown(may_terminate) if may_terminate else None):
                outcome = sync_actions.terminate(actor, operation_id, keep)
                if outcome.ok:
                    widgets.flash_outcome(outcome)
                else:
                    widgets.show_outcome(outcome)
