"""Reading the sync history: pages of operations newest first, one operation in detail, a CSV export."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import QueryableAttribute, Session, object_session, selectinload

from ranchersync.history.filters import HistoryFilter, operation_conditions
from ranchersync.inventory.reading import display_tag
from ranchersync.kernel.csvexport import csv_lines
from ranchersync.kernel.errors import NotFoundError, ValidationError
from ranchersync.kernel.humanize import workload_location
from ranchersync.kernel.timefmt import iso
from ranchersync.models import (
    AppInstance,
    ApprovalDecision,
    ApprovalRequest,
    Measurement,
    Site,
    SyncOperation,
    SyncResult,
)

MAX_PAGE_SIZE = 500

# Newest first. An operation not started yet (pending, no started_at) is the newest of all; NULLS FIRST is also
# the order of a backward scan of ix_sync_operations_started_at, so both databases read the index in order
# (PostgreSQL still orders ties on id, a few rows at a time).
NEWEST_FIRST = (SyncOperation.started_at.desc().nulls_first(), SyncOperation.id.desc())


@dataclass(frozen=True)
class ResultTally:
    """How an operation's services ended, counted by result status."""

    success: int = 0
    failed: int = 0
    skipped: int = 0
    rolled_back: int = 0
    pending: int = 0

    @property
    def total(self) -> int:
        return self.success + self.failed + self.skipped + self.rolled_back + self.pending

    @classmethod
    def of(cls, statuses: Iterable[str]) -> ResultTally:
        """Count a sequence of result statuses."""
        counts: dict[str, int] = defaultdict(int)
        for status in statuses:
            counts[status] += 1
        return cls(**counts)


@dataclass(frozen=True)
class RecordedContainer:
    """One container's image before and after the operation."""

    name: str
    init: bool
    previous: str | None
    new: str | None
    # What the preflight knew when it was planned, where the operation recorded it (read tolerantly: older
    # operations have none): the digest the tag named, what the source ran, the changelog's payload.
    new_digest: str | None = None
    source_digest: str | None = None
    changelog: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> RecordedContainer:
        """A container as stored in a result's JSON (camelCase or snake_case keys for the preflight's facts)."""
        return cls(str(stored.get("name", "")), bool(stored.get("init")), stored.get("previous"), stored.get("new"),
                   stored.get("newDigest") or stored.get("new_digest"),
                   stored.get("sourceDigest") or stored.get("source_digest"),
                   _changelog(stored))


@dataclass(frozen=True)
class ResultView:
    """What happened to one service (a workload in one app instance) in an operation."""

    id: int
    service: str
    workload_kind: str
    source_app_instance_id: int | None
    target_app_instance_id: int | None
    site_name: str
    cluster_id: str
    namespace: str
    containers: tuple[RecordedContainer, ...]
    previous_image: str | None
    new_image: str | None
    status: str
    error: str | None
    applied: bool
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    target_app_instance: str | None = None  # the app instance's name now; None once it was removed
    cluster_name: str = ""  # the cluster's display name as an app instance on it records it; "" when none does
    # Its verification after the rollout: each gate's measurement and the soak ({gate, at, values, verdict, detail}).
    measurements: tuple[dict[str, Any], ...] = ()

    @property
    def target_label(self) -> str:
        """Where the change landed as a report names it: the app instance, else its site, cluster and namespace."""
        return self.target_app_instance or self.location

    @property
    def location(self) -> str:
        """Where the workload runs: "site · cluster name · namespace", as every screen names it."""
        return workload_location(self.site_name, self.cluster_name, self.cluster_id, self.namespace)

    @property
    def previous_tag(self) -> str | None:
        return display_tag(self.previous_image) if self.previous_image else None

    @property
    def new_tag(self) -> str | None:
        return display_tag(self.new_image) if self.new_image else None

    @classmethod
    def from_model(cls, result: SyncResult, instance_names: Mapping[int, str] | None = None,
                   measurements: Sequence[dict[str, Any]] = (),
                   cluster_names: Mapping[tuple[str, str], str] | None = None) -> ResultView:
        """A detached copy of a stored result; `instance_names` names its target app instance by id,
        `cluster_names` its cluster by (site name, cluster id)."""
        return cls(measurements=tuple(measurements),
            id=result.id, service=result.service, workload_kind=result.workload_kind,
            source_app_instance_id=result.source_app_instance_id, target_app_instance_id=result.target_app_instance_id,
            site_name=result.site_name, cluster_id=result.cluster_id, namespace=result.namespace,
            containers=tuple(RecordedContainer.of(c) for c in result.containers or ()),
            previous_image=result.previous_image, new_image=result.new_image, status=result.status,
            error=result.error, applied=result.applied, started_at=result.started_at, finished_at=result.finished_at,
            target_app_instance=(instance_names or {}).get(result.target_app_instance_id or -1),
            cluster_name=(cluster_names or {}).get((result.site_name, result.cluster_id), ""),
        )


