"""The Sync history screen's pieces: the filter bar, the metric cards, the operations table and an operation's
detail (with the live panel while it runs), the charts, the exports, and the rollback (confirmed in a dialog, then
run on the server like a sync: the dialog opens the rollback's own live page).

The tables and figures themselves are pure (history_tables.py, history_charts.py); this module draws them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, get_args

import streamlit as st

from ranchersync.access.identity import Actor, refusal
from ranchersync.history import HistoryFilter, Metrics, OperationDetail, Page, date_range, metrics_payload
from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.humanize import duration_text, plural, status_word
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.models import OperationStatus
from ranchersync.sync import new_request_id
from ui.history import history_charts as charts
from ui.history import history_tables as tables
from ui.history import live_operation, measurements_view
from ui.shell import dataframes, queries, url_state, widgets
from ui.shell import format as fmt
from ui.shell.outcome import Outcome
from ui.shell.queries import EnvironmentRow
from ui.sync import sync_actions

PERIOD_DAYS = 30
PAGE = "hist_page"
_FILTERS_SEEN = "hist_filters_seen"
_ROLLBACK = "rollback_operation"
_PUBLISHED = "hist_selected_published"  # the selected operation this page put in the address
_SCROLLED = "hist_scrolled_to"  # the linked operation the page last scrolled to
_TABLE_GENERATION = "hist_ops_generation"  # bumped to drop the table's selection (a started rollback opens instead)
_KINDS = {None: "Syncs and rollbacks", "sync": "Syncs", "rollback": "Rollbacks"}


# ---- filters ------------------------------------------------------------------------------------------------------


def filter_bar(envs: Sequence[EnvironmentRow], tz: dt.tzinfo) -> HistoryFilter:
    """The filters, in one bordered row; a new filter goes back to the first page."""
    names = {e.id: e.name for e in envs}
    today = dt.datetime.now(tz).date()
    period_default = (today - dt.timedelta(days=PERIOD_DAYS - 1), today)
    # Each filter in the address (`?since=…&until=…&environment=Prod&status=failed…`): a link reopens the same list.
    url_state.bind("hist_period", "since", lambda v: _period_from(v[-1], st.query_params.get("until"), today),
                   period_default)
    url_state.bind("hist_env", "environment", url_state.one_of({name: i for i, name in names.items()}), None)
    statuses = [None, *get_args(OperationStatus)]
    url_state.bind("hist_status", "status", url_state.one_of({s: s for s in statuses if s}), None)
    url_state.bind("hist_kind", "kind", url_state.one_of({k: k for k in _KINDS if k}), None)
    url_state.bind("hist_service", "service", url_state.text, "")
    url_state.bind("hist_person", "by", url_state.text, "")
    with st.container(border=True, key="hist_filters"):
        cols = st.columns([2, 1.6, 1.2, 1.4], vertical_alignment="bottom")
        period = cols[0].date_input("Started between", max_value=today, key="hist_period", format="YYYY-MM-DD")
        env_id = cols[1].selectbox("Environment (source or target)", [None, *names],
                                   format_func=lambda i: "All environments" if i is None else names[i],
                                   key="hist_env")
        status = cols[2].selectbox("Status", statuses, key="hist_status",
                                   format_func=lambda s: "Any status" if s is None else status_word(s))
        more = sum(bool(st.session_state.get(k)) for k in ("hist_kind", "hist_service", "hist_person"))
        with cols[3].popover(f"More filters{f' ({more})' if more else ''}", icon=":material/tune:", width="stretch"):
            kind = st.selectbox("Kind", list(_KINDS), format_func=_KINDS.__getitem__, key="hist_kind")
            service = st.text_input("Service", key="hist_service", placeholder="e.g. frontend")
            person = st.text_input("Started by", key="hist_person", placeholder="user name")
    chosen = tuple(period) if isinstance(period, (tuple, list)) else (period,)
    moved = chosen != period_default
    url_state.publish("since", chosen[0].isoformat() if moved and chosen else None)
    url_state.publish("until", chosen[1].isoformat() if moved and len(chosen) > 1 else None)
    url_state.publish("environment", names[env_id] if env_id in names else None)
    url_state.publish("status", status)
    url_state.publish("kind", kind)
    url_state.publish("service", service or None)
    url_state.publish("by", person or None)
    days = tuple(period) if isinstance(period, (tuple, list)) else (period,)
    since, until = date_range(days[0] if days else None, days[1] if len(days) > 1 else None)
    try:
        filters = HistoryFilter(environment_id=env_id, status=status, service=service, initiated_by=person,
                                since=since, until=until, kind=kind)
    except ValidationError as error:
        st.warning(f"**These filters cannot be used:** {escape_markdown(error)}", icon=":material/filter_alt_off:")
        filters = HistoryFilter(since=since, until=until)
    if st.session_state.get(_FILTERS_SEEN) != filters:
        st.session_state[_FILTERS_SEEN] = filters
        st.session_state[PAGE] = 1  # allowed: the pagination is drawn later in the run
    return filters


def _period_from(since: str, until: str | None, today: dt.date) -> tuple[dt.date, ...] | None:
    """The period a link names (`since`, and `until` or today), None when the dates cannot be read."""
    try:
        first = dt.date.fromisoformat(since)
        last = dt.date.fromisoformat(until) if until else today
    except ValueError:
        return None
    return (min(first, today), min(max(last, first), today))


# ---- the metric cards -----------------------------------------------------------------------------------------------


def metric_cards(metrics: Metrics) -> None:
    """The period's headline figures."""
    rate, restore = metrics.change_failure_rate, metrics.restore
    cols = st.columns(5)
    cols[0].metric("Operations", metrics.operations, border=True,
                   help="Syncs and rollbacks started in the period, with the filters above.")
    cols[1].metric("Succeeded", charts.percent(metrics.headline.success_rate), border=True,
                   help="Finished operations that completed: every service updated and verified.")
    cols[2].metric("Syncs per week", "—" if (w := metrics.headline.deploys_per_week) is None else w,
                   border=True, help="Syncs per week into any environment, over the whole period.")
    cols[3].metric("Change failures", charts.percent(rate.rate), f"{rate.failed} of {rate.syncs} syncs",
                   delta_color="off", delta_arrow="off", border=True,
                   help="Change failure rate: syncs that failed, or needed a rollback or another fix within a day.")
    cols[4].metric("Time to restore", charts.median_restore_text(metrics),
                   f"{plural(restore.incidents, 'incident')}" + (f", {restore.open} open" if restore.open else ""),
                   delta_color="off", delta_arrow="off", border=True,
                   help="Median time from a failed service to the next successful change of it.")


