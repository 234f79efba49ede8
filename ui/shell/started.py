"""The operations this browser session started. They run on the server, not in a page's script: the page that
started one moves on at once. What the session keeps of each is its rollout timeout (its live page shows the time
against it), and, on the first run of any page after it finished, its outcome as a flash message."""

from __future__ import annotations

import streamlit as st

from ranchersync import history
from ranchersync.history import OperationDetail
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.humanize import plural, status_word
from ranchersync.models import ACTIVE_OPERATION_STATUSES
from ui.shell import deps, queries, widgets

_STARTED = "started_operations"  # session state: operation id → its rollout timeout in seconds (None: unknown)


def remember(operation_id: int, timeout: float | None) -> None:
    """Note an operation this session started."""
    st.session_state.setdefault(_STARTED, {})[operation_id] = timeout


def timeout_of(operation_id: int) -> float | None:
    """The rollout timeout of an operation this session started (None for another's)."""
    return st.session_state.get(_STARTED, {}).get(operation_id)


def announce_finished() -> None:
    """Queue a message for each operation of this session that has finished since the last run (one read, and
    only while some run)."""
    mine: dict[int, float | None] = st.session_state.get(_STARTED, {})
    if not mine:
        return
    finished: list[OperationDetail] = []
    try:
        with deps.get_context().session() as session:
            for operation_id in list(mine):
                try:
                    found = history.get_operation_detail(session, operation_id)
                except RancherSyncError:  # removed meanwhile (a restored backup): nothing to say
                    mine.pop(operation_id, None)
                    continue
                if found.status not in ACTIVE_OPERATION_STATUSES:
                    mine.pop(operation_id, None)
                    finished.append(found)
    except RancherSyncError:  # the database is away: the outage banner says so; ask again at the next run
        return
    if finished:
        queries.clear_history()
        queries.clear_services()  # the next read shows the versions as they are now
    for found in finished:
        kind, text, detail = outcome_message(found)
        widgets.flash(kind, text, detail, lasting=True)


def outcome_message(found: OperationDetail) -> tuple[widgets.FlashKind, str, str]:
    """How a finished operation is announced: (kind, message, the failed services)."""
    if found.kind == "rollback":
        text = (f"Rollback #{found.id} of #{found.rollback_of_id} in {found.target_environment}: "
                f"{status_word(found.status)}, {plural(found.updated, 'workload')} restored.")
    elif found.ok:
        text = (f"Sync #{found.id} complete: {plural(found.updated, 'workload')} updated in "
                f"{found.target_environment}.")
    else:
        text = (f"Sync #{found.id} {found.source_environment} → {found.target_environment}: "
                f"{status_word(found.status)} · {plural(found.updated, 'workload')} updated.")
    failed = "; ".join(f"{r.service} ({r.target_label}): {r.error or r.status}" for r in found.results
                       if r.status not in ("success", "skipped"))
    return ("success" if found.ok else "error"), text, failed