@dataclass(frozen=True)
class OperationSummary:
    """One row of the history: an operation with its services' names and how they ended."""

    id: int
    kind: str
    mode: str
    status: str
    source_environment_id: int | None
    source_environment: str
    target_environment_id: int | None
    target_environment: str
    initiated_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None
    rollback_of_id: int | None
    services: tuple[str, ...]  # distinct names, in the order the operation recorded them
    tally: ResultTally
    # Who approved it, when it ran an approval request (four-eyes); keyword-only so subclasses add fields freely.
    approved_by: tuple[str, ...] = field(default=(), kw_only=True)
    # Why it was rolled back: "failed" (a rollout or check failed) or "decided" (a person chose to); None otherwise.
    rollback_reason: str | None = field(default=None, kw_only=True)
    # Each service's changelog as the plan's preflight told it ("commits a1b2c3d → e4f5a6b; …"), when known.
    changelogs: tuple[tuple[str, str], ...] = field(default=(), kw_only=True)

    @property
    def ok(self) -> bool:
        """It completed: every service changed (and verified)."""
        return self.status == "complete"

    @property
    def updated(self) -> int:
        """How many workloads it changed and kept changed."""
        return self.tally.success

    @property
    def duration_seconds(self) -> float | None:
        """Wall-clock time from start to finish; None while it runs."""
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    @classmethod
    def from_model(
        cls, operation: SyncOperation, results: Sequence[tuple[str, str]], approved_by: Sequence[str] = (),
        changelogs: Sequence[tuple[str, str]] = (),
    ) -> OperationSummary:
        """A detached summary of a stored operation and its results' (service, status) pairs."""
        return cls(
            id=operation.id, kind=operation.kind, mode=operation.mode, status=operation.status,
            source_environment_id=operation.source_environment_id,
            source_environment=operation.source_environment_name,
            target_environment_id=operation.target_environment_id,
            target_environment=operation.target_environment_name, initiated_by=operation.initiated_by,
            created_at=operation.created_at, started_at=operation.started_at, finished_at=operation.finished_at,
            error=operation.error, rollback_of_id=operation.rollback_of_id,
            services=tuple(dict.fromkeys(service for service, _ in results)),
            tally=ResultTally.of(status for _, status in results), approved_by=tuple(approved_by),
            rollback_reason=operation.rollback_reason, changelogs=tuple(changelogs),
        )


@dataclass(frozen=True)
class OperationDetail(OperationSummary):
    """An opened operation: every service's containers, previous → new images, status and error."""

    results: tuple[ResultView, ...]
    rolled_back_by: tuple[int, ...]  # the rollback operations started for this one

    @classmethod
    def of(
        cls,
        operation: SyncOperation,
        rolled_back_by: Sequence[int] = (),
        instance_names: Mapping[int, str] | None = None,
        approved_by: Sequence[str] = (),
        cluster_names: Mapping[tuple[str, str], str] | None = None,
    ) -> OperationDetail:
        """A detached detail of a stored operation whose results are loaded."""
        summary = OperationSummary.from_model(operation, [(r.service, r.status) for r in operation.results],
                                              approved_by, service_changelogs(
                                                  (r.service, r.containers) for r in operation.results))
        measured = _measurements(operation)
        return cls(**vars(summary), results=tuple(ResultView.from_model(r, instance_names, measured.get(r.id, ()),
                                                                      cluster_names)
                                                  for r in operation.results),
                   rolled_back_by=tuple(rolled_back_by))


