"""The Services screen's pieces: the services table of one environment with its filters, the comparison of several
environments, and the service counts of the Overview. The tables themselves are built in services_tables.py.

Both tables select by position: each is keyed on the ids it shows (`selection_key`), so a selection never outlives
the rows it was made on, and positions are mapped to ids in the same run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ranchersync.governance import quarantine
from ranchersync.governance.locks import LockView
from ranchersync.inventory.compare import CompareBy
from ranchersync.inventory.reading import InstanceFailure
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.humanize import duration_text, plural
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.rancher import PROMOTABLE_KINDS
from ui.services import locks_view
from ui.services import services_tables as tables
from ui.shell import dataframes, frame, quarantine_flags, queries, throttle, url_state, widgets
from ui.shell import format as fmt
from ui.shell.comparison_table import ComparisonTable, row_notes
from ui.shell.outcome import Outcome
from ui.shell.queries import EnvironmentRow
from ui.sync import sync_selection

_REFRESH_NOTE = "services_refresh_note"  # "Refreshed 3 s ago": shown once, after a throttled click


def freshness_text(source: str, observed_at: dt.datetime | None, stale: Sequence[str],
                   fetched_at: dt.datetime | None, now: dt.datetime, tz: dt.tzinfo) -> str | None:
    """Where the shown services come from: "live" from the collector's watches; "as of 12 s ago — why" when a
    collector exists but some cluster had to be read from Rancher (its watch reconnecting, the collector stopped);
    else, without a collector, the time of the read."""
    if source == "watch":
        return ":green[:material/sensors:] live"
    if stale:
        seen = observed_at or fetched_at
        age = "" if seen is None else f"as of {_age((now - seen).total_seconds())} — "
        return f":orange[:material/sensors_off:] {age}{'; '.join(escape_markdown(s) for s in stale)}"
    if fetched_at is not None:
        return f":material/schedule: Data as of {fmt.clock(fetched_at, tz)}"
    return None


def _age(seconds: float) -> str:
    return "now" if seconds < 1 else f"{round(seconds)} s ago" if seconds < 60 else f"{duration_text(seconds)} ago"


def data_bar(source: str, observed_at: dt.datetime | None, stale: Sequence[str], fetched_at: dt.datetime | None,
             tz: dt.tzinfo, key: str) -> None:
    """Where the data comes from (and how old it is) and the refresh button (which fetches anew for this browser)."""
    with st.container(horizontal=True, vertical_alignment="center", horizontal_alignment="right"):
        if text := freshness_text(source, observed_at, stale, fetched_at, dt.datetime.now(dt.UTC), tz):
            st.caption(text, width="content")
        if note := st.session_state.pop(_REFRESH_NOTE, None):
            st.caption(f":material/history: {note}", width="content")
        st.button("Refresh", key=key, icon=":material/refresh:", on_click=_refresh,
                  help="Read the services from Rancher again (otherwise kept for 30 seconds).")


def _refresh() -> None:
    # Each refresh reads every app instance from Rancher: a second click within a few seconds keeps what is shown.
    _, age = throttle.reuse_or_run(st.session_state, "services_refresh", None, queries.refresh_services)
    if age is not None:
        st.session_state[_REFRESH_NOTE] = throttle.age_note(age, "Refreshed")


def failures_warning(failures: Sequence[InstanceFailure]) -> None:
    """The app instances that could not be read, each with its reason; the rest of the page stays usable."""
    if failures:
        st.warning(f"**{plural(len(failures), 'app instance')} could not be read**, so their services are "
                   f"missing below:\n\n{tables.failures_text(failures)}", icon=":material/cloud_off:")


def read_failed(error: RancherSyncError) -> None:
    """Reading the services failed as a whole (not one app instance): explain, keep the frame usable."""
    widgets.show_outcome(Outcome.failed(error))


# ---- one environment --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentTable:
    """One environment's services as the page draws them: the table, where its data comes from, and the app
    instances that could not be read. Built once per read of the inventory, not on every run of the page."""

    frame: pd.DataFrame  # tables.services_frame
    source: str
    observed_at: dt.datetime | None
    stale: tuple[str, ...]
    fetched_at: dt.datetime | None
    failures: tuple[InstanceFailure, ...]
    names: tuple[str, ...]  # the services' names (sorted, once each), for the locks panel
    quarantined: tuple[str, ...]  # why rows are flagged: one sentence per service running a quarantined digest


def environment_table(environment_id: int, tz: dt.tzinfo) -> EnvironmentTable:
    """One environment's services table, through the cache: a run of the page (a filter, a selection, a poll)
    reuses the table built from the same read instead of copying 2,000 services out of the cache and building
    it again. Keyed like the read (the catalogue's and the collector's changes, this browser's Refresh) and on
    what the table's text depends on (the time zone, the date pattern)."""
    key = (environment_id,)
    quarantined = tuple(sorted(quarantine_flags.active()))  # an add or a lift builds the table again
    return _environment_table(environment_id, queries.catalogue_stamp(key), queries.services_refresh(),
                              queries.services_generation(), repr(tz), fmt.DATE_PATTERN.get(), quarantined, tz)


@st.cache_data(ttl=queries.SERVICES_TTL, show_spinner=False, max_entries=32)
def _environment_table(environment_id: int, stamp: str, refresh: int, generation: int, zone: str, pattern: str,
                       quarantined: tuple[str, ...], _tz: dt.tzinfo) -> EnvironmentTable:
    """`stamp`, `refresh`, `generation`, `zone`, `pattern` and `quarantined` are only part of the key. While any
    image is quarantined the read includes the pods' digests, and the rows running one get the flag's icon."""
    found = queries.inventories((environment_id,), stamp, refresh, bool(quarantined))[environment_id]
    flags = quarantine_flags.flagged(found.services, quarantine_flags.active()) if quarantined else {}
    frame = quarantine_flags.mark(tables.services_frame(found.services, _tz), flags)
    by_id = {s.id: s for s in found.services}
    sentences = tuple(quarantine_flags.sentence(f"{by_id[sid].name} ({by_id[sid].instance.name})", hits)
                      for sid, hits in flags.items())
    return EnvironmentTable(frame, found.source, found.observed_at, found.stale, found.fetched_at, found.failures,
                            tuple(sorted({svc.name for svc in found.services})), sentences)


def services_table(env: EnvironmentRow, found: EnvironmentTable, held: Sequence[LockView] = ()
                   ) -> sync_selection.Selection:
    """Filters, status counts and the table of one environment's services (a "Lock" column where `held` locks
    any of them; where a quarantined digest runs, why above the table)."""
    frame = found.frame
    quarantine_flags.show(list(found.quarantined), key="svc_quarantined")
    search, status_col, kind_col, instance_col = st.columns([2.2, 1.3, 1.3, 1.6])
    url_state.bind(f"svc_search_{env.id}", "q", url_state.text, "")
    text = search.text_input("Search", key=f"svc_search_{env.id}", placeholder="Name or image",
                             icon=":material/search:")
    url_state.publish("q", text or None)
    status_options, kind_options = list(tables.status_counts(frame)), sorted(frame["Kind"].unique())
    names = sorted({i.name for i in queries.instances(env.id)} | set(frame["App instance"]))
    for key, param, options in ((f"svc_status_{env.id}", "status", status_options),
                                (f"svc_kind_{env.id}", "kind", kind_options),
                                (f"svc_instance_{env.id}", "instance", names)):
        url_state.bind(key, param, url_state.some_of({str(o): o for o in options}), None)
    statuses = status_col.multiselect("Status", status_options, key=f"svc_status_{env.id}", placeholder="Any status")
    kinds = kind_col.multiselect("Kind", kind_options, key=f"svc_kind_{env.id}", placeholder="Any kind")
    picked = instance_col.multiselect("App instance", names, key=f"svc_instance_{env.id}",
                                      placeholder="Every app instance")
    url_state.publish("status", [str(s) for s in statuses])
    url_state.publish("kind", [str(k) for k in kinds])
    url_state.publish("instance", list(picked))
    shown = tables.filter_services(frame, statuses=statuses, kinds=kinds, instances=picked, text=text)
    _status_badges(tables.status_counts(shown), len(frame), len(shown))
    if shown.empty:
        widgets.empty_state("No service matches these filters." if len(frame) else
                            f"No service runs in {env.name}'s readable app instances.")
        return sync_selection.Selection([])
    bar = st.container()
    event = st.dataframe(
        tables.style_services(locks_view.with_lock_column(shown, held)),
        key=dataframes.selection_key("svc_table", shown, sync_selection.generation()),
        on_select="rerun", selection_mode="multi-row", hide_index=True,
        column_config=_SERVICE_COLUMNS,
    )
    keys = tables.service_keys(tables.ids_at(shown, event.selection.rows))
    kept = [k for k in keys if k[0] in PROMOTABLE_KINDS]
    if left := [f"{name} ({kind})" for kind, name in keys if kind not in PROMOTABLE_KINDS]:
        st.caption(":material/lock: Not promoted by this tool, left out of the sync: "
                   f"{escape_markdown(', '.join(left))}.")
    return sync_selection.Selection(kept, bar)


_SERVICE_COLUMNS = {
    "Status": st.column_config.TextColumn(
        width="small", help=" · ".join(f"{s}: {m}" for s, m in fmt.STATUS_MEANING.items())),
    "Service": st.column_config.TextColumn(pinned=True),
    "Tag": st.column_config.TextColumn(help="The tag (or short digest) of each container's image"),
    "Replicas": st.column_config.TextColumn(width="small", help="Available / desired"),
    "Last synced": st.column_config.TextColumn(help="When a sync by this tool last changed it"),
}


def _status_badges(counts: Mapping[str, int], total: int, shown: int) -> None:
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.caption(f"{shown} of {plural(total, 'service')}" if shown != total else plural(total, "service"),
                   width="content")
        for status, count in counts.items():
            st.badge(f"{count} {status}", color=fmt.STATUS_BADGE[status],  # type: ignore[arg-type]
                     help=fmt.STATUS_MEANING[status])


# ---- the comparison ---------------------------------------------------------------------------------------------


def comparison(envs: Sequence[EnvironmentRow], tz: dt.tzinfo, compare_by: CompareBy = "image"
               ) -> tuple[list[int], sync_selection.Selection]:
    """Controls and the comparison table; returns the compared environment ids (pipeline order) and the
    selection."""
    names = {e.id: e.name for e in envs}
    pick_col, by_col, search_col = st.columns([3, 1.2, 1.8], vertical_alignment="bottom")
    # Each control in the address: a link reopens the same comparison (issue 20, item 5).
    linked = url_state.bind("cmp_envs", "compare", url_state.some_of({e.name: e.id for e in envs}), list(names))
    this = st.session_state.get(frame.SELECTED_ENVIRONMENT)
    if this in names and this not in st.session_state["cmp_envs"]:
        if linked:  # a link's comparison wins: the sidebar (drawn already) moves into it
            _sidebar_inside(list(names))
            st.rerun()
        st.session_state["cmp_envs"] = [*st.session_state["cmp_envs"], this]  # the sidebar moved: compare it too
    picked = pick_col.multiselect("Environments", list(names), format_func=names.__getitem__,
                                  key="cmp_envs", placeholder="Pick two or more", on_change=_sidebar_inside,
                                  args=(list(names),))
    url_state.publish("compare", [] if set(picked) == set(names) else [names[i] for i in names if i in picked])
    ways: list[CompareBy] = ["image", "tag"]
    url_state.bind("cmp_by", "by", url_state.one_of({w: w for w in ways}), compare_by)
    chosen_by = by_col.segmented_control(
        "Compare by", ways, format_func={"image": "Full image", "tag": "Tag"}.__getitem__,
        required=True, key="cmp_by",
        help="Full image: the same tag from another registry differs. Tag: only tags (or digests) are compared.")
    url_state.publish("by", None if chosen_by == compare_by else chosen_by)
    compare_by = chosen_by or compare_by
    url_state.bind("cmp_search", "q", url_state.text, "")
    text = search_col.text_input("Search", key="cmp_search", placeholder="Name or image", icon=":material/search:")
    url_state.publish("q", text or None)
    digests = st.toggle("Digests", key="cmp_digests",
                        help="Also read what the pods run (one more list per app instance or cluster): flags a tag "
                             "pushed again under the same name, and pods of one workload that disagree.")
    ids = [e.id for e in envs if e.id in picked]  # pipeline order, whatever order they were picked in
    if len(ids) < 2:
        st.info("Pick at least two environments to compare.", icon=":material/compare_arrows:")
        return ids, sync_selection.Selection([])
    try:
        # The pods' digests also while any image is quarantined: flagged where one runs.
        table = queries.compare_environments(tuple(ids), compare_by, digests or bool(quarantine_flags.active()))
    except RancherSyncError as error:
        read_failed(error)
        return ids, sync_selection.Selection([])
    with st.container(horizontal=True, vertical_alignment="center"):
        url_state.bind("cmp_only", "only", url_state.one_of({"1": True}), False)
        only = st.toggle("Only differences", key="cmp_only")
        url_state.publish("only", "1" if only else None)
        data_bar(table.source, table.observed_at, table.stale, table.fetched_at, tz, "cmp_refresh")
    failures_warning(table.failures)
    shown = table.view(only_differences=only, text=text)
    shown = _flag_quarantined(table, shown)
    differ = int(table.differs.sum())
    st.caption(f"{differ} of {plural(len(table.text), 'service')} differ between "
               f"{escape_markdown(', '.join(table.columns))}."
               + (f" Showing {len(shown)}." if len(shown) != len(table.text) else ""))
    if shown.empty:
        widgets.empty_state("Nothing differs." if only and not differ else "No service matches.")
        return ids, sync_selection.Selection([])
    service_names = [str(n) for n in shown["Service"]]
    in_force = locks_view.held(ids)
    held = {e.name: in_force[e.id] for e in envs if e.id in in_force}
    if held:  # who holds what, beside the images (the CLI's comparison says it too)
        shown = shown.assign(Locks=locks_view.comparison_locks(service_names, held))
    config = {name: st.column_config.TextColumn(name) for name in table.columns}
    config["Service"] = st.column_config.TextColumn(pinned=True)
    # A kind no sync promotes (a CronJob) is shown apart, in a table that cannot be selected.
    readonly = shown[~table.promotable.loc[shown.index]]
    shown = shown[table.promotable.loc[shown.index]]
    bar = st.container()
    chosen: list[str] = []
    if not shown.empty:
        key = dataframes.selection_key("cmp_table", shown, sync_selection.generation())
        event = st.dataframe(table.style(shown), key=key, on_select="rerun", selection_mode="multi-row",
                             hide_index=True, column_config=config)
        chosen = tables.ids_at(shown, event.selection.rows)
    st.caption(tables.LEGEND)
    if not readonly.empty:
        with st.container(key="cmp_readonly"):
            kinds = escape_markdown(", ".join(sorted(set(readonly["Kind"]))))
            st.caption(f":material/lock: **Not promoted by this tool** ({kinds}): compared for reference, never "
                       "counted as waiting for promotion.")
            st.dataframe(table.style(readonly), key="cmp_readonly_table", hide_index=True, column_config=config)
    if chosen:
        _container_detail(table, chosen)
    if digests and chosen:
        _digest_detail(table, chosen)
    return ids, sync_selection.Selection(tables.service_keys(chosen), bar)


def _flag_quarantined(table: ComparisonTable, shown: pd.DataFrame) -> pd.DataFrame:
    """Rows that run a quarantined digest somewhere get the icon, and each place is said above the table."""
    quarantined = quarantine_flags.active()
    if not quarantined:
        return shown
    lines, flagged_ids = [], []
    for row_id in shown.index:
        row = table.rows.get(str(row_id))
        for cell in row.cells if row is not None else ():
            for service, hits in zip(cell.services, (quarantine.matches(s, quarantined) for s in cell.services),
                                     strict=True):
                if hits:
                    flagged_ids.append(row_id)
                    lines.append(quarantine_flags.sentence(
                        f"{service.name} in {cell.environment.name} ({service.instance.name})", hits))
    quarantine_flags.show(lines, key="cmp_quarantined")
    return quarantine_flags.mark(shown, flagged_ids)


def _sidebar_inside(order: list[int]) -> None:
    """The sidebar's environment was taken out of the comparison: the sidebar moves to the last compared one (in
    pipeline order), so both always agree (an on_change callback)."""
    picked = st.session_state.get("cmp_envs") or []
    if picked and st.session_state.get(frame.SELECTED_ENVIRONMENT) not in picked:
        frame.select_environment(max(picked, key=order.index))


def _container_detail(table: ComparisonTable, ids: Sequence[str]) -> None:
    """The selected services' every container (primary, sidecars, init containers) and its image in each
    environment: what a cell's tag leaves out, such as the sidecar behind "≠ sidecar differs"."""
    for row_id in ids[:5]:
        row = table.rows.get(row_id)
        if row is None:
            continue
        why = [f"{c.environment.name}: {w}" for c, w in zip(row.cells, row.explanations, strict=True) if w]
        title = f":material/view_list: {escape_markdown(row.name)}: containers" + (
            f" — {escape_markdown('; '.join(why))}" if why else "")
        with st.expander(title, expanded=bool(why) and len(ids) == 1):
            st.dataframe(tables.container_detail(row), hide_index=True, key=f"cmp_containers_{row_id}")


def _digest_detail(table: ComparisonTable, ids: Sequence[str]) -> None:
    """The selected services' images side by side: what our last sync set, the digests running now, and the
    digest of the same tag in the environment before (the source of a promotion)."""
    for row_id in ids[:5]:
        row = table.rows.get(row_id)
        if row is None:
            continue
        with st.expander(f":material/fingerprint: {escape_markdown(row.name)}: digests", expanded=len(ids) == 1):
            note = row_notes(row)
            if note:
                st.caption(escape_markdown(note))
            st.dataframe(tables.digest_detail(row), hide_index=True)


# ---- the Overview -----------------------------------------------------------------------------------------------


def fill_service_counts(slots: Mapping[int, DeltaGenerator], envs: Sequence[EnvironmentRow]) -> None:
    """Put each environment's service counts into its pipeline card. Called last on the Overview, so the rest of
    the page is shown while Rancher answers; a failing site shows in its cards, never breaks the page."""
    ids = tuple(e.id for e in envs)
    try:
        counts = {c.environment_id: c for c in queries.service_counts(ids, queries.catalogue_stamp(ids),
                                                                        queries.services_refresh())}
    except RancherSyncError as error:
        title = error.title
        for slot in slots.values():
            slot.caption(f":orange[:material/cloud_off: Services unavailable: {escape_markdown(title)}]")
        return
    names = {e.id: e.name for e in envs}
    for index, env in enumerate(envs):
        count, card = counts.get(env.id), slots.get(env.id)
        if count is None or card is None:
            continue
        notes = []
        if not count.total and not count.unreadable:
            card.metric("Services", 0)
            continue
        if count.unhealthy:
            notes.append(f":red[{count.unhealthy} unhealthy]")
        if count.pending:
            notes.append(f":orange[{count.pending} differ from {escape_markdown(names[envs[index - 1].id])}]")
        if count.unreadable:
            notes.append(f":orange[:material/cloud_off: {plural(count.unreadable, 'app instance')} unreadable]")
        with card.container():
            st.metric("Services", count.total)
            st.caption(" · ".join(notes) if notes else "all healthy")
