"""The DORA delivery measures that follow one service across operations (time to restore, lead time), and the
period's two headline figures (overall success rate, deployments per week).

Deployment frequency and change failure rate are counted per day and environment with the rest of the activity
(`metrics.activity_by_day`); `Headline` sums those SQL-grouped counts over the period.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Float,
    Integer,
    Row,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from ranchersync.history.filters import HistoryFilter, target_conditions
from ranchersync.history.sql import seconds_between, tune_for_reports
from ranchersync.models import Environment, SyncOperation, SyncResult, VersionJourney

CHANGED = ("success", "rolled_back")  # result statuses of a service the change reached (rolled_back: undone later)


@dataclass(frozen=True)
class Headline:
    """The period's two headline figures, as the history screen's cards and `metrics` show them."""

    finished: int  # operations that finished (complete, partial, failed, rolled_back, interrupted)
    complete: int  # of those, the ones that completed
    deployments: int  # syncs that delivered a change, into any environment (see `compute_metrics`)
    period_days: int | None  # the period's length in days; None without a period (no filter, no data)

    @property
    def success_rate(self) -> float | None:
        """Completed over finished operations in the whole period; None when none finished."""
        return self.complete / self.finished if self.finished else None

    @property
    def deploys_per_week(self) -> float | None:
        """Deployments per week over the whole period, quiet weeks included, to one decimal."""
        return round(self.deployments * 7 / self.period_days, 1) if self.period_days else None


@dataclass(frozen=True)
class Incident:
    """A workload left failing by applied changes, until a change brought it back to a working version."""

    service: str
    workload_kind: str
    environment_id: int | None
    environment: str
    site_name: str
    cluster_id: str
    namespace: str
    failed_at: dt.datetime
    restored_at: dt.datetime | None  # None: still open
    failed_operation_id: int
    restored_by_operation_id: int | None
    seconds: float | None


@dataclass(frozen=True)
class RestoreTimes:
    """Time to restore over the period's incidents; `items` are the newest incidents."""

    incidents: int
    open: int
    median_seconds: float | None
    mean_seconds: float | None
    items: tuple[Incident, ...]


@dataclass(frozen=True)
class LeadTime:
    """One version's journey from the environment it reached first to one it reached later in the pipeline."""

    service: str
    image: str
    from_environment_id: int
    from_environment: str
    to_environment_id: int
    to_environment: str
    from_at: dt.datetime
    to_at: dt.datetime
    seconds: float


@dataclass(frozen=True)
class LeadTimeStats:
    """Lead time between two environments over every version that made that journey in the period."""

    from_environment_id: int
    from_environment: str
    to_environment_id: int
    to_environment: str
    versions: int
    median_seconds: float | None
    mean_seconds: float | None


@dataclass(frozen=True)
class LeadTimes:
    """Lead times per environment pair (pipeline order), and the newest journeys."""

    pairs: tuple[LeadTimeStats, ...]
    items: tuple[LeadTime, ...]


def _inline(values: tuple[str, ...]) -> Any:
    """Constants written into the SQL, so that SQLite can match a partial index's WHERE (it cannot see through a
    bound parameter); PostgreSQL plans the same either way."""
    return bindparam("inline", values, expanding=True, literal_execute=True)