def _measurements(operation: SyncOperation) -> dict[int, list[dict[str, Any]]]:
    """The verification measurements of an operation's results, by result id, in the order they were taken."""
    session = object_session(operation)
    ids = [r.id for r in operation.results]
    if session is None or not ids:
        return {}
    found: dict[int, list[dict[str, Any]]] = {}
    for m in session.scalars(select(Measurement).where(Measurement.result_id.in_(ids)).order_by(Measurement.id)):
        found.setdefault(m.result_id, []).append({"gate": m.gate, "at": iso(m.at), "values": list(m.values or []),
                                                  "verdict": m.verdict, "detail": m.detail})
    return found


@dataclass(frozen=True)
class Page:
    """One page of the filtered history and the size of the whole."""

    items: tuple[OperationSummary, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def list_operations(
    session: Session, filters: HistoryFilter | None = None, page: int = 1, page_size: int = 50
) -> Page:
    """Operations matching `filters`, newest first, page by page (from 1), with the total count."""
    if page < 1:
        raise ValidationError("pages are numbered from 1")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError(f"a page holds 1 to {MAX_PAGE_SIZE} operations")
    conditions = operation_conditions(filters or HistoryFilter())
    total = session.scalar(select(func.count()).select_from(SyncOperation).where(*conditions)) or 0
    offset = (page - 1) * page_size
    if offset >= total:
        return Page((), total, page, page_size)
    # Ids first: a deep page then skips entries of the started_at index alone, not whole rows.
    ids = list(session.scalars(
        select(SyncOperation.id).where(*conditions).order_by(*NEWEST_FIRST).limit(page_size).offset(offset)
    ))
    return Page(tuple(_summaries(session, ids)), total, page, page_size)


def _summaries(session: Session, ids: Sequence[int]) -> list[OperationSummary]:
    """Summaries of these operations, in the order of `ids`: two queries, whatever their number."""
    operations = {op.id: op for op in session.scalars(select(SyncOperation).where(SyncOperation.id.in_(ids)))}
    results: dict[int, list[tuple[str, str]]] = defaultdict(list)
    containers: dict[int, list[tuple[str, Any]]] = defaultdict(list)
    rows = session.execute(
        select(SyncResult.operation_id, SyncResult.service, SyncResult.status, SyncResult.containers)
        .where(SyncResult.operation_id.in_(ids)).order_by(SyncResult.operation_id, SyncResult.id)
    )
    for row in rows:
        operation_id, service, status, recorded = int(row[0]), str(row[1]), str(row[2]), row[3]
        results[operation_id].append((service, status))
        containers[operation_id].append((service, recorded))
    approvers = approved_by(session, ids)
    return [OperationSummary.from_model(operations[i], results[i], approvers.get(i, ()),
                                        service_changelogs(containers[i])) for i in ids if i in operations]


def _changelog(container: Mapping[str, Any]) -> Mapping[str, Any] | None:
    found = container.get("changelog")
    return dict(found) if isinstance(found, Mapping) else None


def service_changelogs(results: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """(service, its changelog's one line) for each service whose recorded containers carry one; several
    containers' are joined, each named."""
    found: dict[str, list[str]] = {}
    for service, recorded in results:
        with_log = [(str(c.get("name", "")), _changelog(c)) for c in recorded or () if isinstance(c, Mapping)]
        lines = [(name, str(log.get("summary") or "")) for name, log in with_log if log is not None]
        if lines:
            found.setdefault(service, []).extend(
                line if len(lines) == 1 else f"{name}: {line}" for name, line in lines)
    return [(service, " | ".join(dict.fromkeys(lines))) for service, lines in found.items()]


def approved_by(session: Session, operation_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Who approved each of these operations that ran an approval request, in the order they approved."""
    found: dict[int, list[str]] = defaultdict(list)
    for operation_id, actor in session.execute(
        select(ApprovalRequest.operation_id, ApprovalDecision.actor)
        .join(ApprovalDecision, ApprovalDecision.request_id == ApprovalRequest.id)
        .where(ApprovalRequest.operation_id.in_(operation_ids), ApprovalDecision.decision == "approve")
        .order_by(ApprovalDecision.at, ApprovalDecision.id)
    ):
        if operation_id is not None:
            found[operation_id].append(actor)
    return {k: tuple(v) for k, v in found.items()}


def get_operation_detail(session: Session, operation_id: int) -> OperationDetail:
    """One operation with every result (each naming its app instance), and the rollbacks started for it: the
    history's detail, and the report a screen or the CLI shows after a sync or rollback."""
    operation = session.scalar(
        select(SyncOperation).options(selectinload(SyncOperation.results)).where(SyncOperation.id == operation_id)
    )
    if operation is None:
        raise NotFoundError(f"no operation #{operation_id}")
    rollbacks = session.scalars(
        select(SyncOperation.id).where(SyncOperation.rollback_of_id == operation_id).order_by(SyncOperation.id)
    ).all()
    instance_ids = {r.target_app_instance_id for r in operation.results if r.target_app_instance_id is not None}
    names = {id_: name for id_, name in session.execute(
        select(AppInstance.id, AppInstance.name).where(AppInstance.id.in_(instance_ids)))}
    return OperationDetail.of(operation, rollbacks, names, approved_by(session, [operation_id]).get(operation_id, ()),
                              cluster_names(session, {r.cluster_id for r in operation.results}))


def cluster_names(session: Session, cluster_ids: Iterable[str]) -> dict[tuple[str, str], str]:
    """The display names of clusters by (site name, cluster id), as the app instances on them record them (a
    cluster with no app instance left keeps its id)."""
    rows = session.execute(select(Site.name, AppInstance.cluster_id, AppInstance.cluster_name)
                           .join(Site, Site.id == AppInstance.site_id)
                           .where(AppInstance.cluster_id.in_(set(cluster_ids)), AppInstance.cluster_name != ""))
    return {(site, cluster): name for site, cluster, name in rows}


# --- CSV -------------------------------------------------------------------------------------------------------------

CSV_COLUMNS: tuple[tuple[str, QueryableAttribute[Any]], ...] = (
    ("operation_id", SyncOperation.id),
    ("kind", SyncOperation.kind),
    ("mode", SyncOperation.mode),
    ("operation_status", SyncOperation.status),
    ("source_environment", SyncOperation.source_environment_name),
    ("target_environment", SyncOperation.target_environment_name),
    ("initiated_by", SyncOperation.initiated_by),
    ("started_at", SyncOperation.started_at),
    ("finished_at", SyncOperation.finished_at),
    ("rollback_of", SyncOperation.rollback_of_id),
    ("operation_error", SyncOperation.error),
    ("service", SyncResult.service),
    ("workload_kind", SyncResult.workload_kind),
    ("site", SyncResult.site_name),
    ("cluster", SyncResult.cluster_id),
    ("namespace", SyncResult.namespace),
    ("previous_image", SyncResult.previous_image),
    ("new_image", SyncResult.new_image),
    ("containers", SyncResult.containers),
    ("result_status", SyncResult.status),
    ("result_error", SyncResult.error),
    ("applied", SyncResult.applied),
)
CSV_HEADER = (*(name for name, _ in CSV_COLUMNS[:9]), "duration_seconds", *(name for name, _ in CSV_COLUMNS[9:]))


def iter_csv(session: Session, filters: HistoryFilter | None = None) -> Iterator[str]:
    """The filtered history as CSV lines, one per service change (an operation without results gets one line),
    newest first; rows are fetched in batches, so consume it while the session is open."""
    stmt = (
        select(*(column for _, column in CSV_COLUMNS))
        .outerjoin(SyncResult, SyncResult.operation_id == SyncOperation.id)
        .where(*operation_conditions(filters or HistoryFilter()))
        .order_by(*NEWEST_FIRST, SyncResult.id)
        .execution_options(yield_per=1000)
    )
    yield from csv_lines(CSV_HEADER, map(_line, session.execute(stmt)))


def _line(row: Row[Any]) -> list[Any]:
    started, finished = row.started_at, row.finished_at
    duration = round((finished - started).total_seconds(), 3) if started and finished else None
    values = [_cell(v) for v in row]
    return [*values[:9], duration, *values[9:]]


def export_csv(session: Session, filters: HistoryFilter | None = None) -> str:
    """The filtered history as one CSV text (see iter_csv)."""
    return "".join(iter_csv(session, filters))


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, list):  # the containers column
        value = "; ".join(f"{'init:' if c.get('init') else ''}{c.get('name')}: {c.get('previous')} -> {c.get('new')}"
                          for c in value)
    return value  # csv_lines defuses formulas last, on the text as written
