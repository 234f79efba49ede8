"""The Verification section of the Environments screen: per environment, its gates (the Prometheus query, the success
condition, how often and how many times it measures, how many failures it tolerates, where it asks), its soak and
minimum source soak; add, edit, remove a gate, disable an environment's gate for one service and enable it again, set
the soak (admins, audited by the core), and "Try it now", which runs a gate's query once for one service and shows
the values and the verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from ranchersync.access.identity import Actor, refusal
from ranchersync.kernel.humanize import duration_text, plural
from ranchersync.kernel.textsafe import escape_markdown
from ui.catalogue import verification_actions as actions
from ui.shell import queries, widgets
from ui.shell.queries import EnvironmentRow

_VERDICT = {"pass": (":material/check_circle:", "green"), "fail": (":material/cancel:", "red"),
            "inconclusive": (":material/help:", "orange")}
_SOURCES = {"prometheus": "Prometheus URL", "rancher-monitoring": "rancher-monitoring (the site's Rancher)"}


def section(actor: Actor, envs: Sequence[EnvironmentRow]) -> None:
    """Every environment's gates and soak, with their controls."""
    st.subheader("Verification", anchor=False)
    st.caption("After each rollout into an environment, its gates measure the new version (all at once, `count` "
               "times, `interval` apart) and its pods must stay ready without restarts for the soak time; a failed "
               "gate or soak fails the service and the sync rolls it back. Every change here is audited.")
    locked = refusal(actor, "manage_catalogue")
    if locked:
        st.caption(f":material/lock: {escape_markdown(locked)}.")
    cannot_try = refusal(actor, "sync")
    for env in envs:
        found = actions.checks(env.id)
        with st.container(border=True, key=f"verify_env_{env.id}"):
            head, buttons = st.columns([3, 2], vertical_alignment="center")
            with head, st.container(horizontal=True, vertical_alignment="center"):
                widgets.chip(env)
                st.badge(plural(len(found["gates"]), "gate"), color="gray", icon=":material/monitoring:")
                soak, minimum = found["soakSeconds"], found["minSourceSoakSeconds"]
                st.badge(f"soak {duration_text(soak)}" if soak else "no soak", color="blue" if soak else "gray",
                         icon=":material/timer:",
                         help="The new version's pods stay ready, with no restart, this long after the rollout.")
                if minimum:
                    st.badge(f"min source soak {duration_text(minimum)}", color="violet",
                             icon=":material/hourglass_top:",
                             help="A version enters only after it ran this long in the source, its gates passed.")
            with buttons, st.container(horizontal=True, horizontal_alignment="right"):
                st.button("Soak…", key=f"soak_edit_{env.id}", icon=":material/timer:", disabled=bool(locked),
                          help=locked, on_click=widgets.open_dialog, args=("edit_soak",), kwargs={"env_id": env.id})
                st.button("Add gate", key=f"gate_add_{env.id}", icon=":material/add:", disabled=bool(locked),
                          help=locked, on_click=widgets.open_dialog, args=("add_gate",), kwargs={"env_id": env.id})
            if not found["gates"]:
                st.caption("No gate: a finished rollout is the success.")
            for gate in found["gates"]:
                _gate(gate, locked, cannot_try)