# ---- the operations table and an operation's detail ----------------------------------------------------------------


def operations_table(page: Page, colors: Mapping[str, str], tz: dt.tzinfo) -> int | None:
    """The page of operations; returns the id of the selected one."""
    frame = tables.operations_frame(page.items, tz)
    first = (page.page - 1) * page.page_size
    st.caption(f"{first + 1}–{first + len(page.items)} of {plural(page.total, 'operation')}, newest first · "
               f"times in {fmt.zone_label(tz)} · select a row to open it")
    event = st.dataframe(
        tables.style_operations(frame, colors),
        key=dataframes.selection_key("hist_ops", frame, st.session_state.get(_TABLE_GENERATION, 0)),
        on_select="rerun", selection_mode="single-row", width="stretch",
        column_config={"#": st.column_config.NumberColumn(width=50, format="%d")},
    )
    return tables.id_at(frame, event.selection.rows)


def linked_operation() -> int | None:
    """The operation a link names (`?operation=N`: notifications link to their sync, a started sync or rollback
    opens its live page so), None when none or not a number."""
    value = st.query_params.get("operation", "")
    return int(value) if value.isdigit() else None


def publish_selected(selected: int | None) -> None:
    """A selected row goes into the address (`?operation=N`); unselecting it takes it out again, but leaves an
    operation a link or a started rollback put there."""
    if selected is not None:
        st.query_params["operation"] = str(selected)
        st.session_state[_PUBLISHED] = selected
        st.session_state[_SCROLLED] = selected  # already in view: it was just clicked
    elif (published := st.session_state.pop(_PUBLISHED, None)) is not None and linked_operation() == published:
        del st.query_params["operation"]


