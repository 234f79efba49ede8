"""The freeze controls (on the Environments screen) and the frozen badges (Overview, Environments, Services).

Reads are cached briefly (freeze_reads.py); every freeze action clears them. The rule of what is frozen lives in
the core (ranchersync/governance/freeze.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import streamlit as st

from ranchersync.access.identity import Actor, refusal
from ranchersync.governance import freeze, freeze_schedule
from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.textsafe import escape_markdown
from ui.governance import freeze_actions, freeze_reads
from ui.shell import format as fmt
from ui.shell import widgets
from ui.shell.outcome import Outcome
from ui.shell.queries import EnvironmentRow

_KINDS = {"weekly": "Weekly", "once": "One-off"}


def reopens_text(found: freeze.Freeze, tz: dt.tzinfo) -> str:
    """"reopens 2026-10-26 08:00 CET", or "until lifted" for stop-all."""
    return "until lifted" if found.reopens_at is None else f"reopens {fmt.when(found.reopens_at, tz)}"


def badge_text(found: freeze.Freeze, tz: dt.tzinfo) -> str:
    """"Frozen · reopens 2026-10-26 08:00 CET", or "Frozen · until lifted" for stop-all."""
    return f"Frozen · {reopens_text(found, tz)}"


def badge(env_id: int, tz: dt.tzinfo) -> None:
    """The frozen badge of one environment, when it is frozen now (its reason as the badge's help)."""
    found = freeze_reads.frozen().get(env_id)
    if found is not None:
        st.badge(badge_text(found, tz), color="blue", icon=":material/ac_unit:",
                 help=f"{found.label}: {found.reason}. Syncs are refused; rollbacks stay allowed.")


def badges(envs: Sequence[EnvironmentRow], tz: dt.tzinfo) -> dict[int, str]:
    """When each frozen environment among `envs` reopens, by id (for the Overview's cards, which draw the badge)."""
    found = freeze_reads.frozen()
    return {e.id: reopens_text(found[e.id], tz) for e in envs if e.id in found}


def frozen_row(envs: Sequence[EnvironmentRow], tz: dt.tzinfo) -> None:
    """One line naming every frozen environment with its badge (the Services screen, above both views)."""
    shown = [e for e in envs if e.id in freeze_reads.frozen()]
    if not shown:
        return
    with st.container(horizontal=True, vertical_alignment="center", key="frozen_row"):
        for env in shown:
            widgets.chip(env)
            badge(env.id, tz)


# ---- the controls (admins) ----------------------------------------------------------------------------------------


def section(actor: Actor, envs: Sequence[EnvironmentRow], tz: dt.tzinfo) -> None:
    """Freeze windows: stop-all, the windows in force with Remove, and the form to add one."""
    st.subheader("Freeze windows", anchor=False)
    st.caption("Syncs into a frozen environment are refused (rollbacks stay allowed); an admin may override one "
               "with a reason from the CLI: `sync … --override-freeze --reason …`. Every change here is audited.")
    locked = refusal(actor, "manage_freeze")
    if locked:  # a lower role sees the windows, not the controls (the core refuses them anyway)
        st.caption(f":material/lock: {escape_markdown(locked)}.")
    _stop_all(actor, tz, locked)
    current = freeze_reads.windows()
    own = [w for w in current if w.kind != "stop_all"]
    if not own:
        st.caption("No freeze window.")
    for window in own:
        with st.container(border=True, key=f"freeze_window_{window.id}"):
            text, button = st.columns([6, 1], vertical_alignment="center")
            state = (f"frozen now, reopens {fmt.when(window.reopens_at, tz)}" if window.active
                     else f"next from {fmt.when(window.next_start, tz)}")
            text.markdown(f"**{escape_markdown(window.environment)}** · {escape_markdown(window.schedule)} · "
                          f"{escape_markdown(state)}")
            text.caption(f"#{window.id} · {escape_markdown(window.reason)} · by {fmt.literal(window.created_by)}")
            if button.button("Remove", key=f"freeze_remove_{window.id}", icon=":material/delete:",
                             disabled=bool(locked), help=locked):
                widgets.flash_outcome(freeze_actions.remove_window(actor, window.id))
                st.rerun()
    if envs and not locked:
        _add_form(actor, envs, tz)


def _stop_all(actor: Actor, tz: dt.tzinfo, locked: str | None) -> None:
    current = next((w for w in freeze_reads.windows() if w.kind == "stop_all"), None)
    with st.container(border=True, key="freeze_stop_all"):
        if current is not None:
            st.error(f"**Stop-all is in force:** every environment is frozen since "
                     f"{escape_markdown(fmt.when(current.created_at, tz))} (by {fmt.literal(current.created_by)}"
                     f"): {escape_markdown(current.reason)}", icon=":material/block:")
        if locked:
            if current is None:
                st.caption("No stop-all in force.")
            return
        if current is None:
            st.markdown("**Stop-all** (incident mode): freeze every environment at once, until lifted.")
        reason_col, button_col = st.columns([4, 1], vertical_alignment="bottom")
        reason = reason_col.text_input("Reason", key="freeze_all_reason",
                                       placeholder="e.g. INC-42: database failover" if current is None
                                       else "e.g. resolved")
        if current is None:
            if button_col.button("Stop all syncs", key="freeze_stop_all_go", type="primary", icon=":material/block:",
                                 width="stretch"):
                widgets.flash_outcome(freeze_actions.stop_all(actor, reason))
                st.rerun()
        elif button_col.button("Lift stop-all", key="freeze_lift_all_go", icon=":material/play_arrow:",
                               width="stretch"):
            widgets.flash_outcome(freeze_actions.lift_all(actor, reason))
            st.rerun()


def _add_form(actor: Actor, envs: Sequence[EnvironmentRow], tz: dt.tzinfo) -> None:
    names = {e.id: e.name for e in envs}
    with st.expander("Add a freeze window", icon=":material/add:", expanded=False):
        cols = st.columns([2, 1.4, 2])
        env_id = cols[0].selectbox("Environment", list(names), format_func=names.__getitem__, key="freeze_env",
                                   index=len(names) - 1)
        kind = cols[1].segmented_control("Kind", list(_KINDS), format_func=_KINDS.__getitem__, default="weekly",
                                         required=True, key="freeze_kind")
        zone_name = cols[2].text_input("Time zone (IANA)", value=fmt.zone_label(tz), key="freeze_tz",
                                       help="Weekly windows keep their wall-clock times across daylight saving.")
        weekly, span = None, None
        if kind == "weekly":
            weekly = st.text_input("Every week", value="Fri 16:00-Mon 08:00", key="freeze_weekly",
                                   help="Day and 24-hour time to day and time; it may wrap over Sunday night.")
        else:
            today = dt.datetime.now(tz).date()
            start_col, end_col = st.columns(2)
            with start_col, st.container(horizontal=True):
                start_day = st.date_input("From", today, key="freeze_from_day", format="YYYY-MM-DD")
                start_time = st.time_input("at", dt.time(18, 0), key="freeze_from_time", step=900)
            with end_col, st.container(horizontal=True):
                end_day = st.date_input("To", today + dt.timedelta(days=1), key="freeze_to_day",
                                        format="YYYY-MM-DD")
                end_time = st.time_input("at", dt.time(8, 0), key="freeze_to_time", step=900)
            span = (start_day, start_time, end_day, end_time)
        reason = st.text_input("Reason", key="freeze_reason", placeholder="e.g. weekend change freeze")
        if st.button("Add window", key="freeze_add_go", type="primary", icon=":material/ac_unit:"):
            widgets.flash_outcome(_add(actor, env_id, reason, weekly, span, zone_name))
            st.rerun()


def _add(
    actor: Actor, env_id: int, reason: str, weekly: str | None, span: tuple[object, ...] | None, zone_name: str
) -> Outcome:
    """Add the window; a one-off window's picked days and times are read in the chosen zone, by the core's rule."""
    if span is None:
        return freeze_actions.add_window(actor, environment_id=env_id, reason=reason, weekly=weekly, timezone=zone_name)
    start_day, start_time, end_day, end_time = span
    if not all(isinstance(d, dt.date) for d in (start_day, end_day)) or not all(
            isinstance(t, dt.time) for t in (start_time, end_time)):
        return Outcome.failed(ValidationError("pick a start and an end for the one-off window"))
    try:
        tz = freeze_schedule.zone(zone_name)
    except ValidationError as error:
        return Outcome.failed(error)
    starts = freeze_schedule.wall_to_utc(dt.datetime.combine(start_day, start_time), tz)  # type: ignore[arg-type]
    ends = freeze_schedule.wall_to_utc(dt.datetime.combine(end_day, end_time), tz)  # type: ignore[arg-type]
    return freeze_actions.add_window(actor, environment_id=env_id, reason=reason, starts_at=starts, ends_at=ends,
                                     timezone=zone_name)
