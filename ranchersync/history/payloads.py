"""`--json` shapes of the history and the metrics: the plan's SyncOperation and SyncHistory, camelCase keys."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from sqlalchemy.orm import Session

from ranchersync.history.metrics import Metrics
from ranchersync.history.queries import (
    OperationDetail,
    OperationSummary,
    ResultView,
    get_operation_detail,
    service_changelogs,
)
from ranchersync.inventory.reading import display_tag
from ranchersync.kernel.timefmt import iso
from ranchersync.models import SyncOperation
from ranchersync.registry.changelog import ChangelogPayload


class ContainerChange(TypedDict):
    name: str
    init: bool
    previous: str | None
    new: str | None
    changelog: ChangelogPayload | None  # None: the registry was not asked (or is not registered)


class ResultPayload(TypedDict):
    """One service's change in an operation."""

    id: int
    serviceId: str
    workloadType: str
    targetAppInstanceId: int | None
    sourceAppInstanceId: int | None
    previousImageTag: str | None
    newImageTag: str | None
    previousImage: str | None
    newImage: str | None
    containers: list[ContainerChange]
    status: str
    error: str | None
    timestamp: str | None
    siteName: str | None
    cluster: str | None
    clusterName: str | None  # its display name, None when no app instance on it names it
    namespace: str | None
    applied: bool
    measurements: list[dict[str, Any]]
    changelog: str | None  # its containers' changelogs in one line ("commits a1b2c3d → e4f5a6b; …"), when known


class OperationPayload(TypedDict):
    """`history --json`, `sync --json` and the API's GET /operations/{id}: one operation (the OpenAPI schema is made
    from these types); `results` and `rolledBackBy` with its detail, `approvedBy` when it ran an approval request."""

    id: int
    kind: str
    mode: str
    sourceEnvironmentId: int | None
    targetEnvironmentId: int | None
    sourceEnvironment: str
    targetEnvironment: str
    serviceIds: list[str]
    status: str
    startTime: str | None
    endTime: str | None
    durationSeconds: float | None
    initiatedBy: str
    error: str | None
    rollbackOf: int | None
    rollbackReason: str | None
    changelogs: dict[str, str]  # serviceId -> its changelog's line, for the services whose plan knew one
    approvedBy: NotRequired[list[str]]
    rolledBackBy: NotRequired[list[int]]
    results: NotRequired[list[ResultPayload]]


def operation_payload(op: SyncOperation | OperationSummary, with_results: bool = False) -> OperationPayload:
    """An operation as the plan's sync API returns it (serviceIds are the services' names); `with_results` adds
    each service's result, from a stored operation or an OperationDetail."""
    if isinstance(op, SyncOperation):
        op = OperationDetail.of(op)
    payload: OperationPayload = {
        "id": op.id,
        "kind": op.kind,
        "mode": op.mode,
        "sourceEnvironmentId": op.source_environment_id,
        "targetEnvironmentId": op.target_environment_id,
        "sourceEnvironment": op.source_environment,
        "targetEnvironment": op.target_environment,
        "serviceIds": list(op.services),
        "status": op.status,
        "startTime": iso(op.started_at),
        "endTime": iso(op.finished_at),
        "durationSeconds": op.duration_seconds,
        "initiatedBy": op.initiated_by,
        "error": op.error,
        "rollbackOf": op.rollback_of_id,
        "rollbackReason": op.rollback_reason,
        "changelogs": dict(op.changelogs),
    }
    if op.approved_by:  # it ran an approval request: who asked is initiatedBy, who approved this list
        payload["approvedBy"] = list(op.approved_by)
    if with_results:
        if not isinstance(op, OperationDetail):
            raise TypeError("a history page holds summaries: load the operation with get_operation_detail()")
        payload["rolledBackBy"] = list(op.rolled_back_by)
        payload["results"] = [result_payload(r) for r in op.results]
    return payload


def operation_detail_payload(session: Session, operation_id: int) -> OperationPayload:
    """One operation with every service's and container's result, its rollbacks and verification measurements: the
    API's `GET /operations/{id}` and `history show OPERATION --json`. Raises NotFoundError for an unknown id."""
    return operation_payload(get_operation_detail(session, operation_id), with_results=True)


def result_payload(result: ResultView) -> ResultPayload:
    """One service's change, as the plan's SyncHistory entry, with every container and where it ran."""
    return {
        "id": result.id,
        "serviceId": result.service,
        "workloadType": result.workload_kind,
        "targetAppInstanceId": result.target_app_instance_id,
        "sourceAppInstanceId": result.source_app_instance_id,
        "previousImageTag": result.previous_tag,
        "newImageTag": result.new_tag,
        "previousImage": result.previous_image,
        "newImage": result.new_image,
        "containers": [{"name": c.name, "init": c.init, "previous": c.previous, "new": c.new,
                        "changelog": _changelog_payload(c.changelog)} for c in result.containers],
        "status": result.status,
        "error": result.error,
        "timestamp": iso(result.finished_at or result.started_at),
        "siteName": result.site_name,
        "cluster": result.cluster_id,
        "clusterName": result.cluster_name or None,
        "namespace": result.namespace,
        "applied": result.applied,
        "measurements": [dict(m) for m in result.measurements],
        "changelog": next((line for _, line in service_changelogs(
            [(result.service, [{"name": c.name, "changelog": c.changelog} for c in result.containers])])), None),
    }


