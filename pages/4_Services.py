"""Services: the workloads of the selected environment (arrives with the next issue; an honest placeholder now)."""

import streamlit as st

from ui import format as fmt
from ui import frame, queries, widgets

view = frame.frame("Services", ":material/apps:")

st.title("Services")
st.info(
    "**Coming next.** This screen will list the services (Deployments, StatefulSets, DaemonSets) of the selected "
    "environment across its app instances: status, images, replicas and readiness, read live from Rancher — and "
    "compare them side by side with the other environments of the pipeline, so you can see what differs and "
    "promote it.",
    icon=":material/construction:",
)

env = view.environment
if env is None:
    st.markdown("Until then, set up what it will read: **sites**, the **environments** of the pipeline, and the "
                "**app instances** that make up each environment.")
    st.page_link(frame.PAGES["Environments"], label="Create the pipeline", icon=":material/arrow_forward:")
else:
    rows = queries.instances(env.id)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"For **{env.name}** it will read {fmt.plural(len(rows), 'app instance')}:")
        widgets.chip(env)
    if rows:
        st.markdown("\n".join(f"- **{r.name}**: {r.site_name} · `{r.cluster_name}/{r.namespace}`" for r in rows))
    else:
        st.caption("None yet: map namespaces to this environment on the App instances page.")
    st.page_link(frame.PAGES["App instances"], label="Manage app instances", icon=":material/arrow_forward:")
