"""The Quarantine screen: quarantined digests with their reason, who and when, and where each runs now (site,
cluster, namespace, workload); add one (releaser or admin, with a reason) and lift one after a confirmation. The
rules, the audit and the notification are the core's (`ranchersync.governance.quarantine`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from ranchersync.access.identity import Actor, refusal
from ranchersync.governance import quarantine
from ranchersync.governance.quarantine import Quarantine, Sighting
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.humanize import plural
from ranchersync.kernel.textsafe import escape_markdown
from ui.shell import deps, frame, quarantine_flags, queries, widgets
from ui.shell import format as fmt
from ui.shell.outcome import Outcome

_LIFT = "lift_quarantine"


# ---- reads --------------------------------------------------------------------------------------------------------


def quarantines(include_lifted: bool = False) -> list[Quarantine]:
    """Active quarantines, newest first (with `include_lifted`, the lifted ones too)."""
    ctx = deps.get_context()
    with ctx.session() as session:
        return quarantine.list_quarantines(session, include_lifted=include_lifted)


@st.cache_data(ttl=30, show_spinner=False)
def _where_running(active: tuple[int, ...], refresh: int) -> list[Sighting]:
    """Where the active quarantines run, read from Rancher with the pods' digests (kept 30 s: every screen that
    flags them reads this once)."""
    del active, refresh  # cache keys: a quarantine added or lifted, "Refresh" clicked
    return quarantine.where_running(deps.get_context(), deps.client_factory())


def where_running(active: Sequence[Quarantine]) -> list[Sighting] | Outcome:
    """Where the active quarantines run now; nothing is asked while none is active."""
    if not active:
        return []
    try:
        return _where_running(tuple(sorted(q.id for q in active)), queries.services_refresh())
    except RancherSyncError as error:
        return Outcome.failed(error)


def clear() -> None:
    _where_running.clear()
    quarantine_flags.clear()
    queries.clear_services()  # the Services screen's flags read the quarantines with the services


def overview_flags() -> None:
    """The Overview's flag: where quarantined digests run now, each with its reason, and a link to the screen."""
    active = list(quarantine_flags.active().values())
    running = where_running(active)
    if isinstance(running, Outcome) or not running:
        return
    lines = [quarantine_flags.sentence(f"{s.service} in {s.environment} ({s.instance}, {s.site}/{s.namespace})",
                                       [s.quarantine]) for s in running]
    quarantine_flags.show(lines, key="overview_quarantined")
    st.page_link(frame.PAGES["Quarantine"], label="See the quarantined images", icon=":material/arrow_forward:")


# ---- actions ------------------------------------------------------------------------------------------------------


def add(actor: Actor, image: str, reason: str) -> Outcome:
    """Quarantine a digest (audited, notified as image.quarantined)."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            found = quarantine.add(session, image, reason=reason, actor=actor)
    except RancherSyncError as error:
        return Outcome.failed(error)
    clear()
    return Outcome.done(f"{found.reference} is quarantined (#{found.id}): every plan that would promote it is "
                        "refused.")


def lift(actor: Actor, quarantine_id: int, reason: str) -> Outcome:
    """Lift a quarantine (audited, with its reason)."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            found = quarantine.lift(session, quarantine_id, reason=reason, actor=actor)
    except RancherSyncError as error:
        return Outcome.failed(error)
    clear()
    return Outcome.done(f"Quarantine #{found.id} of {found.reference} is lifted.")


# ---- the screen ---------------------------------------------------------------------------------------------------


def _when(iso: str | None, tz: dt.tzinfo) -> str:
    return fmt.when(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else None, tz)


def add_form(actor: Actor) -> None:
    """The form to quarantine a digest; a lower role sees why it has none."""
    locked = refusal(actor, "manage_quarantine")
    if locked:
        st.caption(f":material/lock: {escape_markdown(locked)}.")
        return
    with st.expander("Quarantine an image", icon=":material/add:", expanded=False):
        image_col, reason_col = st.columns([3, 2])
        image = image_col.text_input("Image with its digest", key="quarantine_image",
                                     placeholder="ghcr.io/acme/web@sha256:…",
                                     help="IMAGE@sha256:… (or IMAGE:tag@sha256:…): `images inspect IMAGE` gives it.")
        reason = reason_col.text_input("Reason", key="quarantine_reason", max_chars=500,
                                       placeholder="e.g. CVE-2026-0001 in libfoo",
                                       help="Shown to whoever is refused, and kept in the audit log.")
        if st.button("Quarantine", key="quarantine_add", type="primary", icon=":material/block:"):
            widgets.flash_outcome(add(actor, image, reason))
            st.rerun()


