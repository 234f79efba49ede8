"""A running operation as its live page shows it: each workload's rollout as Rancher reports it now (pods ready x/y,
updated, the rollout's conditions), beside what the operation recorded, each service's verification measurements as
they are taken (gates' values with their times and verdicts, the soak's restarts), and the time it has run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.inventory.listing import client_pool
from ranchersync.inventory.reading import InstanceRef, instance_refs, site_connections
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.humanize import workload_location
from ranchersync.kernel.timefmt import iso
from ranchersync.models import ACTIVE_OPERATION_STATUSES, Measurement, SyncOperation, utcnow
from ranchersync.rancher import RancherClient, rollout_state
from ranchersync.sync import get_operation


@dataclass(frozen=True)
class WorkloadProgress:
    """One workload of the operation: its recorded status, and its rollout as Rancher reports it now."""

    service: str
    kind: str
    where: str  # "site · cluster · namespace"
    status: str  # the operation's record: pending, success, failed, rolled_back…
    ready: int | None  # pods ready, of `desired`; None when Rancher could not be read
    desired: int | None
    updated: int | None
    rollout: str  # kubectl's rollout message, or why it could not be read
    conditions: tuple[tuple[str, str, str, str], ...]  # (type, status, reason, message)


@dataclass(frozen=True)
class LiveOperation:
    """A running (or just finished) operation, read now."""

    id: int
    kind: str
    status: str
    target: str
    initiated_by: str
    elapsed_seconds: float
    terminate_requested: bool
    workloads: tuple[WorkloadProgress, ...]
    # (service, where, {gate, at, values, verdict, detail}) in the order taken: what the history detail shows after.
    measurements: tuple[tuple[str, str, dict[str, Any]], ...] = ()

    @property
    def running(self) -> bool:
        return self.status in ACTIVE_OPERATION_STATUSES


def running_operations(ctx: AppContext) -> list[int]:
    """The operations running now, in any process (the menu's badge)."""
    with ctx.session() as session:
        return list(session.scalars(select(SyncOperation.id).where(
            SyncOperation.status.in_(ACTIVE_OPERATION_STATUSES)).order_by(SyncOperation.id)))


def live_operation(ctx: AppContext, operation_id: int, factory: ClientFactory = RancherClient) -> LiveOperation:
    """Read the operation's record and, while it runs, each of its workloads from Rancher."""
    with ctx.session() as session:
        operation = get_operation(session, operation_id)
        refs = {r.id: r for r in instance_refs(session, [operation.target_environment_id])} \
            if operation.target_environment_id else {}
        results = [(r.service, r.workload_kind, r.status, refs.get(r.target_app_instance_id or -1), r.site_name,
                    r.cluster_id, r.namespace) for r in operation.results if r.status != "skipped"]
        places = {r.id: (r.service, _where(r.site_name, refs.get(r.target_app_instance_id or -1), r.cluster_id,
                                          r.namespace)) for r in operation.results}
        measured = tuple((*places[m.result_id], {"gate": m.gate, "at": iso(m.at), "values": list(m.values or []),
                                                  "verdict": m.verdict, "detail": m.detail})
                         for m in session.scalars(select(Measurement).where(
                             Measurement.result_id.in_(list(places))).order_by(Measurement.id)))
        running = operation.status in ACTIVE_OPERATION_STATUSES
        sites = {ref.site_id for _, _, _, ref, _, _, _ in results if ref is not None}
        connections = site_connections(session, ctx.cipher, sites) if running else {}
        began = operation.started_at or operation.created_at
        ended = operation.finished_at or utcnow()
        head = (operation.id, operation.kind, operation.status, operation.target_environment_name,
                operation.initiated_by, (ended - began).total_seconds(), bool(operation.terminate_requested))
    workloads = []
    with client_pool(connections, factory) as pool:
        for service, kind, status, ref, site, cluster, namespace in results:
            where = _where(site, ref, cluster, namespace)
            if ref is None or not running:
                workloads.append(WorkloadProgress(service, kind, where, status, None, None, None, "", ()))
                continue
            try:
                w = pool.client(ref).get_workload(ref.cluster_id, ref.namespace, kind, service)
            except RancherSyncError as error:
                workloads.append(WorkloadProgress(service, kind, where, status, None, None, None,
                                                  f"could not be read: {error}", ()))
                continue
            workloads.append(WorkloadProgress(
                service, kind, where, status, w.ready_replicas, w.replicas, w.updated_replicas,
                rollout_state(w).message,
                tuple((c.type, c.status, c.reason, c.message) for c in w.conditions)))
    return LiveOperation(*head, workloads=tuple(workloads), measurements=measured)


def _where(site: str, ref: InstanceRef | None, cluster: str, namespace: str) -> str:
    return workload_location(site, ref.cluster_name if ref else "", cluster, namespace)


def elapsed_text(seconds: float, timeout: float | None = None) -> str:
    """How long it has run, against its timeout when known: "1 min 05 s", "1 min 05 s of 5 min 00 s"."""
    def text(value: float) -> str:
        whole = int(value)
        return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"
    return text(seconds) + (f" of {text(timeout)}" if timeout else "")