def arrived_at(operation_id: int) -> bool:
    """Whether the page was just opened on this operation by a link (the detail is then scrolled into view, once:
    later runs leave the scroll where the user put it)."""
    if st.session_state.get(_SCROLLED) == operation_id:
        return False
    st.session_state[_SCROLLED] = operation_id
    return True


def latest(limit: int, colors: Mapping[str, str], tz: dt.tzinfo) -> None:
    """The newest operations, for the Overview, with a link to the whole history."""
    newest = queries.history_page(HistoryFilter(), 1, queries.history_stamp())
    if not newest.items:
        widgets.empty_state("No syncs yet. Select services on the Services screen to promote them from one "
                            "environment to the next; every sync and rollback is kept here.", icon=":material/history:")
        return
    frame = tables.operations_frame(newest.items[:limit], tz)
    st.dataframe(tables.style_operations(frame, colors), key="overview_latest_syncs", width="stretch",
                 column_config={"#": st.column_config.NumberColumn(width=50, format="%d")})
    st.page_link("pages/5_Sync_history.py", label=f"Open the sync history ({plural(newest.total, 'operation')})",
                 icon=":material/arrow_forward:")


def pager(page: Page) -> None:
    """The pagination under the table, when there is more than one page."""
    st.session_state[PAGE] = page.page
    if page.pages > 1:
        st.pagination(page.pages, key=PAGE)


def detail(actor: Actor, operation_id: int, envs: Mapping[str, EnvironmentRow], tz: dt.tzinfo, *,
           linked: bool = False) -> None:
    """An opened operation: who, when, each service's containers with previous → new image, and Roll back. `linked`:
    opened by a link (a notification's, or a sync just started), scrolled into view when the page opens on it."""
    found = queries.operation_detail(operation_id, queries.history_stamp())
    if found is None:
        return
    if linked and arrived_at(operation_id):
        widgets.scroll_into_view("hist_detail")
    with st.container(border=True, key="hist_detail"):
        with st.container(horizontal=True, vertical_alignment="center"):
            kind = "Rollback" if found.kind == "rollback" else "Sync"
            st.markdown(f"#### {kind} #{found.id}", width="content")
            _route(found, envs)
            _badge(found.status)
        st.caption(_when(found, tz))
        if found.error:
            st.warning(escape_markdown(found.error), icon=":material/warning:")
        if found.status in ("pending", "running"):
            target = envs.get(found.target_environment)
            live_operation.live(actor, found.id, refusal(actor, "sync", protected=bool(target and target.protected),
                                                         environment=found.target_environment))
        st.dataframe(tables.style_results(tables.results_frame(found)), hide_index=True, key="hist_results",
                     column_config={"Error": st.column_config.TextColumn(width="medium")})
        if changelog := tables.changelog_lines(found):
            with st.container(key="hist_changelog"):
                st.markdown("**Changelog**\n\n" + "\n".join(f"- {line}" for line in changelog))
        if found.status not in ("pending", "running"):  # while it runs, the live progress above shows them
            measurements_view.table([(r.service, r.location, m) for r in found.results for m in r.measurements], tz,
                                    key="hist_measurements")
        allowed, why = tables.can_roll_back(found)
        target = envs.get(found.target_environment)
        locked = refusal(actor, "sync", protected=bool(target and target.protected),
                         environment=found.target_environment)
        if allowed and locked:
            allowed, why = False, locked
        st.button("Roll back…", key="hist_rollback", icon=":material/undo:", disabled=not allowed,
                  help=escape_markdown(why) if why else None,
                  on_click=widgets.open_dialog, args=(_ROLLBACK,),
                  kwargs={"operation_id": found.id, "request_id": new_request_id()})


