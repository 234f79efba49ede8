"""Sync history: pages newest first, filters, one operation in detail, payloads and the CSV export.

Histories are written directly with the ORM at fixed times; `record` and `change` are shared with
test_history_metrics.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ranchersync.history import (
    HistoryFilter,
    ResultTally,
    arrivals,
    date_range,
    export_csv,
    get_operation_detail,
    iter_csv,
    list_operations,
    operation_payload,
)
from ranchersync.history.filters import operation_conditions
from ranchersync.history.queries import NEWEST_FIRST
from ranchersync.kernel.errors import NotFoundError, ValidationError
from ranchersync.models import Environment, SyncOperation, SyncResult
from ranchersync.sync import get_operation

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> dt.datetime:
    """A fixed time: T0 plus an offset."""
    return T0 + dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def pipeline(session: Session, *names: str) -> dict[str, Environment]:
    """Environments in pipeline order."""
    envs = {name: Environment(name=name, position=i) for i, name in enumerate(names or ("Dev", "Stage", "Prod"))}
    session.add_all(envs.values())
    session.flush()
    return envs


def change(
    service: str,
    new: str | None = None,
    *,
    previous: str | None = None,
    status: str = "success",
    applied: bool | None = None,
    cluster: str = "c-east",
    namespace: str | None = None,
    kind: str = "Deployment",
    started: dt.datetime | None = None,
    finished: dt.datetime | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One service's result; times default to the operation's, `applied` to whether the status implies it."""
    return {"service": service, "workload_kind": kind, "new_image": new, "previous_image": previous,
            "status": status, "applied": status in ("success", "failed", "rolled_back") if applied is None else applied,
            "cluster_id": cluster, "namespace": namespace, "started_at": started, "finished_at": finished,
            "error": error}


def record(
    session: Session,
    source: Environment,
    target: Environment,
    status: str = "complete",
    *,
    start: dt.datetime = T0,
    seconds: float = 60,
    kind: str = "sync",
    by: str = "alice",
    changes: Sequence[dict[str, Any]] = (),
    rollback_of: SyncOperation | None = None,
    error: str | None = None,
) -> SyncOperation:
    """Write one finished (or running) operation and its results."""
    finished = None if status in ("pending", "running") else start + dt.timedelta(seconds=seconds)
    operation = SyncOperation(
        kind=kind, mode="full", status=status, source_environment_id=source.id, source_environment_name=source.name,
        target_environment_id=target.id, target_environment_name=target.name, initiated_by=by, created_at=start,
        started_at=start, finished_at=finished, error=error, rollback_of_id=rollback_of.id if rollback_of else None,
    )
    for c in changes:
        values = dict(c)
        values["namespace"] = values["namespace"] or f"shop-{target.name.lower()}"
        values["started_at"] = values["started_at"] or start
        if values["finished_at"] is None and values["status"] != "pending":
            values["finished_at"] = finished
        values["containers"] = [{"name": "app", "init": False, "previous": c["previous_image"], "new": c["new_image"]}]
        operation.results.append(SyncResult(site_name="eu", **values))
    session.add(operation)
    session.flush()
    arrivals.rebuild(session)  # what the sync writes as results are recorded (the lead time reads it)
    return operation