def restore_times(session: Session, filters: HistoryFilter, limit: int) -> RestoreTimes:
    """Time to restore (DORA's failed deployment recovery time), per incident.

    A workload is a service name and kind in one namespace of one cluster (two app instances of Prod holding
    `web` are two workloads: a success in one does not restore the other). An incident starts when a change that
    then failed (result `failed` with `applied`: a refused PATCH changed nothing, so broke nothing) was applied to
    a workload, and ends at the first later moment that workload is known to run a working version: the
    operation's own automatic rollback (the operation ended `rolled_back` with no rollback operation behind it),
    or the end of the next successful change to it — a sync or a rollback operation, by hand. Failures of a
    workload that end at the same restore form one incident. Restore times run from the first failure to that
    moment; incidents still open count in `open`, not in the median and mean. The period, environment (target),
    service and person select the operations whose failure opened an incident; the restore may come later.
    """
    result, op = SyncResult, SyncOperation
    good, rollback, restored = aliased(SyncResult), aliased(SyncOperation), aliased(SyncResult)
    failed_at = func.coalesce(result.started_at, result.finished_at, op.started_at)
    # One index range per failure (ix_sync_results_service_finished_at), read in time order until the first hit.
    next_good = (
        select(good.id)
        .where(good.service == result.service, good.finished_at > failed_at, good.status.in_(_inline(CHANGED)),
               good.workload_kind == result.workload_kind, good.namespace == result.namespace,
               good.cluster_id == result.cluster_id, good.site_name == result.site_name)
        .order_by(good.finished_at, good.id)
        .limit(1)
        .scalar_subquery()
    )
    undone_by_itself = and_(
        op.status == "rolled_back",
        op.id.not_in(select(rollback.rollback_of_id).where(rollback.rollback_of_id.is_not(None))),
    )
    conditions = target_conditions(replace(filters, service=None))
    if filters.service is not None:
        conditions.append(result.service == filters.service)
    failures = (
        select(result.id.label("result_id"), result.service, result.workload_kind, result.site_name,
               result.cluster_id, result.namespace, op.id.label("failed_operation_id"),
               op.target_environment_id.label("environment_id"), op.target_environment_name.label("environment"),
               failed_at.label("failed_at"), case((undone_by_itself, result.id), else_=next_good).label("restore_id"))
        .join(op, op.id == result.operation_id)
        # Inline constants, so that both databases read the failures through the partial index
        # ix_sync_results_failed_applied (SQLite matches a partial index only against literal values).
        .where(result.status == bindparam("failed", "failed", literal_execute=True), result.applied, *conditions)
        # Materialized: each failure's lookup runs once, and SQLite reads the failures by a plain scan instead of
        # walking every result in service order to feed the window below.
        .cte("failures").prefix_with("MATERIALIZED")
    )
    # Failures of a workload sharing a restore are consecutive: an incident starts where the restore changes.
    workload = (failures.c.service, failures.c.workload_kind, failures.c.site_name, failures.c.cluster_id,
                failures.c.namespace)
    in_order = (failures.c.failed_at, failures.c.result_id)
    sequenced = select(
        failures,
        func.row_number().over(partition_by=workload, order_by=in_order).label("nth"),
        func.lag(failures.c.restore_id).over(partition_by=workload, order_by=in_order).label("previous_restore"),
    ).subquery()
    first = sequenced.c
    # The restoring result's end by primary key, once per incident (materialized, so the duration below does not
    # repeat the lookup): PostgreSQL would rather hash every result to join them. Which operation restored it is
    # read afterwards, for the few incidents listed.
    restored_at = select(restored.finished_at).where(restored.id == first.restore_id).scalar_subquery()
    opened = (
        select(first.service, first.workload_kind, first.site_name, first.cluster_id, first.namespace,
               first.environment_id, first.environment, first.failed_at, first.failed_operation_id,
               first.restore_id, restored_at.label("restored_at"))
        .where(or_(first.nth == 1, first.previous_restore.is_distinct_from(first.restore_id)))
        .cte("opened").prefix_with("MATERIALIZED")
    )
    incidents = (
        select(opened, seconds_between(opened.c.failed_at, opened.c.restored_at).label("seconds"))
        .cte("incidents").prefix_with("MATERIALIZED")
    )
    stats, newest = _summarise(session, incidents, (), (("failed_at", True), ("failed_operation_id", True),
                                                         ("service", False)), limit)
    overall = stats[0] if stats else _Stats((), 0, 0, None, None)
    restore_ids = {row.restore_id for row in newest if row.restore_id is not None}
    restored_by = {row.id: row.operation_id for row in session.execute(
        select(SyncResult.id, SyncResult.operation_id).where(SyncResult.id.in_(restore_ids)))} if restore_ids else {}
    items = tuple(
        Incident(row.service, row.workload_kind, row.environment_id, row.environment, row.site_name, row.cluster_id,
                 row.namespace, row.failed_at, row.restored_at, row.failed_operation_id,
                 restored_by.get(row.restore_id) if row.restored_at is not None else None, _seconds(row.seconds))
        for row in newest
    )
    return RestoreTimes(overall.count, overall.count - overall.timed, overall.median, overall.mean, items)