def _gate(gate: dict[str, Any], locked: str | None, cannot_try: str | None) -> None:
    with st.container(border=True, key=f"gate_{gate['id']}"):
        text, buttons = st.columns([3, 2], vertical_alignment="top")
        with text:
            only = f" · for **{escape_markdown(gate['service'])}** only" if gate["service"] else ""
            st.markdown(f"**{escape_markdown(gate['name'])}**{only} · success when `{gate['success']}`")
            st.code(gate["query"], language="promql", wrap_lines=True)
            st.caption(" · ".join([
                f"{gate['count']} × every {duration_text(gate['intervalSeconds'])}",
                f"fails after {plural(gate['failureLimit'] + 1, 'failed measurement')}",
                f"inconclusive counts as {gate['inconclusive']}",
                f"from {escape_markdown(gate['prometheusUrl'])}" if gate["prometheusUrl"]
                else "from rancher-monitoring through the site's Rancher",
                *([f"disabled for {escape_markdown(', '.join(gate['disabledFor']))}"] if gate["disabledFor"] else [])]))
            if not gate["service"]:  # a service's own gate is changed or removed, not disabled
                _per_service(gate, locked)
        with buttons, st.container(horizontal=True, horizontal_alignment="right"):
            st.button("Try it now", key=f"gate_try_{gate['id']}", icon=":material/play_arrow:",
                      disabled=bool(cannot_try), help=cannot_try or "Run the query once and show the verdict.",
                      on_click=widgets.open_dialog, args=("try_gate",), kwargs={"gate": gate})
            st.button("Edit", key=f"gate_edit_{gate['id']}", icon=":material/edit:", disabled=bool(locked),
                      help=locked, on_click=widgets.open_dialog, args=("edit_gate",), kwargs={"gate": gate})
            st.button("Remove", key=f"gate_remove_{gate['id']}", icon=":material/delete:", disabled=bool(locked),
                      help=locked, on_click=widgets.open_dialog, args=("remove_gate",), kwargs={"gate": gate})


def _per_service(gate: dict[str, Any], locked: str | None) -> None:
    with st.container(horizontal=True):
        st.button("Disable for a service…", key=f"gate_disable_{gate['id']}", icon=":material/block:",
                  type="tertiary", disabled=bool(locked),
                  help=locked or "Rollouts of one service into this environment are no longer measured by it.",
                  on_click=widgets.open_dialog, args=("disable_gate",), kwargs={"gate": gate})
        if gate["disabledFor"]:
            st.button("Enable again…", key=f"gate_enable_{gate['id']}", icon=":material/replay:", type="tertiary",
                      disabled=bool(locked), help=locked or "Run it again for a service it is disabled for.",
                      on_click=widgets.open_dialog, args=("enable_gate",), kwargs={"gate": gate})


# ---- dialogs ---------------------------------------------------------------------------------------------------------


def _gate_form(key: str, gate: dict[str, Any] | None) -> actions.GateForm:
    values = gate or {}
    name = st.text_input("Name", value=values.get("name", ""), key=f"{key}_name", placeholder="e.g. error-rate",
                         max_chars=100)
    source = st.segmented_control("Prometheus", list(_SOURCES), format_func=_SOURCES.__getitem__, required=True,
                                  default=values.get("source", "prometheus"), key=f"{key}_source")
    url = None
    if source == "prometheus":
        url = st.text_input("Prometheus URL", value=values.get("prometheusUrl") or "", key=f"{key}_url",
                            placeholder="https://prometheus.example:9090", max_chars=500)
    else:
        st.caption("Asked through the site's Rancher proxy to the cluster's rancher-monitoring, with the site's token.")
    query = st.text_area("Query (PromQL)", value=values.get("query", ""), key=f"{key}_query", max_chars=4000,
                         placeholder='sum(rate(http_requests_total{namespace="{namespace}",service="{service}",'
                                     'code=~"5.."}[2m])) / sum(rate(http_requests_total{namespace="{namespace}",'
                                     'service="{service}"}[2m]))',
                         help="{namespace}, {service}, {environment} and {image} are filled in, escaped; they must "
                              "stand inside double-quoted label values.")
    success = st.text_input("Success when", value=values.get("success", ""), key=f"{key}_success", max_chars=500,
                            placeholder="result < 0.05",
                            help="A condition on result (the query's values): comparisons, and/or/not, len(result).")
    service = st.text_input("Only for service", value=values.get("service") or "", key=f"{key}_service",
                            max_chars=253, placeholder="every service of the environment",
                            help="A gate for one service overrides the environment's gate of the same name for it. "
                                 "To skip a gate for one service: its \"Disable for a service…\" button.")
    cols = st.columns(4)
    interval = cols[0].text_input("Interval", value=_duration(values.get("intervalSeconds", 10.0)),
                                  key=f"{key}_interval", help="e.g. 10s, 1m")
    count = cols[1].number_input("Count", min_value=1, max_value=100, value=int(values.get("count", 3)),
                                 key=f"{key}_count")
    failures = cols[2].number_input("Failures tolerated", min_value=0, max_value=99,
                                    value=int(values.get("failureLimit", 0)), key=f"{key}_failures")
    inconclusive = cols[3].selectbox("Inconclusive counts as", ["fail", "pass"],
                                     index=0 if values.get("inconclusive", "fail") == "fail" else 1,
                                     key=f"{key}_inconclusive")
    return actions.GateForm(name=name, query=query, success=success, prometheus_url=url, interval=interval,
                            count=int(count), failure_limit=int(failures),
                            inconclusive="pass" if inconclusive == "pass" else "fail", service=service)


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