@pytest.fixture
def history(session: Session) -> dict[str, SyncOperation]:
    """Six operations over three days, by two people, in both directions, with a rollback."""
    envs = pipeline(session)
    dev, stage, prod = envs["Dev"], envs["Stage"], envs["Prod"]
    ops = {
        "first": record(session, dev, stage, start=at(hours=1), seconds=30, changes=[
            change("web", "reg/web:1.1", previous="reg/web:1.0"), change("api", "reg/api:2.0", previous="reg/api:1.9"),
        ]),
        "failed": record(session, stage, prod, "failed", start=at(days=1), seconds=90, by="bob", error="1 failed",
                         changes=[change("web", "reg/web:1.1", previous="reg/web:1.0", status="failed",
                                         error="rollout failed"),
                                  change("db", None, status="skipped", error="missing in target")]),
        "partial": record(session, stage, prod, "partial", start=at(days=1, hours=2), seconds=125, changes=[
            change("web", "reg/web:1.1", previous="reg/web:1.0", cluster="c-east"),
            change("web", "reg/web:1.1", previous="reg/web:1.0", status="failed", cluster="c-west"),
            change("api", "reg/api:2.0", previous="reg/api:1.9"),
        ]),
        "second": record(session, dev, stage, start=at(days=2), seconds=45, by="bob", changes=[
            change("api", "reg/api:2.1", previous="reg/api:2.0"),
        ]),
        "running": record(session, stage, prod, "running", start=at(days=2, hours=3), changes=[
            change("db", "reg/db:5", previous="reg/db:4", status="pending"),
        ]),
    }
    ops["rollback"] = record(session, prod, prod, start=at(days=2, hours=1), kind="rollback",
                             rollback_of=ops["partial"], changes=[change("web", "reg/web:1.0", previous="reg/web:1.1")])
    return ops


def ids(page_items: Sequence[Any]) -> list[int]:
    return [item.id for item in page_items]


def test_newest_first_with_services_tally_and_duration(session: Session, history: dict[str, SyncOperation]) -> None:
    page = list_operations(session, HistoryFilter(), page=1, page_size=50)
    order = ["running", "rollback", "second", "partial", "failed", "first"]
    assert ids(page.items) == [history[name].id for name in order]
    assert (page.total, page.pages, page.has_next) == (6, 1, False)
    partial = page.items[3]
    assert partial.services == ("web", "api")  # distinct, in recorded order
    assert partial.tally == ResultTally(success=2, failed=1)
    assert partial.tally.total == 3
    assert partial.duration_seconds == 125.0
    assert (partial.source_environment, partial.target_environment, partial.initiated_by) == ("Stage", "Prod", "alice")
    assert page.items[0].duration_seconds is None  # still running
    assert page.items[1].rollback_of_id == history["partial"].id


def test_pages_and_total(session: Session, history: dict[str, SyncOperation]) -> None:
    everything = ids(list_operations(session, page_size=50).items)
    pages = [list_operations(session, page=n, page_size=4) for n in (1, 2, 3)]
    assert [ids(p.items) for p in pages] == [everything[:4], everything[4:], []]
    assert [(p.total, p.pages, p.has_next) for p in pages] == [(6, 2, True), (6, 2, False), (6, 2, False)]
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 501}):
        with pytest.raises(ValidationError):
            list_operations(session, **bad)  # type: ignore[arg-type]


def test_equal_start_times_keep_a_stable_order(session: Session) -> None:
    envs = pipeline(session)
    same = [record(session, envs["Dev"], envs["Stage"], start=T0) for _ in range(5)]
    pages = [list_operations(session, page=n, page_size=2).items for n in (1, 2, 3)]
    assert [i for p in pages for i in ids(p)] == [op.id for op in reversed(same)]


def test_an_operation_not_started_yet_comes_first(session: Session) -> None:
    envs = pipeline(session)
    started = record(session, envs["Dev"], envs["Stage"], start=at(days=1))
    pending = SyncOperation(kind="sync", status="pending", source_environment_id=envs["Stage"].id,
                            source_environment_name="Stage", target_environment_id=envs["Prod"].id,
                            target_environment_name="Prod", initiated_by="alice", created_at=at())
    session.add(pending)
    session.flush()
    assert ids(list_operations(session).items) == [pending.id, started.id]


@pytest.mark.parametrize(("filters", "expected"), [
    (HistoryFilter(status="failed"), ["failed"]),
    (HistoryFilter(service="web"), ["rollback", "partial", "failed", "first"]),
    (HistoryFilter(service="db"), ["running", "failed"]),
    (HistoryFilter(initiated_by="bob"), ["second", "failed"]),
    (HistoryFilter(kind="rollback"), ["rollback"]),
    (HistoryFilter(since=at(days=1), until=at(days=2)), ["partial", "failed"]),  # until excluded
    (HistoryFilter(since=at(days=2)), ["running", "rollback", "second"]),
    (HistoryFilter(service="web", initiated_by="alice", until=at(days=2)), ["partial", "first"]),
    (HistoryFilter(service="nothing"), []),
])
def test_filters(session: Session, history: dict[str, SyncOperation], filters: HistoryFilter,
                 expected: list[str]) -> None:
    page = list_operations(session, filters)
    assert ids(page.items) == [history[name].id for name in expected]
    assert page.total == len(expected)


