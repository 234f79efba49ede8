"""The Snapshots screen's pieces: taking a snapshot, the list, one snapshot's services, the comparison, and putting
a snapshot in place (promote to another environment, restore its own) now or at a time, reviewed in a dialog."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from ranchersync.access.identity import Actor, refusal
from ranchersync.kernel.humanize import plural
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.snapshots.entries import DiffRow
from ranchersync.sync import SyncOptions, SyncPlan, new_request_id
from ui.shell import format as fmt
from ui.shell import frame, widgets
from ui.shell.outcome import Outcome
from ui.shell.queries import EnvironmentRow
from ui.trains import snapshot_actions
from ui.trains.snapshot_actions import SnapshotRow

_REVIEW = "train_review"
_COMPARED = "snap_compared"  # the last comparison's result, kept across reruns
_STATES = {"same": "same", "changed": "differs", "only_left": "only in the left", "only_right": "only in the right"}


def create_form(actor: Actor, envs: Sequence[EnvironmentRow], default: EnvironmentRow | None) -> None:
    """Environment and name, and the button that records every service of it now."""
    why = refusal(actor, "sync")
    with st.form("snap_create", border=True):
        st.markdown("**Take a snapshot**")
        left, right = st.columns(2)
        ids = [e.id for e in envs]
        env_id = left.selectbox("Environment", ids, key="snap_create_env",
                                index=ids.index(default.id) if default and default.id in ids else 0,
                                format_func=lambda i: next(e.name for e in envs if e.id == i))
        name = right.text_input("Name", key="snap_create_name", placeholder="rel-2026-12", max_chars=100,
                                help="Letters, digits and . _ : + -; a snapshot is never replaced.")
        submitted = st.form_submit_button("Take snapshot", icon=":material/photo_camera:", type="primary",
                                          disabled=bool(why), help=why)
    if submitted:
        with st.spinner("Reading every service and the digests its pods run…"):
            outcome = snapshot_actions.create(actor, int(env_id), name)
        widgets.flash_outcome(outcome)
        if outcome.ok:
            st.session_state["snap_pick"] = name.strip()
        st.rerun()


def snapshots_table(rows: Sequence[SnapshotRow], tz: dt.tzinfo) -> None:
    """Every snapshot, newest first: name, environment, manual or taken before a sync, services, who and when."""
    frame_ = pd.DataFrame(
        [(r.name, r.environment, f"before sync #{r.operation_id}" if r.operation_id else r.kind, r.service_count,
          r.created_by, fmt.when(r.created_at, tz)) for r in rows],
        columns=["Snapshot", "Environment", "Kind", "Services", "Taken by", "Taken"])
    st.dataframe(frame_, hide_index=True, key="snap_table")


def services_of(snapshot: SnapshotRow) -> None:
    """What the snapshot holds: per service and container, the image and the digest its pods ran."""
    rows = snapshot_actions.snapshot_services(snapshot.id)
    st.dataframe(pd.DataFrame(rows, columns=["Service", "Kind", "App instance", "Container", "Image", "Digest"]),
                 hide_index=True, key="snap_services")


def compare_section(snapshot: SnapshotRow, rows: Sequence[SnapshotRow], envs: Sequence[EnvironmentRow]) -> None:
    """Compare the snapshot with another snapshot, or with what an environment runs now."""
    with_what = st.segmented_control("Compare with", ["snapshot", "environment"], key="snap_cmp_kind",
                                     format_func={"snapshot": "Another snapshot",
                                                  "environment": "An environment now"}.__getitem__,
                                     default="environment", required=True)
    others = [r for r in rows if r.id != snapshot.id]
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    other_id = env_id = None
    if with_what == "snapshot":
        if not others:
            st.caption("There is no other snapshot yet.")
            return
        other_id = left.selectbox("Snapshot", [r.id for r in others], key="snap_cmp_other",
                                  format_func=lambda i: next(r.name for r in others if r.id == i))
    else:
        ids = [e.id for e in envs]
        env_id = left.selectbox("Environment", ids, key="snap_cmp_env", index=ids.index(_next_env(snapshot, ids)),
                                format_func=lambda i: next(e.name for e in envs if e.id == i))
    if right.button("Compare", key="snap_cmp_go", icon=":material/compare_arrows:"):
        with st.spinner("Reading the environment from Rancher…" if env_id else "Comparing…"):
            result = snapshot_actions.compare(snapshot.id, other_snapshot=other_id, environment_id=env_id)
        st.session_state[_COMPARED] = (snapshot.id, result)
    stored = st.session_state.get(_COMPARED)
    if not stored or stored[0] != snapshot.id:
        return
    result = stored[1]
    if isinstance(result, Outcome):
        widgets.show_outcome(result)
        return
    left_name, right_name, diff = result
    _compared(left_name, right_name, diff)


def _compared(left_name: str, right_name: str, diff: Sequence[DiffRow]) -> None:
    with st.container(key="snap_cmp_result"):
        _compared_table(left_name, right_name, diff)


def _compared_table(left_name: str, right_name: str, diff: Sequence[DiffRow]) -> None:
    only = st.toggle("Only differences", value=True, key="snap_cmp_only")
    shown = [r for r in diff if r.state != "same"] if only else list(diff)
    differing = len({(r.kind, r.name) for r in diff if r.state != "same"})
    st.markdown(f"**{escape_markdown(left_name)}** against **{escape_markdown(right_name)}**: "
                + (f"{plural(differing, 'service')} differ." if differing else "the same images and digests."))
    if shown:
        st.dataframe(pd.DataFrame(
            [(r.name, r.container, _STATES[r.state], ", ".join(r.left) or "—", ", ".join(r.right) or "—", r.kind)
             for r in shown], columns=["Service", "Container", "State", left_name, right_name, "Kind"]),
            hide_index=True, key="snap_cmp_table")


def put_in_place_section(actor: Actor, snapshot: SnapshotRow, envs: Sequence[EnvironmentRow],
                         tz: dt.tzinfo) -> None:
    """Choose a target: the snapshot's own environment (a restore) or another one (a promotion); review it now in a
    dialog, or schedule it."""
    why = refusal(actor, "sync")
    ids = [e.id for e in envs]
    default = _next_env(snapshot, ids)
    target_id = st.selectbox("Target environment", ids, index=ids.index(default), key="snap_target",
                             format_func=lambda i: _target_label(next(e for e in envs if e.id == i), snapshot))
    target = next(e for e in envs if e.id == target_id)
    restore = target.id == snapshot.environment_id
    st.caption(("A restore puts each app instance of " if restore else "Every service of the snapshot that differs "
                "goes into every app instance of ") + f"{escape_markdown(target.name)} "
               + ("back to what it ran. " if restore else "that runs it. ")
               + "One operation, all or nothing: when any service fails, every service it changed is put back.")
    now_col, later_col = st.columns(2, gap="large")
    with now_col:
        st.button("Review the restore" if restore else f"Review promotion to {target.name}", key="snap_review",
                  type="primary", icon=":material/rocket_launch:", disabled=bool(why), help=why,
                  on_click=widgets.open_dialog, args=(_REVIEW,),
                  kwargs={"snapshot_id": snapshot.id, "target_id": target.id})
    with later_col:
        _schedule_form(actor, snapshot, target, tz, why)


def _next_env(snapshot: SnapshotRow, ids: Sequence[int]) -> int:
    """The environment after the snapshot's in the pipeline (where its versions go next), else another one."""
    own = snapshot.environment_id
    if own is not None and own in ids:
        at = list(ids).index(own)
        later = [*ids[at + 1:], *ids[:at]]
        return later[0] if later else ids[0]
    return ids[0]