@st.dialog("Add a gate", width="large", on_dismiss=widgets.close_dialog)
def add_gate(actor: Actor, env: EnvironmentRow) -> None:
    """A new gate of an environment."""
    st.markdown(f"Measured after every rollout into **{escape_markdown(env.name)}**.")
    form = _gate_form(f"gate_new_{env.id}", None)
    if widgets.dialog_buttons("Add gate", "gate_add_save", "gate_add_cancel", icon=":material/add:"):
        widgets.finish(actions.add_gate(actor, env.id, form))


@st.dialog("Edit gate", width="large", on_dismiss=widgets.close_dialog)
def edit_gate(actor: Actor, gate: dict[str, Any]) -> None:
    """Change every field of a gate."""
    st.markdown(f"A gate of **{escape_markdown(gate['environment'])}**.")
    form = _gate_form(f"gate_{gate['id']}_form", gate)
    if widgets.dialog_buttons("Save", "gate_edit_save", "gate_edit_cancel", icon=":material/save:"):
        widgets.finish(actions.update_gate(actor, gate["id"], form))


@st.dialog("Remove gate", on_dismiss=widgets.close_dialog)
def remove_gate(actor: Actor, gate: dict[str, Any]) -> None:
    """Confirm removing a gate."""
    st.markdown(f"Remove the gate **{escape_markdown(gate['name'])}** of **{escape_markdown(gate['environment'])}**?"
                " Rollouts into it are no longer measured by it; past measurements stay in the history.")
    if widgets.dialog_buttons("Remove gate", "gate_remove_confirm", "gate_remove_cancel", icon=":material/delete:"):
        widgets.finish(actions.remove_gate(actor, gate["id"]))


@st.dialog("Disable a gate for one service", on_dismiss=widgets.close_dialog)
def disable_gate(actor: Actor, gate: dict[str, Any]) -> None:
    """Confirm disabling an environment's gate for one service (`gates disable --service`)."""
    service = st.text_input("Service", key="gate_disable_service", max_chars=253, placeholder="e.g. batch-export",
                            help="The workload's name, as in the Services screen.").strip()
    what = f"**{escape_markdown(service)}**" if service else "the service named above"
    st.markdown(f"The gate **{escape_markdown(gate['name'])}** will no longer run after rollouts of {what} into "
                f"**{escape_markdown(gate['environment'])}**; it still runs for every other service. A failure it "
                "would have caught no longer rolls that service back. The change is audited.")
    if widgets.dialog_buttons("Disable for this service", "gate_disable_confirm", "gate_disable_cancel",
                              icon=":material/block:", disabled=not service):
        widgets.finish(actions.set_for_service(actor, gate["id"], service, disabled=True))


@st.dialog("Enable a gate for a service again", on_dismiss=widgets.close_dialog)
def enable_gate(actor: Actor, gate: dict[str, Any]) -> None:
    """Confirm running an environment's gate for a service it was disabled for again (`gates enable --service`)."""
    service = st.selectbox("Service", gate["disabledFor"], key="gate_enable_service")
    st.markdown(f"The gate **{escape_markdown(gate['name'])}** will run again after rollouts of "
                f"**{escape_markdown(service or '')}** into **{escape_markdown(gate['environment'])}**, and a failed "
                "measurement rolls it back. The change is audited.")
    if widgets.dialog_buttons("Enable for this service", "gate_enable_confirm", "gate_enable_cancel",
                              icon=":material/replay:", disabled=not service):
        widgets.finish(actions.set_for_service(actor, gate["id"], str(service), disabled=False))