def sightings_frame(found: Sequence[Sighting]) -> pd.DataFrame:
    """Where one quarantine runs, a row per container."""
    return pd.DataFrame([{"Environment": s.environment, "Site": s.site, "Cluster": s.cluster,
                          "Namespace": s.namespace, "Workload": f"{s.kind}/{s.service}" if s.kind else s.service,
                          "Container": s.container, "App instance": s.instance} for s in found])


def active_list(actor: Actor, active: Sequence[Quarantine], running: list[Sighting] | Outcome, tz: dt.tzinfo) -> None:
    """Each active quarantine: the image, why, who and when, where it runs now, and Lift."""
    locked = refusal(actor, "manage_quarantine")
    if isinstance(running, Outcome):
        widgets.show_outcome(running)
        running = []
    for q in active:
        here = [s for s in running if s.quarantine.id == q.id]
        with st.container(border=True, key=f"quarantine_{q.id}"):
            text, button = st.columns([6, 1], vertical_alignment="center")
            text.markdown(f":red[:material/block:] **{escape_markdown(q.reason)}**")
            text.markdown(f"`{q.reference}`")
            text.caption(f"#{q.id} · quarantined by {fmt.literal(q.added_by)} · "
                         f"{escape_markdown(_when(q.added_at, tz))}")
            button.button("Lift…", key=f"quarantine_lift_{q.id}", icon=":material/lock_open:",
                          disabled=bool(locked), help=locked, on_click=widgets.open_dialog, args=(_LIFT,),
                          kwargs={"quarantine_id": q.id})
            if here:
                st.markdown(f":red[**Runs now in {plural(len(here), 'place')}:**]")
                st.dataframe(sightings_frame(here), hide_index=True, key=f"quarantine_where_{q.id}")
            else:
                st.caption(":material/check_circle: Runs nowhere in the app instances read now.")


def lifted_table(lifted: Sequence[Quarantine], tz: dt.tzinfo) -> None:
    """The lifted quarantines, for the record."""
    if not lifted:
        st.caption("No quarantine was lifted yet.")
        return
    st.dataframe(pd.DataFrame([{"#": q.id, "Image": q.reference, "Reason": q.reason, "Added by": q.added_by,
                                "Lifted by": q.lifted_by, "Lifted": _when(q.lifted_at, tz),
                                "Why lifted": q.lift_reason} for q in lifted]),
                 hide_index=True, key="quarantine_lifted")


def show_requested(actor: Actor, active: Sequence[Quarantine]) -> None:
    """Open the lift confirmation if a button asked for it."""
    request = widgets.requested_dialog(_LIFT)
    if request is not None:
        found = next((q for q in active if q.id == request["quarantine_id"]), None)
        if found is None:
            widgets.close_dialog()
        else:
            _lift_dialog(actor, found)


@st.dialog("Lift a quarantine", on_dismiss=widgets.close_dialog)
def _lift_dialog(actor: Actor, found: Quarantine) -> None:
    st.markdown(f"Lift quarantine #{found.id} of **`{found.reference}`** ({escape_markdown(found.reason)})? Plans "
                "that promote this digest are then allowed again.")
    reason = st.text_input("Why it is lifted (kept in the audit log)", key="quarantine_lift_reason", max_chars=500)
    if widgets.dialog_buttons("Lift quarantine", "quarantine_lift_go", "quarantine_lift_cancel",
                              icon=":material/lock_open:"):
        outcome = lift(actor, found.id, reason)
        if not outcome.ok:
            widgets.show_outcome(outcome)
            return
        widgets.flash_outcome(outcome)
        widgets.close_dialog()
        st.rerun()