def _route(found: OperationDetail, envs: Mapping[str, EnvironmentRow]) -> None:
    source, target = envs.get(found.source_environment), envs.get(found.target_environment)
    if found.kind == "rollback" or found.source_environment == found.target_environment:
        shown = [target] if target else []
    else:
        shown = [e for e in (source, target) if e is not None]
    if shown and len(shown) == (1 if found.kind == "rollback" else 2):
        with st.container(width="content"):
            widgets.pipeline(shown)
    else:  # an environment was removed since: its name as recorded
        st.markdown(escape_markdown(f"{found.source_environment} → {found.target_environment}"), width="content")


def _badge(status: str) -> None:
    st.badge(status_word(status), color=tables.BADGE_COLOR.get(status, "gray"),  # type: ignore[arg-type]
             icon=tables.BADGE_ICON.get(status))


def _when(found: OperationDetail, tz: dt.tzinfo) -> str:
    parts = [f"by {fmt.literal(found.initiated_by)}",
             f"started {fmt.when(found.started_at or found.created_at, tz)}",
             f"took {duration_text(found.duration_seconds)}" if found.finished_at else "still running",
             f"{found.mode} image" if found.mode == "full" else "tag only",
             plural(len(found.services), "service")]
    if found.rollback_of_id:
        parts.append(f"rolls back #{found.rollback_of_id}")
    if found.rolled_back_by:
        parts.append("rolled back by " + ", ".join(f"#{i}" for i in found.rolled_back_by))
    return " · ".join(parts)


# ---- charts and exports --------------------------------------------------------------------------------------------


def charts_grid(metrics: Metrics, colors: Mapping[str, str]) -> None:
    """The charts of the period, two by two, then the lead times between environments."""
    if not metrics.operations:
        widgets.empty_state("No operation in this period: widen the dates or clear a filter.",
                            icon=":material/bar_chart:")
        return
    figures = [
        ("chart_daily", charts.daily_chart(metrics)), ("chart_success", charts.success_chart(metrics)),
        ("chart_deployments", charts.deployments_chart(metrics, colors)),
        ("chart_failures", charts.failure_chart(metrics, colors)),
        ("chart_durations", charts.duration_chart(metrics)),
    ]
    for index in range(0, len(figures), 2):
        for column, (key, figure) in zip(st.columns(2), figures[index:index + 2], strict=False):
            with column.container(border=True):
                st.plotly_chart(figure, width="stretch", theme="streamlit", key=key)
    lead = charts.lead_time_frame(metrics)
    st.markdown("**Lead time between environments** :small[(median, from a version first running in one "
                "environment to it running in the next)]")
    if lead.empty:
        st.caption("No version has gone from one environment to the next in this period yet.")
    for column, row in zip(st.columns(max(len(lead), 1)), lead.itertuples(index=False), strict=False):
        column.metric(escape_markdown(row.pair), duration_text(row.median_seconds),
                      plural(row.versions, "version"),
                      delta_color="off", delta_arrow="off", border=True)


def exports(filters: HistoryFilter, metrics: Metrics) -> None:
    """Download the filtered history as CSV, and the period's metrics as JSON."""
    stem = f"sync-history-{metrics.since or 'start'}-{metrics.until or 'now'}"
    st.download_button("History CSV", lambda: queries.history_csv(filters), file_name=f"{stem}.csv",
                       mime="text/csv", key="hist_csv", icon=":material/download:")
    st.download_button("Metrics JSON", json.dumps(metrics_payload(metrics), indent=2),
                       file_name=f"{stem}-metrics.json", mime="application/json", key="hist_json",
                       icon=":material/data_object:")