@st.dialog("Soak", on_dismiss=widgets.close_dialog)
def edit_soak(actor: Actor, env: EnvironmentRow) -> None:
    """An environment's soak time and minimum source soak."""
    found = actions.checks(env.id)
    soak = st.text_input("Soak time", value=_duration(found["soakSeconds"]) if found["soakSeconds"] else "0",
                         key=f"soak_{env.id}_soak", help="After the rollout, the new pods stay ready with no restart "
                         "this long (e.g. 5m; 0: no soak).")
    minimum = st.text_input("Minimum source soak",
                            value=_duration(found["minSourceSoakSeconds"]) if found["minSourceSoakSeconds"] else "0",
                            key=f"soak_{env.id}_min", help="A version enters only after it ran this long in the "
                            "source environment with its gates passed (e.g. 1h; 0: no policy).")
    if widgets.dialog_buttons("Save", "soak_save", "soak_cancel", icon=":material/save:"):
        widgets.finish(actions.set_soak(actor, env.id, soak, minimum))


@st.dialog("Try a gate", width="large", on_dismiss=widgets.close_dialog)
def try_gate(actor: Actor, gate: dict[str, Any]) -> None:
    """Run a gate's query once for one service of one app instance, and show the values and the verdict."""
    st.markdown(f"**{escape_markdown(gate['name'])}** of **{escape_markdown(gate['environment'])}**: success when "
                f"`{gate['success']}`")
    env = next((e for e in queries.environments() if e.name == gate["environment"]), None)
    members = queries.instances_now(env.id) if env else ()
    if not members:
        st.info("The environment has no app instance: the query needs a namespace to fill in.",
                icon=":material/info:")
        return
    names = {i.id: f"{i.name} ({i.namespace})" for i in members}
    left, right = st.columns(2)
    instance = left.selectbox("App instance", list(names), format_func=names.__getitem__, key="gate_try_instance")
    service = right.text_input("Service", key="gate_try_service", value=gate["service"] or "",
                               placeholder="e.g. frontend", max_chars=253)
    if widgets.dialog_buttons("Run the query", "gate_try_run", "gate_try_cancel", icon=":material/play_arrow:"):
        with st.status("Running the query…", expanded=True) as status:
            outcome, found = actions.try_gate(actor, gate["id"], int(instance), service, say=st.write)
            status.update(label="Done" if found else "Could not run", state="complete" if found else "error")
        if found is None:
            widgets.show_outcome(outcome)
            return
        icon, color = _VERDICT[found.verdict]
        with st.container(key="gate_try_result"):
            st.badge(found.verdict, icon=icon, color=color)  # type: ignore[arg-type]
            st.code(found.query, language="promql", wrap_lines=True)
            if found.values:
                st.markdown("Values: " + ", ".join(f"`{v:.6g}`" for v in found.values)
                            + f" · from {escape_markdown(found.where)}")
            if found.verdict == "inconclusive":
                st.warning(escape_markdown(found.detail), icon=":material/help:")
            else:
                st.caption(escape_markdown(found.detail))


def show_requested(actor: Actor) -> None:
    """Open whichever verification dialog a button asked for."""
    for name, dialog in (("add_gate", add_gate), ("edit_soak", edit_soak)):
        request = widgets.requested_dialog(name)
        if request is not None:
            env = queries.environment(request["env_id"])
            if env is None:
                widgets.close_dialog()
                st.rerun()
            else:
                dialog(actor, env)
            return
    for name, gate_dialog in (("edit_gate", edit_gate), ("remove_gate", remove_gate), ("try_gate", try_gate),
                              ("disable_gate", disable_gate), ("enable_gate", enable_gate)):
        request = widgets.requested_dialog(name)
        if request is not None:
            gate_dialog(actor, request["gate"])
            return