def _changelog_payload(found: Any) -> ChangelogPayload | None:
    if not isinstance(found, dict):
        return None
    # The registry's shape; a key an older version did not store reads as None ("" for the summary).
    return ChangelogPayload(fromRevision=found.get("fromRevision"), toRevision=found.get("toRevision"),
                            source=found.get("source"), compareUrl=found.get("compareUrl"),
                            fromVersion=found.get("fromVersion"), toVersion=found.get("toVersion"),
                            fromCreated=found.get("fromCreated"), toCreated=found.get("toCreated"),
                            summary=str(found.get("summary") or ""))


def metrics_payload(metrics: Metrics) -> dict[str, Any]:
    """Every metric, for `metrics --json`; durations in seconds, rates as fractions (0.25 = 25 %)."""
    restore, lead = metrics.restore, metrics.lead_times
    return {
        "since": metrics.since.isoformat() if metrics.since else None,
        "until": metrics.until.isoformat() if metrics.until else None,
        "failureWindowSeconds": metrics.failure_window.total_seconds(),
        "operations": metrics.operations,
        "daily": [{"date": d.day.isoformat(), "status": d.status, "count": d.count} for d in metrics.daily],
        "successRate": [{"date": d.day.isoformat(), "finished": d.finished, "complete": d.complete,
                         "rate": _rate(d.rate)} for d in metrics.success_rate],
        "durations": {
            "count": metrics.durations.count,
            "meanSeconds": metrics.durations.mean_seconds,
            "maxSeconds": metrics.durations.max_seconds,
            "buckets": [{"label": b.label, "fromSeconds": b.low_seconds, "toSeconds": b.high_seconds,
                         "count": b.count} for b in metrics.durations.buckets],
        },
        "deploymentFrequency": [
            {"environmentId": d.environment_id, "environment": d.environment, "total": d.total,
             "averagePerWeek": d.average_per_week,
             "perDay": [{"date": c.day.isoformat(), "count": c.count} for c in d.per_day],
             "perWeek": [{"weekStart": c.day.isoformat(), "count": c.count} for c in d.per_week]}
            for d in metrics.deployments
        ],
        "changeFailureRate": {
            "syncs": metrics.change_failure_rate.syncs,
            "failed": metrics.change_failure_rate.failed,
            "rate": _rate(metrics.change_failure_rate.rate),
            "byEnvironment": [{"environmentId": f.environment_id, "environment": f.environment, "syncs": f.syncs,
                               "failed": f.failed, "rate": _rate(f.rate)}
                              for f in metrics.change_failure_by_environment],
        },
        "timeToRestore": {
            "incidents": restore.incidents,
            "open": restore.open,
            "medianSeconds": restore.median_seconds,
            "meanSeconds": restore.mean_seconds,
            "items": [{"serviceId": i.service, "workloadType": i.workload_kind, "environmentId": i.environment_id,
                       "environment": i.environment, "siteName": i.site_name, "cluster": i.cluster_id,
                       "namespace": i.namespace, "failedAt": iso(i.failed_at), "restoredAt": iso(i.restored_at),
                       "seconds": i.seconds, "failedOperationId": i.failed_operation_id,
                       "restoredByOperationId": i.restored_by_operation_id} for i in restore.items],
        },
        "headline": {"finished": metrics.headline.finished, "complete": metrics.headline.complete,
                     "successRate": _rate(metrics.headline.success_rate),
                     "deployments": metrics.headline.deployments,
                     "deploysPerWeek": metrics.headline.deploys_per_week},
        "leadTime": {
            "pairs": [{"fromEnvironmentId": p.from_environment_id, "fromEnvironment": p.from_environment,
                       "toEnvironmentId": p.to_environment_id, "toEnvironment": p.to_environment,
                       "versions": p.versions, "medianSeconds": p.median_seconds, "meanSeconds": p.mean_seconds}
                      for p in lead.pairs],
            "items": [{"serviceId": t.service, "image": t.image, "imageTag": display_tag(t.image),
                       "fromEnvironment": t.from_environment, "toEnvironment": t.to_environment,
                       "fromAt": iso(t.from_at), "toAt": iso(t.to_at), "seconds": t.seconds} for t in lead.items],
        },
    }


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
