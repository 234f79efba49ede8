"""The first arrival of each version per environment (`version_arrivals`), which the lead time reads.

A version is a service's image exactly as a sync's result recorded it (`new_image`). It *reaches* an environment
when a sync's result for it ends `success` there — or `rolled_back` by a later rollback operation, since it did run
there; an automatic rollback means it never did (`dora.lead_times`). The sync writes an arrival when a result
becomes `success` (`record_arrival`: the earliest-finished result is the arrival, whichever writer commits first) and
withdraws it when its own automatic rollback undoes that result (`withdraw_arrival`). A later rollback operation
leaves it: the version did arrive. `backfill` fills the table from existing history with the same definition.

With each arrival its journeys are written (`version_journeys`): from every environment the version reached at the
same time or before, and to every one it reached later. The lead time reads those rows by index, neither
grouping the history nor joining arrivals (SQLite, without hash joins, would probe an index per arrival).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, text, union, update
from sqlalchemy.orm import Session, aliased

from ranchersync.history.sql import seconds_between
from ranchersync.models import SyncResult, VersionArrival, VersionJourney

# The definition in SQL that SQLite (>= 3.25) and PostgreSQL both run; migration 0006 holds a copy. `{key}` narrows
# it to one (environment, service, image) when an arrival is withdrawn and another result may now be the first.
_FIRST_ARRIVALS = """
INSERT INTO version_arrivals (environment_id, service, image, operation_id, result_id, arrived_at)
SELECT environment_id, service, image, operation_id, result_id, arrived_at FROM (
    SELECT o.target_environment_id AS environment_id, r.service AS service, r.new_image AS image,
           o.id AS operation_id, r.id AS result_id, r.finished_at AS arrived_at,
           ROW_NUMBER() OVER (PARTITION BY o.target_environment_id, r.service, r.new_image
                              ORDER BY r.finished_at, r.id) AS nth
    FROM sync_results r JOIN sync_operations o ON o.id = r.operation_id
    WHERE o.kind = 'sync' AND o.target_environment_id IS NOT NULL AND r.new_image IS NOT NULL
      AND r.finished_at IS NOT NULL
      AND (r.status = 'success'
           OR (r.status = 'rolled_back'
               AND o.id IN (SELECT rollback_of_id FROM sync_operations WHERE rollback_of_id IS NOT NULL))){key}
) ranked
WHERE nth = 1
"""
BACKFILL = _FIRST_ARRIVALS.format(key="")
_REFILL = _FIRST_ARRIVALS.format(
    key="\n      AND o.target_environment_id = :environment_id AND r.service = :service AND r.new_image = :image"
)


_JOURNEY_COLUMNS = ("from_arrival_id", "to_arrival_id", "from_environment_id", "to_environment_id", "service",
                    "image", "from_at", "to_at", "seconds")


def _journeys(arrival_ids: Sequence[int] | None = None) -> Any:
    """Journeys between arrivals of one version (the later at the same time or after); with `arrival_ids`, only
    those that start or end at one of those arrivals, each once (one between two of them is in both halves)."""
    start, end = aliased(VersionArrival), aliased(VersionArrival)
    journeys = (
        select(start.id, end.id, start.environment_id, end.environment_id, end.service, end.image, start.arrived_at,
               end.arrived_at, seconds_between(start.arrived_at, end.arrived_at))
        .join_from(start, end, and_(end.service == start.service, end.image == start.image,
                                    end.environment_id != start.environment_id, end.arrived_at >= start.arrived_at))
    )
    if arrival_ids is None:
        return journeys
    return union(journeys.where(start.id.in_(arrival_ids)), journeys.where(end.id.in_(arrival_ids))).subquery() \
        .select()


def backfill(session: Session) -> None:
    """Fill empty `version_arrivals` and `version_journeys` from the recorded history (the migration's step, for
    bulk-loaded data)."""
    session.execute(text(BACKFILL))
    session.execute(insert(VersionJourney).from_select(_JOURNEY_COLUMNS, _journeys()))


def rebuild(session: Session) -> None:
    """Recompute every first arrival from the recorded history (after history was written other than by a sync)."""
    session.execute(delete(VersionJourney))
    session.execute(delete(VersionArrival))
    backfill(session)


def record_arrival(session: Session, result: SyncResult) -> None:
    """Record `result` (a sync's result that just became `success`) as its version's arrival in the target
    environment, unless an earlier one is known: INSERT … ON CONFLICT DO NOTHING, on both databases."""
    record_arrivals(session, [result])


def record_arrivals(session: Session, results: Sequence[SyncResult]) -> None:
    """`record_arrival` for several results that just became `success` (rollouts seen ended together): one INSERT
    for their versions' arrivals and one for the journeys these start or end, instead of two statements each."""
    candidates: list[dict[str, Any]] = []
    for result in results:
        operation = result.operation
        if operation.kind != "sync" or operation.target_environment_id is None or not result.new_image:
            continue
        if result.finished_at is None:
            continue
        candidates.append({"environment_id": operation.target_environment_id, "service": result.service,
                           "image": result.new_image, "operation_id": operation.id, "result_id": result.id,
                           "arrived_at": result.finished_at})
    if not candidates:
        return
    # Of ours, only the earliest of each version in each environment can be (or take over) its arrival.
    earliest: dict[tuple[str, str, int], dict[str, Any]] = {}
    for values in sorted(candidates, key=lambda v: (v["arrived_at"], v["result_id"])):
        earliest.setdefault((values["service"], values["image"], values["environment_id"]), values)
    inserted = session.execute(_insert_or_ignore(session, list(earliest.values())).returning(
        VersionArrival.id, VersionArrival.service, VersionArrival.image, VersionArrival.environment_id)).all()
    touched = [row.id for row in inserted]
    for row in inserted:
        earliest.pop((row.service, row.image, row.environment_id))
    for values in earliest.values():
        # Known already. Two app instances' results race to commit: the one that finished first is the arrival,
        # whichever committed first, so a later-recorded but earlier result takes the row over.
        arrival_id = session.scalar(
            update(VersionArrival)
            .where(VersionArrival.environment_id == values["environment_id"],
                   VersionArrival.service == values["service"], VersionArrival.image == values["image"],
                   VersionArrival.arrived_at > values["arrived_at"])
            .values(operation_id=values["operation_id"], result_id=values["result_id"],
                    arrived_at=values["arrived_at"])
            .returning(VersionArrival.id))
        if arrival_id is None:  # it had arrived there before
            continue
        session.execute(delete(VersionJourney).where(
            or_(VersionJourney.from_arrival_id == arrival_id, VersionJourney.to_arrival_id == arrival_id)))
        touched.append(arrival_id)
    if touched:
        session.execute(insert(VersionJourney).from_select(_JOURNEY_COLUMNS, _journeys(touched)))


def withdraw_arrival(session: Session, result_id: int) -> None:
    """The automatic rollback undid this result: it did not deliver its version. Remove the arrival it recorded,
    and record the next earliest qualifying result of that version there, if any (another app instance's)."""
    found = session.execute(
        select(VersionArrival.id, VersionArrival.environment_id, VersionArrival.service, VersionArrival.image)
        .where(VersionArrival.result_id == result_id)
    ).first()
    if found is None:
        return
    session.execute(delete(VersionJourney).where(
        or_(VersionJourney.from_arrival_id == found.id, VersionJourney.to_arrival_id == found.id)))
    session.execute(delete(VersionArrival).where(VersionArrival.id == found.id))
    arrival_id = session.scalar(text(_REFILL + " RETURNING id"), {
        "environment_id": found.environment_id, "service": found.service, "image": found.image})
    if arrival_id is not None:
        session.execute(insert(VersionJourney).from_select(_JOURNEY_COLUMNS, _journeys([arrival_id])))


def _insert_or_ignore(session: Session, values: dict[str, Any] | list[dict[str, Any]]) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(VersionArrival).values(values).on_conflict_do_nothing(
            index_elements=["service", "image", "environment_id"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(VersionArrival).values(values).on_conflict_do_nothing(
        index_elements=["service", "image", "environment_id"])
