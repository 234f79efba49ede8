"""Services: the workloads of an environment, read live from Rancher, or several environments side by side; select
services and review a sync from one environment to another."""

import streamlit as st

from ranchersync.kernel.errors import RancherSyncError
from ui import screen
from ui.governance import freeze_view
from ui.services import drift_report, locks_view, services_view
from ui.shell import frame, live_refresh, queries, url_state, widgets
from ui.sync import sync_dialog

view = screen.start("Services", ":material/apps:")
envs = view.environments

title, switch = st.columns([3, 2], vertical_alignment="bottom")
title.title("Services")
st.caption("Deployments, StatefulSets and DaemonSets, from the collector's watches or read from Rancher; select "
           "services to promote them.")
freeze_view.frozen_row(envs, view.tz)
if not envs:
    widgets.empty_state("Create the environments of your pipeline first, then map namespaces to them.")
    st.page_link(frame.PAGES["Environments"], label="Create the pipeline", icon=":material/arrow_forward:")
    st.stop()

# A segmented control rather than tabs: tabs would run both views, and each reads Rancher.
views = {"table": ":material/table_rows: One environment", "compare": ":material/compare_arrows: Compare"}
url_state.bind("svc_view", "view", url_state.one_of({v: v for v in views}), "table")
with switch.container(horizontal=True, horizontal_alignment="right"):
    shown = st.segmented_control("View", list(views), format_func=views.__getitem__, required=True,
                                 key="svc_view", label_visibility="collapsed")
url_state.publish("view", None if shown == "table" else shown)
frame.publish_environment(view.environment)  # the sidebar's: the one shown, or the comparison's sync target
live_refresh.remember_shown()  # before the reads: a change stored while they run shows at the next poll

if shown == "compare":
    for param in ("status", "kind", "instance"):  # the one-environment filters: not this view's
        url_state.publish(param, None)
    compared, selected = services_view.comparison(envs, view.tz, view.compare_by)
    picked = [e for e in envs if e.id in compared]
    # The sidebar's environment is among the compared ones (services_view.comparison keeps them agreeing): the
    # sync bar's default brings the environment before it into it.
    selected_id = view.environment.id if view.environment else None
    sync_dialog.sync_bar(view.actor, selected, picked, prefix="cmp", default_target=selected_id)
else:
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    with left:
        frame.environment_picker("Environment", "svc_env", envs, segmented=True)
    env = view.environment
    assert env is not None  # there is at least one environment
    if not queries.instances(env.id):
        widgets.empty_state(f"{env.name} has no app instance yet: map a namespace to it to see its services.")
        st.page_link(frame.PAGES["App instances"], label="Add an app instance", icon=":material/arrow_forward:")
        st.stop()
    try:
        found = services_view.environment_table(env.id, view.tz)
    except RancherSyncError as error:
        services_view.read_failed(error)
        st.stop()
    with right:
        services_view.data_bar(found.source, found.observed_at, found.stale, found.fetched_at, view.tz, "svc_refresh")
    services_view.failures_warning(found.failures)
    held = locks_view.panel(view.actor, env, list(found.names), view.tz)
    selected = services_view.services_table(env, found, held)
    sync_dialog.sync_bar(view.actor, selected, envs, prefix="svc", source=env)

drift_report.drift_section(view.compare_by)
sync_dialog.show_requested(view.actor)
locks_view.show_requested(view.actor, envs)
live_refresh.follow_inventory()