# ---- the rollback --------------------------------------------------------------------------------------------------


def show_requested(actor: Actor) -> None:
    """Open the rollback's confirmation if the button asked for it."""
    if widgets.requested_dialog(_ROLLBACK) is not None:
        confirm_rollback(actor)


@st.dialog("Roll back", width="large", on_dismiss=widgets.close_dialog)
def confirm_rollback(actor: Actor) -> None:
    """Exactly what will change back; applied only from here, once."""
    request = widgets.requested_dialog(_ROLLBACK)
    if request is None:
        return
    found = queries.operation_detail_now(request["operation_id"])  # now, not the cached view: what will happen
    if found is None or request.get("started"):
        done = "This rollback was started already: it is in the history." if found else "It was removed."
        _close_with(Outcome(False, done, title="Nothing to roll back"))
        return
    target = next((e for e in queries.environments() if e.id == found.target_environment_id), None)
    if target is not None:
        widgets.pipeline([target])
    if (problem := request.pop("problem", None)) is not None:
        widgets.show_outcome(problem)
    allowed, why = tables.can_roll_back(found)
    if not allowed:
        _close_with(Outcome(False, why, title="Nothing to roll back"))
        return
    rows = tables.rollback_rows(found)
    st.markdown(f"**{plural(len(rows), 'container')}** in {escape_markdown(found.target_environment)} will go "
                f"back to the images "
                f"that {found.kind} #{found.id} replaced:")
    st.dataframe(rows, hide_index=True, key="rollback_plan")
    st.caption("A service whose image was changed again since is left alone and reported. A rollback that fails is "
               "not rolled back in turn.")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        typed = None
        if target is not None and target.protected:
            typed = st.text_input(f":material/lock: {escape_markdown(target.name)} is protected: type its name to "
                                  "confirm (case-sensitive)",
                                  key="rollback_confirm", autocomplete="off", width=320,
                                  help="Exactly as written, capitals included.")
        ready = target is None or not target.protected or typed == target.name
        services = len(set(rows["Service"]))
        # Disabled from the click on: the click's own run sees it through the callback's mark.
        st.button(f"Roll back {plural(services, 'service')} in {escape_markdown(found.target_environment)}",
                  key="rollback_apply", type="primary", icon=":material/undo:",
                  disabled=not ready or request.get("clicked", False), on_click=_clicked, args=(request,))
        if st.button("Cancel", key="rollback_cancel"):
            widgets.close_dialog()
            st.rerun()
    if request.pop("clicked", False) and ready:
        request["clicked"] = True  # drawn disabled above; still so if this run is stopped before it ends
        _apply(actor, request, found, typed)


def _clicked(request: dict[str, Any]) -> None:
    """The rollback was confirmed (an on_click callback: it runs before the run the click starts, which draws the
    button disabled and starts it)."""
    request["clicked"] = True


def _close_with(outcome: Outcome) -> None:
    widgets.show_outcome(outcome)
    if st.button("Close", key="rollback_close"):
        widgets.close_dialog()
        st.rerun()


def _apply(actor: Actor, request: dict[str, Any], found: OperationDetail, typed: str | None) -> None:
    """Start the rollback on the server and open its live page; a refusal is said in the dialog."""
    request["started"] = True  # a rerun that stops this one must not offer to roll back again
    result = sync_actions.start_rollback(actor, found.id, request_id=request["request_id"], confirm_env=typed)
    if isinstance(result, Outcome):
        request.update(started=False, clicked=False, problem=result)  # refused before anything changed: say why
        queries.clear_stored()  # a protection switched on meanwhile shows at once
        st.rerun()
    widgets.close_dialog()
    st.query_params["operation"] = str(result)  # the rollback's live page, addressable like any operation
    # The selected row (the operation rolled back) would win over the link, whatever the filters list now.
    st.session_state[_TABLE_GENERATION] = st.session_state.get(_TABLE_GENERATION, 0) + 1
    st.rerun()
