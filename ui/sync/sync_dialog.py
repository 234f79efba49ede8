"""The sync flow of the Services screen: the bar above a table (source, target, "Review sync"), the review dialog
(the exact plan, the target app instances, the mode, GitOps warnings, the typed confirmation) and the start: the
sync runs on the server, and the user lands on its live page (the history's detail of the operation).

One confirmation, one request id: it is drawn when the review opens and kept with the open dialog, and the
database refuses to apply the same one twice, so neither a double click nor a rerun can apply a plan twice (and
the button is disabled from the click on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from ranchersync import sync
from ranchersync.access.identity import Actor, refusal
from ranchersync.catalogue.rules import next_in_pipeline
from ranchersync.kernel.humanize import plural
from ranchersync.kernel.images import RetagMode
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.sync import (
    PlannedContainer,
    ServicePlan,
    SyncOptions,
    SyncPlan,
    SyncSides,
    TargetChoice,
    new_request_id,
)
from ui.shell import frame, queries, widgets
from ui.shell.outcome import Outcome
from ui.shell.queries import EnvironmentRow
from ui.sync import sync_actions, sync_selection, verification_review
from ui.sync.sync_selection import Selection

_REVIEW = "review_sync"
_PIN_HELP = ("Promote repo:tag@sha256:… (the digest the source's pods run, else the one the tag names now), so the "
             "target runs exactly the tested bits whatever the tag names at pull time.")
_MODES: dict[RetagMode, str] = {"full": "Full image", "tag": "Tag only"}
_MODE_HELP = ("Full image: the target runs exactly what the source runs. Tag only: the target keeps its own "
              "registry and repository and takes the source's tag (for registries that differ per environment).")


# ---- the bar above a table --------------------------------------------------------------------------------------


def sync_bar(
    actor: Actor,
    selection: Selection,
    envs: Sequence[EnvironmentRow],
    *,
    prefix: str,
    source: EnvironmentRow | None = None,
    default_target: int | None = None,
) -> None:
    """One row above the table: the selected services, a source (fixed when given) and a target (the next in the
    pipeline by default), and the button that opens the review. Without a fixed source the default direction
    follows the pipeline into `default_target` (the sidebar's environment): from the environment before it, or from
    it into the next when it is the first; the defaults follow when that environment changes."""
    ids = [e.id for e in envs]
    if selection.bar is None or len(ids) < 2:
        return
    names = {e.id: e.name for e in envs}
    keys = selection.keys
    with selection.bar.container(horizontal=True, vertical_alignment="center", border=True, key=f"{prefix}_sync"):
        listed = escape_markdown(", ".join(name for _, name in keys[:3]) + (f" +{len(keys) - 3}" if len(keys) > 3
                                                                             else ""))
        st.markdown(f"**Sync {plural(len(keys), 'service')}** :small[({listed})]" if keys else
                    ":small[Select services below to sync them]", width="stretch")
        st.markdown("from", width="content")
        if source is not None:
            source_id = source.id
            widgets.chip(source)
        else:
            this = default_target if default_target in ids else ids[-1]
            start = ids[max(ids.index(this) - 1, 0)]
            follows, source_key = f"{prefix}_source_follows", f"{prefix}_source"
            if st.session_state.get(follows) != this or source_key not in st.session_state:
                st.session_state[follows] = this  # allowed: the selectboxes are not drawn yet
                st.session_state[source_key] = start
                st.session_state[f"{prefix}_target_{start}"] = next_in_pipeline(ids, start)
            source_id = st.selectbox("From", ids, format_func=names.__getitem__,
                                     key=source_key, label_visibility="collapsed", width=150)
        st.markdown("to", width="content")
        targets = [i for i in ids if i != source_id]
        default = next_in_pipeline(ids, source_id)
        # Keyed on the source, so the default follows it: the next environment of the pipeline.
        target_id = st.selectbox("To", targets, index=targets.index(default) if default in targets else 0,
                                 format_func=names.__getitem__, key=f"{prefix}_target_{source_id}",
                                 label_visibility="collapsed", width=150)
        locked = refusal(actor, "request_sync")
        if locked:  # a viewer gets no sync button at all (and the core refuses a sync anyway)
            st.caption(f":material/lock: {escape_markdown(locked)}", width="content")
            return
        st.button("Review sync", key=f"{prefix}_review", type="primary", icon=":material/rule:",
                  disabled=not keys, on_click=open_review, args=(source_id, target_id, list(keys)),
                  help=None if keys else "Select one or more services first.")


def open_review(source_id: int, target_id: int, keys: list[tuple[str, str]]) -> None:
    """Ask for the review dialog, with a request id of its own (an on_click callback)."""
    widgets.open_dialog(_REVIEW, source_id=source_id, target_id=target_id, services=[list(k) for k in keys],
                        request_id=new_request_id())


def show_requested(actor: Actor) -> None:
    """Open the review if a button asked for it."""
    if widgets.requested_dialog(_REVIEW) is not None:
        review_sync(actor)


# ---- the review -------------------------------------------------------------------------------------------------


@st.dialog("Review sync", width="large", on_dismiss=widgets.close_dialog)
def review_sync(actor: Actor) -> None:
    """The exact plan; applied only from here, once."""
    request = widgets.requested_dialog(_REVIEW)
    if request is None:
        return
    envs = {e.id: e for e in queries.environments()}
    source, target = envs.get(request["source_id"]), envs.get(request["target_id"])
    if source is None or target is None:
        _close_with(Outcome(False, "An environment of this sync was removed meanwhile.", title="Nothing to sync"))
        return
    widgets.pipeline([source, target])
    if (problem := request.pop("problem", None)) is not None:
        widgets.show_outcome(problem)
    if request.get("started"):
        # The previous run was stopped while starting it (the operation itself runs on the server).
        _close_with(Outcome(False, "This sync was started already: it is in the sync history.",
                            title="Already started"))
        return
    sides = request.get("sides")
    if sides is None:
        with st.spinner(f"Reading {escape_markdown(source.name)} and {escape_markdown(target.name)} from Rancher…"):
            sides = sync_actions.read_sync_sides(source.id, target.id)
        if isinstance(sides, Outcome):
            _close_with(sides, retry=True)  # not kept: the next run reads again
            return
        request["sides"] = sides  # kept while the dialog is open: re-planning needs no new read
    keys = [(kind, name) for kind, name in request["services"]]
    present = [k for k in keys if sides.source_has(k)]
    mode_col, pin_col, choice_col = st.columns([1, 0.8, 2.4], vertical_alignment="bottom")
    mode = mode_col.segmented_control("Mode", list(_MODES), format_func=_MODES.__getitem__, default="full",
                                      required=True, key="sync_mode", help=_MODE_HELP) or "full"
    # Starts at the target's setting (on for a protected target until set), as on the command line.
    pin = pin_col.toggle("Pin digests", value=sides.target_pins_digests, key="sync_pin", help=_PIN_HELP)
    with choice_col:
        targets = _target_choices(sides, present)
    plan = sync_actions.plan_sync(sides, present, mode=mode, targets=targets)
    if not isinstance(plan, Outcome):
        plan = _checked(request, plan, targets, pin, source.name)
    if isinstance(plan, Outcome):
        _close_with(plan)  # a quarantined digest: refused with its reason, nothing applied
        return
    _show_plan(plan, [k for k in keys if k not in present], sides)
    markdown_col, options_col = st.columns(2)
    with markdown_col.expander("Copy as Markdown (for a change ticket)", icon=":material/content_copy:"):
        st.code(plan.to_markdown(), language="markdown")
    with options_col:
        options = _options()
    verification_review.show(target.id, options, [item.name for item in plan.to_apply])
    needed = sync_actions.approvals_needed(actor, target.id)  # four-eyes: the sync becomes a request
    if needed:
        st.info(f"This will create an approval request ({plural(needed, 'approval')} needed) instead of "
                "applying: the sync runs once other people approve it on the Approvals page.",
                icon=":material/approval:")
    override = _source_health(actor, plan)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        typed = _confirmation(sides)
        ready = (bool(plan.to_apply) and (not sides.target_protected or typed == target.name)
                 and override is not False)
        label = f"Apply {plural(len(plan.to_apply), 'change')} to {escape_markdown(target.name)}"
        if needed:
            label = f"Request approval for {plural(len(plan.to_apply), 'change')}"
        # Disabled from the click on: the click's own run sees it through the callback's mark.
        st.button(label, key="sync_apply", type="primary", icon=":material/rocket_launch:",
                  disabled=not ready or request.get("clicked", False), on_click=_clicked, args=(request,),
                  help="The source is not healthy: see why above." if override is False else None)
        if st.button("Cancel", key="sync_cancel"):
            widgets.close_dialog()
            st.rerun()
    if request.pop("clicked", False) and ready:
        request["clicked"] = True  # drawn disabled above; still so if this run is stopped before it ends
        _apply(actor, request, plan, typed, options, override=override if isinstance(override, str) else None)


def _clicked(request: dict[str, Any]) -> None:
    """Apply was clicked (an on_click callback: it runs before the run the click starts, which draws the button
    disabled and applies)."""
    request["clicked"] = True


def _source_health(actor: Actor, plan: SyncPlan) -> str | bool:
    """Each source service's health ("healthy in Stage since …"); when one is not fit to be promoted, why, and for a
    releaser a reason field to override the policy. True: nothing to override; False: refused (no reason given or
    allowed); a text: the reason to override with."""
    lines = sync.health_lines(plan)
    problems = sync.source_problems(plan)
    if not problems:
        if lines:
            st.caption(":material/health_and_safety: " + escape_markdown(" · ".join(lines)))
        return True
    listed = "\n".join(f"- {escape_markdown(p.sentence)}" for p in problems)
    st.error(f"**The source is not healthy: this sync is refused.**\n\n{listed}", icon=":material/heart_broken:")
    if refusal(actor, "override_policy") is not None:
        st.caption("Promote it once it runs healthy; a releaser may override this with a reason.")
        return False
    reason = st.text_input("Reason to override the source-health policy (kept in the audit log)",
                           key="sync_override_reason", max_chars=500).strip()
    return reason or False


def _close_with(outcome: Outcome, *, retry: bool = False) -> None:
    widgets.show_outcome(outcome)
    with st.container(horizontal=True):
        if retry:
            st.button("Try again", key="sync_retry", icon=":material/refresh:")  # any rerun reads again
        if st.button("Close", key="sync_close"):
            widgets.close_dialog()
            st.rerun()


def _target_choices(sides: SyncSides, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], TargetChoice]:
    """A choice for each service that several app instances of the target run: one of them, or all."""
    choices: dict[tuple[str, str], TargetChoice] = {}
    for kind, name in keys:
        found = sides.target_instances((kind, name))
        if len(found) < 2:
            continue
        every = "Both" if len(found) == 2 else f"All {len(found)}"
        labels: dict[TargetChoice, str] = {"all": f"{every}: {', '.join(n for _, n in found)}"}
        labels.update({instance_id: f"Only {n}" for instance_id, n in found})
        choices[(kind, name)] = st.selectbox(
            escape_markdown(f"{name} runs in {len(found)} app instances of {sides.target.name}: update"), list(labels),
            format_func=labels.__getitem__, key=f"sync_target_{kind}_{name}")
    return choices


def _checked(request: dict[str, Any], plan: SyncPlan, targets: dict[tuple[str, str], TargetChoice], pin: bool,
             source: str) -> SyncPlan | Outcome:
    """The plan after the core's checks (registries, quarantine, pinning), kept with the open dialog per mode,
    target choice and pinning: a rerun of the dialog (typing the confirmation) asks no registry again."""
    key = (plan.mode, tuple(sorted((f"{k}/{n}", str(v)) for (k, n), v in targets.items())), pin)
    done: dict[Any, SyncPlan | Outcome] = request.setdefault("checked", {})
    if key not in done:
        with st.spinner(f"Resolving the new images in their registries (what {escape_markdown(source)} runs, what "
                        "each tag names now)…", show_time=True):
            done[key] = sync_actions.check_plan(plan, pin_digests=pin)
    return done[key]


def _short(digest: str | None) -> str:
    """``sha256:1a2b3c4d5e6f``: enough to tell images apart in a table."""
    if not digest:
        return ""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}"


def _link(url: str) -> str:
    """A URL from an image label, safe inside a Markdown link (only http(s), brackets and spaces encoded)."""
    return quote(url, safe=":/?#@!$&'*+,;=%-._~")


def _show_plan(plan: SyncPlan, absent: Sequence[tuple[str, str]], sides: SyncSides) -> None:
    changes = [(item, c) for item in plan.to_apply for c in item.changes]
    checked = any(c.new_digest or c.source_digest or c.changelog is not None for _, c in changes)
    rows = [
        (item.name, item.kind, item.target_label, f"{c.name} (init)" if c.init else c.name, c.current, c.new)
        + ((_short(c.source_digest) or "not read", _short(c.new_digest) or "not checked",
            "⚠ moved" if c.tag_moved else "", c.changelog.sentence(link=False) if c.changelog else "",
            c.changelog.compare_url if c.changelog else None) if checked else ())
        for item, c in changes
    ]
    if rows:
        st.markdown(f"**{plural(len(plan.to_apply), 'workload')} will change** in "
                    f"{escape_markdown(plan.target.name)}:")
        columns = ["Service", "Kind", "Target app instance", "Container", "Current image", "New image"]
        if checked:
            columns += [f"{plan.source.name} runs", "Tag names now", "Tag moved", "Changelog", "Compare"]
        # The short facts before the long image references, so they stay in view.
        order = [*columns[:4], *columns[6:], *columns[4:6]] if checked else columns
        st.dataframe(pd.DataFrame(rows, columns=columns), hide_index=True, key="sync_plan_table", column_order=order,
                     column_config={"Compare": st.column_config.LinkColumn(display_text="compare")})
        _digests_and_changelog(plan, changes)
    else:
        st.info("Nothing to change: every selected service is skipped (see why below).", icon=":material/info:")
    skipped = [(i.name, i.target_label, f"{i.skip_reason}{': ' + i.detail if i.detail else ''}")
               for i in plan.skipped]
    skipped += [(name, "—", f"not in {sides.source.name}") for _, name in absent]
    if skipped:
        st.markdown(f"**{plural(len(skipped), 'service')} skipped:**")
        st.dataframe(pd.DataFrame(skipped, columns=["Service", "Target app instance", "Why"]), hide_index=True,
                     key="sync_skipped_table")
    for warning in plan.warnings:
        st.warning(escape_markdown(warning), icon=":material/sync_problem:")


def _digests_and_changelog(plan: SyncPlan, changes: Sequence[tuple[ServicePlan, PlannedContainer]]) -> None:
    """Per changed container: a tag that moved since the source was tested (a warning), and the changelog with its
    compare link — as text, so it is read (and copied) without opening the table."""
    source = escape_markdown(plan.source.name)
    for item, c in changes:
        if c.tag_moved:
            st.warning(f"**{escape_markdown(item.name)}** ({escape_markdown(c.name)}): **the tag moved since {source} "
                       f"was tested** — {source} runs `{_short(c.source_digest)}`, the tag names "
                       f"`{_short(c.new_digest)}` now." + (" Pinned: the target gets what the source runs."
                                                          if "@" in c.new else ""),
                       icon=":material/move_up:")
    lines = []
    for item, c in changes:
        if c.changelog is None:
            continue
        log = c.changelog
        text = escape_markdown(log.sentence(link=False))
        if log.compare_url:
            text += f" · [compare]({_link(log.compare_url)})"
        elif log.source and log.source.startswith(("https://", "http://")):
            text += f" · [source]({_link(log.source)})"
        lines.append(f"- **{escape_markdown(item.name)}** ({escape_markdown(item.target_label)}, "
                     f"{escape_markdown(c.name)}): {text}")
    if lines:
        with st.container(key="sync_changelog"):
            st.markdown("**Changelog**\n\n" + "\n".join(lines))


def _options() -> SyncOptions:
    with st.expander("Options", icon=":material/tune:"):
        verify = st.toggle("Wait for each rollout to finish", value=True, key="sync_verify")
        rollback = st.toggle("Roll every change back when a service fails", value=True, key="sync_rollback")
        timeout = st.number_input("Rollout timeout (seconds)", min_value=10, max_value=3600, value=300, step=30,
                                  key="sync_timeout", disabled=not verify)
    return SyncOptions(verify=verify, auto_rollback=rollback, timeout_seconds=float(timeout), poll_seconds=0.5)


def _confirmation(sides: SyncSides) -> str | None:
    if not sides.target_protected:
        return None
    name = escape_markdown(sides.target.name)
    return st.text_input(f":material/lock: {name} is protected: type its name to confirm (case-sensitive)",
                         key="sync_confirm", autocomplete="off", width=320, placeholder=sides.target.name,
                         help="Exactly as written, capitals included.")


# ---- applying ---------------------------------------------------------------------------------------------------


def _apply(
    actor: Actor, request: dict[str, Any], plan: SyncPlan, typed: str | None, options: SyncOptions, *,
    override: str | None = None,
) -> None:
    """Start the sync on the server and land on its live page; an approval request or a refusal is said here."""
    request["started"] = True  # a rerun that stops this one must not offer to apply again
    result = sync_actions.start_sync(actor, plan, request_id=request["request_id"], confirm_env=typed,
                                     options=options, override_policy=override)
    if isinstance(result, Outcome) and result.ok:  # the sync became an approval request
        widgets.flash_outcome(result)
        widgets.close_dialog()
        st.rerun()
    if isinstance(result, Outcome):
        # Refused before anything changed (a busy target, a protection switched on meanwhile…): read both
        # environments again, so the user reviews what is there now, and show why above the fresh plan.
        request.update(started=False, clicked=False, problem=result)
        request.pop("sides", None)
        request.pop("checked", None)
        st.rerun()
    sync_selection.clear_selections()
    widgets.close_dialog()
    st.switch_page(frame.PAGES["Sync history"], query_params={"operation": str(result)})
