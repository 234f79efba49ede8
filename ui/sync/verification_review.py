"""The review's verification part: which gates and soak will run after each rollout into the target, and what a
failure does with the options chosen (the gates run only when the rollouts are waited for)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from ranchersync.kernel.humanize import duration_text, plural
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.sync import SyncOptions
from ui.shell import deps


def show(target_id: int, options: SyncOptions, services: Sequence[str]) -> None:
    """One block under the plan: the target's gates (name, condition, count × interval) and soak, and where a
    service of the plan has its own gates (an override, a gate disabled for it), what runs for it; or nothing."""
    from ranchersync.verification import gates

    with deps.get_context().session() as session:
        found = gates.checks_payload(session, target_id)
        shared = [g for g in found["gates"] if not g["service"]]
        own = {name: gates.service_gates_payload(session, target_id, name) for name in dict.fromkeys(services)}
    if not found["gates"] and not found["soakSeconds"]:
        return
    parts = [_gate(g) for g in shared]
    differs = {name: listed for name, listed in own.items()
               if [(g["id"]) for g in listed] != [g["id"] for g in shared]}
    if found["soakSeconds"]:
        parts.append(f"**soak** {duration_text(found['soakSeconds'])} without restarts")
    with st.container(key="sync_verification"):
        target = escape_markdown(found["environment"])
        if not options.verify:
            st.warning(f"{target}'s gates and soak will **not** run: waiting for each rollout is off (Options).",
                       icon=":material/monitoring:")
            return
        then = ("the service fails and the sync rolls back" if options.auto_rollback
                else "the service fails and stays as it is (rollback is off)")
        st.markdown(f":material/monitoring: **After each rollout into {target}**: " + (" · ".join(parts) or "no gate")
                    + f". If one fails, {then}.")
        for name, listed in differs.items():
            st.caption(f"For **{escape_markdown(name)}**: " + (" · ".join(_gate(g) for g in listed) or "no gate")
                       + " (its own gates and exemptions).")


def _gate(g: Mapping[str, Any]) -> str:
    return (f"**{escape_markdown(g['name'])}** `{g['success']}` ({g['count']} × every "
            f"{duration_text(g['intervalSeconds'])}, {plural(g['failureLimit'], 'failure')} tolerated)")