def _target_label(env: EnvironmentRow, snapshot: SnapshotRow) -> str:
    return f"{env.name} (restore)" if env.id == snapshot.environment_id else env.name


def _schedule_form(actor: Actor, snapshot: SnapshotRow, target: EnvironmentRow, tz: dt.tzinfo,
                   why: str | None) -> None:
    """Date and time in the viewer's time zone; the typed name of a protected target."""
    with st.form("snap_schedule", border=True):
        st.markdown(f"**Schedule it** · {escape_markdown(fmt.zone_label(tz))}")
        soon = (widgets.now() + dt.timedelta(days=1)).astimezone(tz)
        day_col, time_col = st.columns(2)
        day = day_col.date_input("Date", value=soon.date(), key="snap_at_date")
        hour = time_col.time_input("Time", value=dt.time(6, 0), key="snap_at_time", step=dt.timedelta(minutes=15))
        typed = None
        if target.protected:
            typed = st.text_input(f":material/lock: {escape_markdown(target.name)} is protected: type its name",
                                  key="snap_at_confirm", autocomplete="off")
        go = st.form_submit_button("Schedule", icon=":material/schedule:", disabled=bool(why), help=why)
    if go:
        fire_at = dt.datetime.combine(day, hour).replace(tzinfo=tz)
        with st.spinner("Scheduling…"):
            outcome = snapshot_actions.schedule(actor, snapshot.id, target.id, fire_at, fmt.zone_label(tz), typed)
        widgets.flash_outcome(outcome)
        st.rerun()