def lead_times(session: Session, filters: HistoryFilter, limit: int) -> LeadTimes:
    """Lead time of a version between environments.

    A version is a service's image reference exactly as a sync's `new_image` recorded it (a tag-only sync keeps
    each environment's registry, so its versions do not match across them). It *reaches* an environment when a
    sync's result for it ends `success` there — or `rolled_back` by a later rollback operation, since it did run
    there; an automatic rollback means it never did. Time is when that result finished (the rollout was done).
    For every pair of environments A before B in the pipeline, the lead time of a version is from its first
    arrival in A to its first arrival in B, when B came later. Arrivals are taken over the whole history; the
    period, environment and service select the arrivals in B. The person filter does not apply: the journey of a
    version is nobody's alone.
    """
    pipeline = session.execute(
        select(Environment.id, Environment.position, Environment.name).order_by(Environment.position, Environment.id)
    ).all()
    # Journeys are recorded as syncs deliver (`arrivals`): one row per version, from one environment's first
    # arrival to another's at the same time or later. Each pair of the pipeline is one range of an index
    # (ix_version_journeys_pair_to_at, the period's part of it; ix_version_journeys_pair_seconds in duration
    # order): no grouping of the whole history, no join, and no sort of every journey — the median is read at
    # its offset in duration order, the newest journeys from the top of each pair's range.
    journey = VersionJourney
    pairs: list[tuple[int, int, int, list[ColumnElement[bool]]]] = []
    for source_id, source_position, _ in pipeline:
        for target_id, target_position, _ in pipeline:
            if source_position >= target_position or filters.environment_id not in (None, target_id):
                continue
            conditions = [journey.to_environment_id == target_id, journey.from_environment_id == source_id]
            if filters.since is not None:
                conditions.append(journey.to_at >= filters.since)
            if filters.until is not None:
                conditions.append(journey.to_at < filters.until)
            if filters.service is not None:
                conditions.append(journey.service == filters.service)
            pairs.append((source_id, source_position, target_id, conditions))
    if not pairs:
        return LeadTimes((), ())
    tune_for_reports(session)
    totals = {
        (row.from_id, row.to_id): (row.n, row.mean)
        for row in session.execute(union_all(*(
            select(literal(source_id).label("from_id"), literal(target_id).label("to_id"), func.count().label("n"),
                   func.avg(journey.seconds).label("mean")).where(*conditions)
            for source_id, _, target_id, conditions in pairs
        )))
        if row.n
    }
    middles: dict[tuple[int, int], list[float]] = defaultdict(list)
    counted = [(source_id, target_id, conditions, totals[source_id, target_id][0])
               for source_id, _, target_id, conditions in pairs if (source_id, target_id) in totals]
    if counted:  # the middle one (odd count) or two (even count) durations of each pair
        for row in session.execute(union_all(*(
            select(literal(source_id).label("from_id"), literal(target_id).label("to_id"), journey.seconds)
            .where(*conditions).order_by(journey.seconds).offset((n - 1) // 2).limit(2 - n % 2).subquery().select()
            for source_id, target_id, conditions, n in counted
        ))):
            middles[row.from_id, row.to_id].append(float(row.seconds))
    newest_order = (journey.to_at.desc(), journey.service)
    latest = union_all(*(
        select(journey.service, journey.image, literal(source_id).label("from_id"),
               literal(source_position).label("from_position"), literal(target_id).label("to_id"),
               journey.from_at, journey.to_at, journey.seconds)
        .where(*conditions).order_by(*newest_order).limit(limit).subquery().select()
        for source_id, source_position, target_id, conditions in pairs
    )).subquery()
    newest = session.execute(
        select(latest).order_by(latest.c.to_at.desc(), latest.c.service, latest.c.from_position).limit(limit)
    ).all() if limit > 0 else []
    names = {env_id: name for env_id, _, name in pipeline}
    order = {env_id: position for env_id, position, _ in pipeline}
    return LeadTimes(
        pairs=tuple(
            LeadTimeStats(from_id, names[from_id], to_id, names[to_id], n,
                          _seconds(sum(middles[from_id, to_id]) / len(middles[from_id, to_id])), _seconds(mean))
            for (from_id, to_id), (n, mean) in sorted(totals.items(), key=lambda kv: (order[kv[0][0]],
                                                                                        order[kv[0][1]]))
        ),
        items=tuple(LeadTime(row.service, row.image, row.from_id, names[row.from_id], row.to_id, names[row.to_id],
                             row.from_at, row.to_at, _seconds(row.seconds) or 0.0) for row in newest),
    )


@dataclass(frozen=True)
class _Stats:
    key: tuple[Any, ...]  # the group's values
    count: int
    timed: int  # rows with a duration
    median: float | None
    mean: float | None


def _summarise(
    session: Session, rows: CTE, group: Sequence[str], newest: Sequence[tuple[str, bool]], limit: int
) -> tuple[list[_Stats], list[Row[Any]]]:
    """Count, median and mean of `rows.c.seconds` per group, and the `limit` newest rows (by `newest`: column
    names, each descending or not), in one statement that computes the CTE `rows` once.

    No percentile function is common to SQLite and PostgreSQL: window functions number each group's rows by
    duration, and only each group's first and middle one or two rows come back, with the newest rows — a small
    answer however many rows there are.
    """
    seconds = rows.c.seconds
    keys = [rows.c[name] for name in group]
    ranked = select(
        *keys, seconds,
        func.row_number().over(partition_by=keys or None, order_by=seconds.asc().nulls_last()).label("rank"),
    ).subquery()
    # Totals by GROUP BY, joined back: SQLite computes whole-partition window aggregates far more slowly.
    totals = select(*keys, func.count().label("n_all"), func.count(seconds).label("n_timed"),
                    func.avg(seconds).label("mean")).group_by(*keys).subquery()
    r, t = ranked.c, totals.c
    matched = and_(true(), *(r[name] == t[name] for name in group))
    latest = select(rows).order_by(*(rows.c[n].desc() if d else rows.c[n] for n, d in newest)).limit(limit).subquery()
    both = union_all(
        select(literal(1).label("part"), *latest.c, *(cast(null(), kind).label(name) for name, kind in _STAT_COLUMNS)),
        select(literal(0), *(r[c.name] if c.name in (*group, "seconds") else cast(null(), c.type) for c in rows.c),
               r.rank, t.n_all, t.n_timed, t.mean)
        .join_from(ranked, totals, matched)
        .where(or_(r.rank == 1, r.rank == (t.n_timed + 1) // 2, r.rank == (t.n_timed + 2) // 2)),
    ).subquery()
    tune_for_reports(session)
    # Only the union's few rows are sorted here: the newest ones back in order, after the statistics.
    found = session.execute(
        select(both).order_by(both.c.part, *(both.c[n].desc() if d else both.c[n] for n, d in newest))
    ).all()
    middles: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    stats: dict[tuple[Any, ...], _Stats] = {}
    for row in found:
        if row.part == 1:
            continue
        key = tuple(row._mapping[name] for name in group)
        timed = row.n_timed
        if row.seconds is not None and row.rank in ((timed + 1) // 2, (timed + 2) // 2):
            middles[key].append(float(row.seconds))
        stats[key] = _Stats(key, row.n_all, timed, None, _seconds(row.mean))
    for key, values in middles.items():
        stats[key] = replace(stats[key], median=_seconds(sum(values) / len(values)))
    return list(stats.values()), [row for row in found if row.part == 1]


_STAT_COLUMNS = (("rank", Integer()), ("n_all", Integer()), ("n_timed", Integer()), ("mean", Float()))


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