def test_environment_matches_as_source_or_target(session: Session, history: dict[str, SyncOperation]) -> None:
    stage_id = history["first"].target_environment_id
    prod_id = history["failed"].target_environment_id
    dev_id = history["first"].source_environment_id
    by_env = {env: ids(list_operations(session, HistoryFilter(environment_id=env)).items)
              for env in (dev_id, stage_id, prod_id)}
    assert by_env[dev_id] == [history[n].id for n in ("second", "first")]
    assert by_env[stage_id] == [history[n].id for n in ("running", "second", "partial", "failed", "first")]
    assert by_env[prod_id] == [history[n].id for n in ("running", "rollback", "partial", "failed")]


def test_filter_checks_and_normalises_its_input() -> None:
    assert HistoryFilter(service="  web ", initiated_by="") == HistoryFilter(service="web")
    with pytest.raises(ValidationError, match="unknown status 'done'"):
        HistoryFilter(status="done")
    with pytest.raises(ValidationError, match="unknown kind"):
        HistoryFilter(kind="deploy")
    with pytest.raises(ValidationError, match="time zone"):
        HistoryFilter(since=dt.datetime(2026, 3, 1))
    with pytest.raises(ValidationError, match="before"):
        HistoryFilter(since=at(days=1), until=at())


def test_date_range_covers_whole_days() -> None:
    assert date_range(dt.date(2026, 3, 2), dt.date(2026, 3, 3)) == (
        dt.datetime(2026, 3, 2, tzinfo=dt.UTC), dt.datetime(2026, 3, 4, tzinfo=dt.UTC))
    assert date_range(None, None) == (None, None)


def test_detail_shows_every_container_and_the_rollbacks(session: Session, history: dict[str, SyncOperation]) -> None:
    detail = get_operation_detail(session, history["partial"].id)
    assert [(r.service, r.cluster_id, r.previous_tag, r.new_tag, r.status) for r in detail.results] == [
        ("web", "c-east", "1.0", "1.1", "success"),
        ("web", "c-west", "1.0", "1.1", "failed"),
        ("api", "c-east", "1.9", "2.0", "success"),
    ]
    assert detail.results[0].containers[0].previous == "reg/web:1.0"
    assert detail.rolled_back_by == (history["rollback"].id,)
    with pytest.raises(NotFoundError, match="no operation #999"):
        get_operation_detail(session, 999)


def test_operation_payload_in_the_plans_shape(session: Session, history: dict[str, SyncOperation]) -> None:
    summary = list_operations(session, HistoryFilter(status="failed")).items[0]
    payload = operation_payload(summary)
    envs = {history["failed"].source_environment_id: "Stage", history["failed"].target_environment_id: "Prod"}
    assert payload == {
        "id": history["failed"].id, "kind": "sync", "mode": "full",
        "sourceEnvironmentId": list(envs)[0], "targetEnvironmentId": list(envs)[1],
        "sourceEnvironment": "Stage", "targetEnvironment": "Prod", "serviceIds": ["web", "db"], "status": "failed",
        "startTime": "2026-03-03T09:00:00Z", "endTime": "2026-03-03T09:01:30Z", "durationSeconds": 90.0,
        "initiatedBy": "bob", "error": "1 failed", "rollbackOf": None, "rollbackReason": None, "changelogs": {},
    }
    with pytest.raises(TypeError, match="get_operation_detail"):
        operation_payload(summary, with_results=True)
    detailed = operation_payload(get_operation_detail(session, history["failed"].id), with_results=True)
    assert detailed["rolledBackBy"] == []
    assert detailed["results"][0] == {
        "id": history["failed"].results[0].id, "serviceId": "web", "workloadType": "Deployment",
        "targetAppInstanceId": None, "sourceAppInstanceId": None, "previousImageTag": "1.0", "newImageTag": "1.1",
        "previousImage": "reg/web:1.0", "newImage": "reg/web:1.1",
        "containers": [{"name": "app", "init": False, "previous": "reg/web:1.0", "new": "reg/web:1.1",
                        "changelog": None}],
        "status": "failed", "error": "rollout failed", "timestamp": "2026-03-03T09:01:30Z", "siteName": "eu",
        "cluster": "c-east", "clusterName": None, "namespace": "shop-prod", "applied": True, "measurements": [],
        "changelog": None,
    }
    assert detailed["results"][1]["newImageTag"] is None
    json.dumps(detailed)