# ---- the review dialog ------------------------------------------------------------------------------------------


def show_requested(actor: Actor, envs: Sequence[EnvironmentRow]) -> None:
    """Open the review dialog if a button asked for it."""
    request = widgets.requested_dialog(_REVIEW)
    if request is not None:
        review_dialog(actor, request, envs)


@st.dialog("Put a snapshot in place", width="large", on_dismiss=widgets.close_dialog)
def review_dialog(actor: Actor, request: dict[str, object], envs: Sequence[EnvironmentRow]) -> None:
    """What changes (read from Rancher now), the typed name of a protected target, then one operation."""
    request_id = widgets.seen_before("request_id", new_request_id())
    plan = request.get("plan")
    if not isinstance(plan, SyncPlan):
        with st.spinner("Reading the target from Rancher and planning…"):
            planned = snapshot_actions.plan(int(request["snapshot_id"]), int(request["target_id"]))  # type: ignore[call-overload]
        if isinstance(planned, Outcome):
            widgets.show_outcome(planned)
            return
        request["plan"] = plan = planned
    target = next((e for e in envs if e.id == plan.target.id), None)
    restore = plan.source.id == plan.target.id
    st.markdown(f"**{'Restore' if restore else 'Promote'} snapshot {escape_markdown(plan.snapshot or '')}** → "
                f"**{escape_markdown(plan.target.name)}**, as one operation (all or nothing).")
    show_plan(plan)
    if not plan.to_apply:
        return
    typed = None
    if target is not None and target.protected:
        typed = st.text_input(f":material/lock: {escape_markdown(target.name)} is protected: type its name to "
                              "confirm (case-sensitive)", key="train_confirm", autocomplete="off", width=320)
    ready = typed is None or typed == plan.target.name
    label = f"{'Restore' if restore else 'Promote'} {plural(len(plan.to_apply), 'service')}"
    if widgets.dialog_buttons(label, "train_apply", "train_cancel", icon=":material/rocket_launch:",
                              disabled=not ready):
        options = SyncOptions(poll_seconds=0.5)
        result = snapshot_actions.start(actor, plan, request_id=request_id, confirm_env=typed, options=options)
        if isinstance(result, Outcome):
            widgets.finish(result)
            return
        widgets.close_dialog()
        st.switch_page(frame.PAGES["Sync history"], query_params={"operation": str(result)})


def show_plan(plan: SyncPlan) -> None:
    """The exact changes, then what is skipped and why."""
    rows = [(i.name, i.kind, i.target_label, f"{c.name} (init)" if c.init else c.name, c.current, c.new)
            for i in plan.to_apply for c in i.changes]
    if rows:
        st.markdown(f"**{plural(len(plan.to_apply), 'workload')} will change** in "
                    f"{escape_markdown(plan.target.name)}:")
        st.dataframe(pd.DataFrame(rows, columns=["Service", "Kind", "Target app instance", "Container",
                                                 "Current image", "Snapshot image"]),
                     hide_index=True, key="train_plan_table")
    else:
        st.info("Nothing to change: the target runs the snapshot's images already.", icon=":material/info:")
    skipped = [(i.name, i.target_label, f"{i.skip_reason}{': ' + i.detail if i.detail else ''}")
               for i in plan.skipped]
    if skipped:
        with st.expander(f"{plural(len(skipped), 'service')} skipped", icon=":material/block:"):
            st.dataframe(pd.DataFrame(skipped, columns=["Service", "Target app instance", "Why"]), hide_index=True,
                         key="train_skipped_table")
    for warning in plan.warnings:
        st.warning(escape_markdown(warning), icon=":material/sync_problem:")
