"""The app instance dialogs: add through pickers fed from Rancher, edit or move, remove."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from ranchersync.access.identity import Actor
from ranchersync.catalogue.rules import namespaces_for_picking
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.kernel.validation import NAME_MAX_LENGTH
from ui.catalogue import catalogue_actions
from ui.shell import queries, widgets
from ui.shell.frame import SELECTED_ENVIRONMENT, select_environment
from ui.shell.outcome import Outcome
from ui.shell.queries import InstanceRow

T = TypeVar("T")
_OTHER_NAMESPACE = "\x00other"  # cannot be a namespace name


def _from_rancher(load: Callable[[], T]) -> T | None:
    """Run a cached Rancher read; on failure explain it in place and return None (the rest stays usable)."""
    try:
        return load()
    except RancherSyncError as error:
        widgets.show_outcome(Outcome.failed(error))
        return None


@st.dialog("Add an app instance", width="medium", on_dismiss=widgets.close_dialog)
def add_instance(actor: Actor) -> None:
    """Pick site → cluster → namespace from Rancher, name it, and put it in an environment."""
    envs = {e.id: e.name for e in queries.environments()}
    sites = {s.id: s for s in queries.sites() if s.active}
    if not envs or not sites:
        st.info("Add an environment and an active site first.", icon=":material/info:")
        return
    default_env = st.session_state.get(SELECTED_ENVIRONMENT)
    env_id = st.selectbox(
        "Environment", list(envs), format_func=envs.__getitem__, key="add_inst_env",
        index=list(envs).index(default_env) if default_env in envs else 0,
    )
    site_id = st.selectbox("Site", list(sites), format_func=lambda i: sites[i].name, key="add_inst_site")
    site = sites[site_id]
    cluster_col, reload_col = st.columns([5, 1], vertical_alignment="bottom")
    if reload_col.button("Reload", key="add_inst_reload", icon=":material/refresh:", help="Ask Rancher again"):
        queries.clear_rancher()
    with cluster_col:
        clusters = _from_rancher(lambda: queries.rancher_clusters(site.id, site.stamp))
    if clusters is None:
        st.caption("What is stored stays usable; add the app instance once Rancher answers.")
        return
    if not clusters:
        st.warning(f"The token of {escape_markdown(site.name)} sees no cluster.", icon=":material/warning:")
        return
    by_id = {c.id: c for c in clusters}
    cluster_id = cluster_col.selectbox(
        "Cluster", list(by_id), key=f"add_inst_cluster_{site_id}",
        format_func=lambda c: f"{by_id[c].name} ({c})" + ("" if by_id[c].state == "active" else f" — {by_id[c].state}"),
    )
    namespaces = _from_rancher(lambda: queries.rancher_namespaces(site.id, site.stamp, cluster_id))
    if namespaces is None:
        return
    options = namespaces_for_picking([n.name for n in namespaces]) + [_OTHER_NAMESPACE]
    picked = st.selectbox(
        "Namespace", options, index=None, key=f"add_inst_ns_{site_id}_{cluster_id}",
        format_func=lambda n: "Another namespace (type its name)…" if n == _OTHER_NAMESPACE else n,
        placeholder="Pick a namespace",
    )
    fields = widgets.FieldSlots("add_inst")
    namespace = picked
    created_later = False
    if picked == _OTHER_NAMESPACE:
        namespace = st.text_input(
            "Namespace name", key="add_inst_ns_new", placeholder="e.g. shop-canary", max_chars=63,
            help="A namespace Rancher does not list is refused, unless you say it will be created later.",
        ).strip()
        fields.under("namespace")  # right under what was typed, above the way out
        created_later = st.checkbox(
            "It will be created later", key="add_inst_ns_later",
            help="Save it although the namespace does not exist yet: it shows no services until it is created.",
        )
    else:
        fields.under("namespace")
    name = st.text_input(
        "Display name", key="add_inst_name", placeholder=namespace or "defaults to the namespace",
        max_chars=NAME_MAX_LENGTH,
        help="How the app instance is shown; unique within its environment.",
    )
    fields.under("name")
    if widgets.dialog_buttons("Add app instance", "add_inst_save", "add_inst_cancel", icon=":material/add:"):
        if not namespace:
            fields.show(Outcome(False, "Pick or type a namespace.", title="Please check the form",
                                fields={"namespace": "pick or type a namespace"}))
            return
        with st.spinner("Checking the placement with Rancher…"):
            outcome = catalogue_actions.add_instance(
                actor,
                name=name or namespace, site_id=site_id, environment_id=env_id, cluster_id=cluster_id,
                namespace=namespace, created_later=created_later,
            )
        if outcome.ok:
            select_environment(env_id)  # show the new app instance where it went
        widgets.finish(outcome, fields)


@st.dialog("Edit or move an app instance", on_dismiss=widgets.close_dialog)
def edit_instance(actor: Actor, instance: InstanceRow) -> None:
    """Rename an app instance or move it to another environment."""
    envs = {e.id: e.name for e in queries.environments()}
    md = escape_markdown
    st.markdown(f"**{md(instance.site_name)}** · {md(instance.cluster_name)}/{md(instance.namespace)}")
    key = f"edit_inst_{instance.id}"
    fields = widgets.FieldSlots(key)
    name = st.text_input("Display name", value=instance.name, key=f"{key}_name", max_chars=NAME_MAX_LENGTH)
    fields.under("name")
    env_id = st.selectbox(
        "Environment", list(envs), index=list(envs).index(instance.environment_id), format_func=envs.__getitem__,
        key=f"{key}_env", help="Moving changes which environment's services it contributes to.",
    )
    if widgets.dialog_buttons("Save", "edit_inst_save", "edit_inst_cancel", icon=":material/save:"):
        widgets.finish(catalogue_actions.update_instance(actor, instance.id, name=name, environment_id=env_id),
                       fields)


@st.dialog("Remove app instance", on_dismiss=widgets.close_dialog)
def remove_instance(actor: Actor, instance: InstanceRow) -> None:
    """Confirm forgetting one app instance."""
    md = escape_markdown
    st.markdown(
        f"Remove **{md(instance.name)}** from **{md(instance.environment_name)}**?\n\n"
        f"- Site: {md(instance.site_name)}\n- Cluster: {md(instance.cluster_name)} ({md(instance.cluster_id)})\n"
        f"- Namespace: {md(instance.namespace)}"
    )
    st.caption("Only the mapping is removed: the workloads in the namespace are not touched.")
    if widgets.dialog_buttons("Remove app instance", "remove_inst_confirm", "remove_inst_cancel"):
        widgets.finish(catalogue_actions.remove_instance(actor, instance.id))


def show_requested(actor: Actor) -> None:
    """Open whichever app instance dialog a button asked for."""
    if widgets.requested_dialog("add_instance") is not None:
        add_instance(actor)
        return
    for name, dialog in (("edit_instance", edit_instance), ("remove_instance", remove_instance)):
        request = widgets.requested_dialog(name)
        if request is None:
            continue
        instance = next((i for i in queries.instances() if i.id == request["instance_id"]), None)
        if instance is None:
            widgets.close_dialog()
            widgets.flash("info", "That app instance no longer exists.")
            st.rerun()
        else:
            dialog(actor, instance)