def test_operation_payload_of_a_stored_operation(session: Session, history: dict[str, SyncOperation]) -> None:
    # What the CLI prints after a sync or a rollback: the ORM object, straight from sync.get_operation.
    operation = get_operation(session, history["rollback"].id)
    payload = operation_payload(operation, with_results=True)
    assert (payload["kind"], payload["rollbackOf"], payload["serviceIds"]) == ("rollback", history["partial"].id,
                                                                                ["web"])
    assert [r["newImage"] for r in payload["results"]] == ["reg/web:1.0"]


def test_csv_has_one_line_per_service_change(session: Session, history: dict[str, SyncOperation]) -> None:
    rows = list(csv.DictReader(io.StringIO(export_csv(session, HistoryFilter(environment_id=history["failed"]
                                                                             .target_environment_id)))))
    assert [(int(r["operation_id"]), r["service"], r["result_status"]) for r in rows] == [
        (history["running"].id, "db", "pending"),
        (history["rollback"].id, "web", "success"),
        (history["partial"].id, "web", "success"),
        (history["partial"].id, "web", "failed"),
        (history["partial"].id, "api", "success"),
        (history["failed"].id, "web", "failed"),
        (history["failed"].id, "db", "skipped"),
    ]
    failed = rows[5]
    assert (failed["started_at"], failed["finished_at"], failed["duration_seconds"]) == (
        "2026-03-03T09:00:00Z", "2026-03-03T09:01:30Z", "90.0")
    assert failed["containers"] == "app: reg/web:1.0 -> reg/web:1.1"
    assert rows[0]["duration_seconds"] == ""


def test_csv_keeps_operations_without_results_and_defuses_formulas(session: Session) -> None:
    envs = pipeline(session)
    record(session, envs["Dev"], envs["Stage"], "interrupted", by="=HYPERLINK(\"x\")", error="-1 services")
    lines = list(iter_csv(session))
    assert len(lines) == 2 and lines[0].startswith("operation_id,kind,mode,operation_status")
    row = next(csv.DictReader(io.StringIO("".join(lines))))
    assert (row["initiated_by"], row["operation_error"], row["service"]) == ("'=HYPERLINK(\"x\")", "'-1 services", "")


def test_csv_defuses_formulas_in_formatted_container_changes(session: Session) -> None:
    envs = pipeline(session)
    operation = record(session, envs["Dev"], envs["Stage"], changes=[change("web", "reg/web:2", previous="reg/web:1")])
    operation.results[0].containers = [{"name": "=cmd|' /C calc'!A0", "init": False, "previous": "a", "new": "b"}]
    session.flush()
    row = next(csv.DictReader(io.StringIO(export_csv(session))))
    assert row["containers"] == "'=cmd|' /C calc'!A0: a -> b"


def test_page_queries_read_the_started_at_indexes(session: Session, history: dict[str, SyncOperation]) -> None:
    def plan(filters: HistoryFilter) -> str:
        from sqlalchemy import select

        stmt = select(SyncOperation.id).where(*operation_conditions(filters)).order_by(*NEWEST_FIRST).limit(50)
        compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        return " | ".join(row[3] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))

    first_page = plan(HistoryFilter())
    assert "COVERING INDEX ix_sync_operations_started_at" in first_page and "TEMP B-TREE" not in first_page
    by_status = plan(HistoryFilter(status="failed"))
    assert "INDEX ix_sync_operations_status_started_at (status=?)" in by_status and "TEMP B-TREE" not in by_status
