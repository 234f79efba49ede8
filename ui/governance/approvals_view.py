"""The Approvals screen's pieces: a pending request with the exact diff it is bound to, the decision dialog, and the
table of decided requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from ranchersync.access.identity import Actor, refusal
from ranchersync.kernel.humanize import plural
from ranchersync.kernel.textsafe import escape_markdown
from ui.governance import approval_actions
from ui.shell import format as fmt
from ui.shell import widgets

_DECIDE = "decide_request"


def _when(value: str | None, tz: dt.tzinfo) -> str:
    if not value:
        return "—"
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _left(expires: str, now: dt.datetime) -> str:
    seconds = (dt.datetime.fromisoformat(expires.replace("Z", "+00:00")) - now).total_seconds()
    if seconds <= 0:
        return "expiring now"
    hours, minutes = divmod(int(seconds // 60), 60)
    return f"expires in {hours} h {minutes:02d} min" if hours else f"expires in {minutes} min"


def diff_frame(request: dict[str, Any]) -> pd.DataFrame:
    """The bound diff: one row per changed container, with the digest the source ran when it was requested."""
    rows = [
        (t["name"], t.get("appInstance") or "—", f"{c['name']} (init)" if c["init"] else c["name"], c["previous"],
         c["new"], ", ".join(d[:19] + "…" for d in c["digests"]) or "—", t["resourceVersion"])
        for t in request["targets"] for c in t["containers"]
    ]
    return pd.DataFrame(rows, columns=["Service", "Target app instance", "Container", "Previous image", "New image",
                                       "Source digest", "resourceVersion"])


def pending_card(actor: Actor, request: dict[str, Any], me: str, tz: dt.tzinfo) -> None:
    """One request waiting for decisions: what it would change, who asked, when it expires, who approved; the
    Approve and Reject buttons (disabled for the requester: four eyes)."""
    request_id = request["id"]
    with st.container(border=True, key=f"approval_{request_id}"):
        head, buttons = st.columns([3, 1.3], vertical_alignment="center")
        with head:
            st.markdown(f"**#{request_id} · {escape_markdown(request['sourceEnvironment'])} → "
                        f"{escape_markdown(request['targetEnvironment'])}** · "
                        f"{escape_markdown(', '.join(s.rpartition('/')[2] for s in request['services']))}")
            given = ", ".join(f"{fmt.literal(a['by'])} ✓" for a in request["approvals"])
            st.caption(f"Asked by {fmt.literal(request['requestedBy'])} " + escape_markdown(
                f"at {_when(request['requestedAt'], tz)} · {_left(request['expiresAt'], widgets.now())} · "
                f"{len(request['approvals'])} of {plural(request['required'], 'approval')}")
                + (f" ({given})" if given else ""))
            if request.get("firesAt") is not None:
                st.markdown(f":blue-badge[:material/schedule: Scheduled] fires "
                            f"**{escape_markdown(fmt.when(request['firesAt'], tz))}**: the approvals given before "
                            "count if the plan is unchanged then; a changed plan needs them again.")
        own = request["requestedBy"].lower() == me.lower()
        why = "You asked for it: another person with the releaser role decides." if own else None
        locked = refusal(actor, "approve")
        if locked:  # shown, not usable: the core refuses a decision below releaser anyway
            own, why = True, locked
        with buttons, st.container(horizontal=True, horizontal_alignment="right"):
            st.button("Approve", key=f"approve_{request_id}", type="primary", icon=":material/check:", disabled=own,
                      help=why, on_click=widgets.open_dialog, args=(_DECIDE,),
                      kwargs={"request_id": request_id, "approve": True})
            st.button("Reject", key=f"reject_{request_id}", icon=":material/close:", disabled=own, help=why,
                      on_click=widgets.open_dialog, args=(_DECIDE,),
                      kwargs={"request_id": request_id, "approve": False})
        st.dataframe(diff_frame(request), hide_index=True, key=f"approval_diff_{request_id}")


def decided_table(requests: Sequence[dict[str, Any]], tz: dt.tzinfo) -> None:
    """The decided requests, newest first: how each ended and why."""
    rows = [
        (r["id"], r["status"], f"{r['sourceEnvironment']} → {r['targetEnvironment']}",
         ", ".join(s.rpartition("/")[2] for s in r["services"]), r["requestedBy"],
         ", ".join(a["by"] for a in r["approvals"] + r["rejections"]) or "—", _when(r["decidedAt"], tz),
         r["statusReason"] or "", r["operationId"])
        for r in requests
    ]
    st.dataframe(pd.DataFrame(rows, columns=["#", "Status", "Sync", "Services", "Asked by", "Decided by", "Decided",
                                             "Why", "Sync operation"]),
                 hide_index=True, key="approvals_decided",
                 column_config={"Sync operation": st.column_config.NumberColumn(format="#%d")})


def show_requested(actor: Actor, pending: Sequence[dict[str, Any]]) -> None:
    """Open the decision dialog if a button asked for it."""
    request = widgets.requested_dialog(_DECIDE)
    if request is None:
        return
    found = next((r for r in pending if r["id"] == request["request_id"]), None)
    if found is None:
        widgets.close_dialog()
        widgets.flash("info", f"Request #{request['request_id']} was decided meanwhile: see below.")
        st.rerun()
    decide_dialog(actor, found, bool(request["approve"]))


@st.dialog("Decide on a sync request", width="large", on_dismiss=widgets.close_dialog)
def decide_dialog(actor: Actor, request: dict[str, Any], approve: bool) -> None:
    """The exact diff again, a comment (required to reject) and the decision."""
    scheduled = request.get("firesAt") is not None
    last = approve and len(request["approvals"]) + 1 >= request["required"] and not scheduled
    st.markdown(f"**#{request['id']} · {escape_markdown(request['sourceEnvironment'])} → "
                f"{escape_markdown(request['targetEnvironment'])}**, asked by "
                f"{fmt.literal(request['requestedBy'])}")
    st.dataframe(diff_frame(request), hide_index=True, key="decide_diff")
    if last:
        st.info("Yours is the last approval needed: the sync runs now, after checking that the source digests, the "
                "targets' resourceVersions, freezes and the source's health have not moved since the request.",
                icon=":material/rocket_launch:")
    if scheduled and approve:
        st.info("A scheduled sync: it runs when it fires, if the plan made then is the one approved here "
                "(else it needs the approvals again).", icon=":material/schedule:")
    comment = st.text_area("Comment" + ("" if approve else " (why you reject it)"), key="decide_comment",
                           placeholder="optional" if approve else "required")
    label = ("Approve and run" if last else "Approve") if approve else "Reject"
    icon = ":material/check:" if approve else ":material/close:"
    if widgets.dialog_buttons(label, "decide_confirm", "decide_cancel", icon=icon,
                              disabled=not approve and not comment.strip()):
        with st.spinner("Re-checking and running the sync…" if last else "Saving…"):
            outcome, status = approval_actions.decide(actor, request["id"], approve=approve, comment=comment)
        if status == "stale":
            widgets.flash("warning", outcome.message)
            widgets.close_dialog()
            st.rerun()
        widgets.finish(outcome)



# ---- scheduled requests -----------------------------------------------------------------------------------------

_CANCEL = "cancel_scheduled"


def scheduled_section(actor: Actor, rows: Sequence[approval_actions.ScheduledRow], tz: dt.tzinfo) -> None:
    """Scheduled syncs and promotions: those waiting, each with its fire time in the viewer's time zone and Cancel
    (its requester, or an admin), then how the fired ones ended."""
    waiting = [r for r in rows if r.status == "scheduled"]
    if not waiting:
        st.caption("No sync or promotion is scheduled. `--at` on `sync` or `snapshots promote`, or the Snapshots "
                   "screen, schedules one.")
    for row in waiting:
        with st.container(border=True, key=f"scheduled_{row.id}"):
            head, button = st.columns([4, 1], vertical_alignment="center")
            with head:
                st.markdown(f":material/schedule: **#{row.id} · {escape_markdown(row.what)}** · fires "
                            f"**{escape_markdown(fmt.when(row.fire_at, tz))}**")
                local = fmt.when(row.fire_at, fmt.zone(row.timezone))
                theirs = f" for {local}" if local != fmt.when(row.fire_at, tz) else ""  # in the scheduler's zone
                st.caption(f"Scheduled by {fmt.literal(row.requested_by)}" + escape_markdown(
                    theirs + (f" · approval request #{row.approval_request_id}" if row.approval_request_id
                              else " · planned and checked when it fires")))
            own = row.requested_by.lower() == actor.email.lower()
            why = None if own else refusal(actor, "manage_freeze")
            button.button("Cancel", key=f"scheduled_cancel_{row.id}", icon=":material/event_busy:",
                          disabled=bool(why), help=why, on_click=widgets.open_dialog, args=(_CANCEL,),
                          kwargs={"request_id": row.id, "what": row.what})
    fired = [r for r in rows if r.status != "scheduled"]
    if fired:
        st.dataframe(pd.DataFrame(
            [(r.id, r.what, fmt.when(r.fire_at, tz), r.status, r.reason, r.requested_by, r.operation_id)
             for r in fired],
            columns=["#", "What", "Fired", "Status", "Why", "Scheduled by", "Sync operation"]),
            hide_index=True, key="scheduled_fired",
            column_config={"Sync operation": st.column_config.NumberColumn(format="#%d")})


def show_cancel_requested(actor: Actor) -> None:
    """Open the cancel dialog if a button asked for it."""
    request = widgets.requested_dialog(_CANCEL)
    if request is not None:
        cancel_dialog(actor, int(request["request_id"]), str(request["what"]))


@st.dialog("Cancel a scheduled request", on_dismiss=widgets.close_dialog)
def cancel_dialog(actor: Actor, request_id: int, what: str) -> None:
    """The request again, then Cancel it (its approval request closes with it)."""
    st.markdown(f"**#{request_id} · {escape_markdown(what)}** will not fire; an approval request made for it "
                "closes too.")
    if widgets.dialog_buttons("Cancel the request", "scheduled_cancel_confirm", "scheduled_cancel_keep",
                              icon=":material/event_busy:"):
        widgets.finish(approval_actions.cancel_scheduled(actor, request_id))
