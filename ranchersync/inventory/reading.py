"""Reading what environments run: the services of every app instance, fetched in parallel from Rancher.

Which list requests that takes (cluster-wide or per namespace) and how they run lives in
`ranchersync.inventory.listing`; the comparison of environments (what differs, what drifted) is pure and lives in
`ranchersync.inventory.compare`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory, Connection, site_connection
from ranchersync.inventory.digests import LastSync, OutsideChange, RunningImages, outside_change, running_images
from ranchersync.inventory.listing import ListingStrategy, listing_jobs, run_listing
from ranchersync.inventory.refs import EnvironmentRef as EnvironmentRef  # still offered here, beside Service
from ranchersync.inventory.refs import InstanceRef
from ranchersync.inventory.stored import (
    Freshness,
    Pair,
    change_counter,
    collector_ever_ran,
    freshness,
    stored_workloads,
)
from ranchersync.kernel.errors import OperationFailed, RancherSyncError
from ranchersync.kernel.images import parse_image
from ranchersync.models import AppInstance, Environment, Site, SyncResult, utcnow
from ranchersync.rancher import WORKLOAD_KINDS, Pod, RancherClient, Workload, WorkloadStatus, workload_status
from ranchersync.security.crypto import TokenCipher

# Listing is latency-bound (one request per app instance and kind); 32 requests in flight keep a Rancher busy
# without hammering it.
DEFAULT_CONCURRENCY = 32

@dataclass(frozen=True)
class Service:
    """One workload of one app instance, as the services page and the sync see it."""

    instance: InstanceRef
    workload: Workload
    status: WorkloadStatus
    last_synced: dt.datetime | None = None
    running: RunningImages | None = None  # the digests its pods run, when they were read (`digests=True`)
    outside: OutsideChange | None = None  # changed by someone else since our last sync into it
    last_sync: LastSync | None = None  # what our last successful sync into it set
    source: str = "live"  # "watch": from the collector's stored inventory; "live": read from Rancher now
    observed_at: dt.datetime | None = None  # when what it shows was known to be current

    @property
    def kind(self) -> str:
        return self.workload.kind

    @property
    def name(self) -> str:
        return self.workload.name

    @property
    def key(self) -> tuple[str, str]:
        """What matches a service across environments: kind and name (DESIGN.md)."""
        return (self.workload.kind, self.workload.name)

    @property
    def id(self) -> str:
        """A stable id: app instance, kind and name."""
        return f"{self.instance.id}/{self.workload.kind}/{self.workload.name}"

    @property
    def images(self) -> dict[str, str]:
        """Image per regular container."""
        return self.workload.images

    @property
    def image_tag(self) -> str:
        """The tag (or short digest) of the primary container (``Workload.primary_container``): the API's
        ``imageTag``. Comparisons still look at every container (``images``)."""
        primary = self.workload.primary_container
        return display_tag(primary.image) if primary else ""

    @property
    def sidecar_tags(self) -> dict[str, str]:
        """The tags of the other regular containers, by container name (a table's second line)."""
        primary = self.workload.primary_container
        return {c.name: display_tag(c.image) for c in self.workload.containers
                if not c.init and (primary is None or c.name != primary.name)}


class SiteDeactivated(OperationFailed):
    """An app instance on a deactivated site is not read (its services are unknown, not missing)."""

    kind = "site_deactivated"
    default_title = "The site is deactivated"
    default_hint = "Activate the site on the Sites page (or `sites update SITE --active`) to read it again."


@dataclass(frozen=True)
class InstanceFailure:
    """An app instance whose services (or, with `part="pods"`, whose pods) could not be read: the typed error keeps
    its kind, title and hint for whoever displays it."""

    instance: InstanceRef
    error: RancherSyncError
    part: str = ""

    @property
    def message(self) -> str:
        """What went wrong, in words for the user (the error's own message, prefixed with the part read)."""
        return f"{self.part}: {self.error}" if self.part else str(self.error)

    @property
    def kind(self) -> str:
        return self.error.kind

    @property
    def title(self) -> str:
        return self.error.title

    @property
    def hint(self) -> str:
        return self.error.hint


@dataclass(frozen=True)
class Inventory:
    """Everything one environment runs, with the app instances that could not be read."""

    environment_id: int
    services: tuple[Service, ...]
    failures: tuple[InstanceFailure, ...]
    fetched_at: dt.datetime
    source: str = "live"  # "watch" when every app instance came from the stored inventory
    observed_at: dt.datetime | None = None  # the oldest moment its services were known current
    stale: tuple[str, ...] = ()  # why clusters were read live although a collector exists ("prod-east: …")


def display_tag(image: str) -> str:
    """An image's tag as an operator reads it; the raw string when it does not parse."""
    return _display_tag(image)


@functools.lru_cache(maxsize=16_384)
def _display_tag(image: str) -> str:
    # Pure on a string, and the same few images recur across every service, copy and environment of a view: parsing
    # each anew was a third of a 2,000-service view's time. Bounded, so a stream of new images cannot grow it.
    try:
        return parse_image(image).display_tag
    except RancherSyncError:
        return image


def instance_refs(session: Session, environment_ids: Sequence[int | None]) -> list[InstanceRef]:
    """The app instances of these environments, by name."""
    # Columns, not ORM objects (as `InstanceRef.of` would give): a view of 200 app instances builds no object graph.
    rows = session.execute(
        select(AppInstance.id, AppInstance.name, AppInstance.environment_id, AppInstance.site_id, Site.name,
               Site.active, AppInstance.cluster_id, AppInstance.cluster_name, AppInstance.namespace)
        .join(Site, AppInstance.site_id == Site.id)
        .where(AppInstance.environment_id.in_(environment_ids)).order_by(AppInstance.name, AppInstance.id)
    ).all()
    return [InstanceRef(id=i, name=name, environment_id=env_id, site_id=site_id, site_name=site_name,
                        site_active=active, cluster_id=cluster_id, cluster_name=cluster_name or cluster_id,
                        namespace=namespace)
            for i, name, env_id, site_id, site_name, active, cluster_id, cluster_name, namespace in rows]


def site_connections(session: Session, cipher: TokenCipher, site_ids: Iterable[int]) -> dict[int, Connection]:
    """The stored connections of these sites, each token decrypted once, just before the requests need it."""
    return {site.id: site_connection(site, cipher) for site in session.scalars(select(Site).where(
        Site.id.in_(set(site_ids))))}


def last_synced(session: Session, instance_ids: Sequence[int]) -> dict[tuple[int, str, str], dt.datetime]:
    """When each (app instance, kind, service) last received a successful sync."""
    rows = session.execute(
        select(SyncResult.target_app_instance_id, SyncResult.workload_kind, SyncResult.service,
               func.max(SyncResult.finished_at))
        .where(SyncResult.target_app_instance_id.in_(instance_ids), SyncResult.status == "success")
        .group_by(SyncResult.target_app_instance_id, SyncResult.workload_kind, SyncResult.service)
    ).all()
    return {(inst, kind, name): when for inst, kind, name, when in rows if inst is not None and when is not None}



def fetch_services(
    refs: Sequence[InstanceRef],
    connections: Mapping[int, Connection],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    factory: ClientFactory = RancherClient,
    kinds: Sequence[str] = WORKLOAD_KINDS,
    strategy: ListingStrategy = "auto",
) -> tuple[list[Service], list[InstanceFailure]]:
    """List every workload of these app instances in parallel.

    With ``strategy="auto"``, app instances that share a cluster are listed with one cluster-wide list per kind
    (paged, then filtered to their namespaces here); a cluster whose token may only list inside namespaces (403)
    is listed namespace by namespace, and remembered so for ``listing.SCOPE_MEMORY_SECONDS``. ``"namespace"`` always
    lists per (app instance, kind). Both give the same services in the same order.

    A failing app instance (timeout, refused token, missing namespace…) is reported once in the failures and
    contributes no services; the others are complete.
    """
    active = [ref for ref in refs if ref.site_active]
    failures = [InstanceFailure(ref, SiteDeactivated(f"site '{ref.site_name}' is deactivated"))
                for ref in refs if not ref.site_active]
    results, errors = run_listing(
        listing_jobs(active, kinds, strategy, connections), connections, concurrency, factory,
        lambda client, ref, kind: client.list_workloads(ref.cluster_id, ref.namespace, kinds=(kind,)),
        lambda client, ref, kind: client.list_cluster_workloads(ref.cluster_id, kind),
        lambda workload: workload.namespace,
    )
    services: list[Service] = []
    for ref in refs:
        if ref.id in errors:
            failures.append(InstanceFailure(ref, errors[ref.id]))
        elif ref.site_active:
            services.extend(Service(ref, w, workload_status(w))
                            for kind in kinds for w in results.get((ref.id, kind), ()))
    return services, failures


def fetch_running(
    services: Sequence[Service],
    connections: Mapping[int, Connection],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    factory: ClientFactory = RancherClient,
    strategy: ListingStrategy = "auto",
) -> tuple[list[Service], list[InstanceFailure]]:
    """The services with the digests their pods run (`Service.running`): one pod list per app instance, or one
    per cluster where the listing strategy allows. An app instance whose pods cannot be read keeps its services
    without digests and is reported."""
    refs = list({s.instance.id: s.instance for s in services}.values())
    results, errors = run_listing(
        listing_jobs(refs, ("Pod",), strategy, connections), connections, concurrency, factory,
        lambda client, ref, _kind: client.list_pods(ref.cluster_id, ref.namespace),
        lambda client, ref, _kind: client.list_pods(ref.cluster_id, None),
        lambda pod: pod.namespace,
    )
    pods: dict[int, list[Pod]] = {ref.id: results.get((ref.id, "Pod"), []) for ref in refs}
    with_running = [
        s if s.instance.id in errors or s.kind == "CronJob"
        else dataclasses.replace(s, running=running_images(s.workload, pods[s.instance.id]))
        for s in services
    ]
    return with_running, [InstanceFailure(ref, errors[ref.id], "pods") for ref in refs if ref.id in errors]


def last_syncs(session: Session, instance_ids: Sequence[int]) -> dict[tuple[int, str, str], LastSync]:
    """What our last successful sync into each (app instance, kind, service) set, per container."""
    rows: Sequence[Any] = session.execute(
        select(SyncResult.target_app_instance_id, SyncResult.workload_kind, SyncResult.service,
               SyncResult.containers, SyncResult.finished_at, SyncResult.operation_id, SyncResult.verified_digests)
        .where(SyncResult.target_app_instance_id.in_(instance_ids), SyncResult.status == "success",
               SyncResult.applied.is_(True))
        .order_by(SyncResult.finished_at, SyncResult.id)
    ).all()
    found: dict[tuple[int, str, str], LastSync] = {}
    for inst, kind, name, containers, finished, operation, digests in rows:
        images = {str(c["name"]): str(c["new"]) for c in containers or () if isinstance(c, dict) and c.get("new")}
        if inst is not None and images:
            found[(inst, kind, name)] = LastSync(images, finished, operation, dict(digests or {}))
    return found


def _first_seen(
    session: Session, services: Sequence[Service], outside: dict[tuple[int, str, str], OutsideChange],
    now: dt.datetime,
) -> dict[tuple[int, str, str], OutsideChange]:
    """Outside changes dated when they were first seen (stored), not when this read noticed them again."""
    if not outside:
        return outside
    from ranchersync.inventory.sightings import first_sightings, sighting_key

    images = {(s.instance.id, s.kind, s.name): {c.name: c.image for c in s.workload.containers} for s in services
              if (s.instance.id, s.kind, s.name) in outside}
    first = first_sightings(session, [(*key, images[key]) for key in outside], now)
    return {key: dataclasses.replace(change, noticed_at=first.get(sighting_key(*key, images[key]), now))
            for key, change in outside.items()}


def list_services(
    session: Session,
    cipher: TokenCipher,
    environment: int | str,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    factory: ClientFactory = RancherClient,
) -> Inventory:
    """The services of every app instance of an environment, with their last successful sync."""
    env = get_environment(session, environment)
    return list_inventories(session, cipher, [env], concurrency=concurrency, factory=factory)[env.id]


def list_inventories(
    session: Session,
    cipher: TokenCipher,
    environments: Sequence[Environment],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    factory: ClientFactory = RancherClient,
    digests: bool = False,
    stored: bool = True,
) -> dict[int, Inventory]:
    """The inventories of several environments, fetched together in one parallel wave; with ``digests`` also
    what their pods run (one more list per app instance, or per cluster). Services changed outside the tool
    since our last sync carry ``outside``.

    Clusters the collector keeps fresh are read from the stored inventory (no request to Rancher, ``source``
    "watch"); the others live. ``stored=False`` reads everything live (a sync plans on what it will patch)."""
    refs = instance_refs(session, [e.id for e in environments])
    synced = last_synced(session, [r.id for r in refs])
    ours = last_syncs(session, [r.id for r in refs])
    kinds = (*WORKLOAD_KINDS, "Pod") if digests else WORKLOAD_KINDS
    fresh = stored_freshness(session, refs, kinds) if stored else {}
    from_store = [r for r in refs if r.site_active and fresh.get((r.site_id, r.cluster_id), _LIVE).fresh]
    stored_ids = {r.id for r in from_store}  # membership by id: comparing whole refs is quadratic in app instances
    live_refs = [r for r in refs if r.id not in stored_ids]
    connections = site_connections(session, cipher, {r.site_id for r in live_refs})
    live, failures = fetch_services(live_refs, connections, concurrency=concurrency, factory=factory)
    if digests and live:
        live, pod_failures = fetch_running(live, connections, concurrency=concurrency, factory=factory)
        failures += pod_failures
    fetched_at = utcnow()
    live = [dataclasses.replace(s, observed_at=fetched_at) for s in live]
    services = _in_order(refs, live + read_stored(session, from_store, fresh, digests))
    keys: list[tuple[int, str, str]] = [(s.instance.id, s.workload.kind, s.workload.name) for s in services]
    # Only services we synced can carry an outside change (`outside_change` of no last sync is None).
    outside = {key: change for s, key in zip(services, keys, strict=True) if key in ours
               for change in [outside_change(s.workload, ours[key], fetched_at)] if change is not None}
    outside = _first_seen(session, services, outside, fetched_at)
    by_env: dict[int, Inventory] = {}
    for env in environments:
        env_services = tuple(
            # A service never synced nor changed outside keeps its object: the fields it would set are None.
            s if when is None and last is None and change is None
            else dataclasses.replace(s, last_synced=when, last_sync=last, outside=change)
            for s, key in zip(services, keys, strict=True)
            if s.instance.environment_id == env.id
            for when, last, change in [(synced.get(key), ours.get(key), outside.get(key))]
        )
        env_failures = tuple(f for f in failures if f.instance.environment_id == env.id)
        env_refs = [r for r in refs if r.environment_id == env.id and r.site_active]
        watched = bool(env_refs) and all(r.id in stored_ids for r in env_refs)
        seen = [fresh[(r.site_id, r.cluster_id)].observed_at for r in env_refs if r.id in stored_ids]
        observed = min([t for t in seen if t is not None] + ([] if watched else [fetched_at]), default=fetched_at)
        stale = tuple(sorted({f"{r.cluster_name}: {fresh[(r.site_id, r.cluster_id)].reason}" for r in env_refs
                              if (r.site_id, r.cluster_id) in fresh and r.id not in stored_ids}))
        by_env[env.id] = Inventory(env.id, env_services, env_failures, fetched_at,
                                   "watch" if watched else "live", observed, stale)
    return by_env


_LIVE = Freshness(False, None)


def stored_freshness(session: Session, refs: Sequence[InstanceRef], kinds: Sequence[str]) -> dict[Pair, Freshness]:
    """Freshness of the stored inventory of these app instances' clusters; {} while no collector ever ran (so a
    setup without one pays a single small query)."""
    if not refs or change_counter(session) == 0 and not collector_ever_ran(session):
        return {}
    return freshness(session, {(r.site_id, r.cluster_id) for r in refs if r.site_active}, kinds)


def read_stored(session: Session, refs: Sequence[InstanceRef], fresh: Mapping[Pair, Freshness],
                digests: bool) -> list[Service]:
    """The services of app instances whose clusters are fresh in the stored inventory (no request to Rancher)."""
    if not refs:
        return []
    found = stored_workloads(session, {(r.site_id, r.cluster_id) for r in refs}, {r.namespace for r in refs},
                             WORKLOAD_KINDS)
    services: list[Service] = []
    for ref in refs:
        observed = fresh[(ref.site_id, ref.cluster_id)].observed_at
        for workload, running, status in found.get((ref.site_id, ref.cluster_id, ref.namespace), ()):
            services.append(Service(ref, workload, status,
                                    running=running if digests and workload.kind != "CronJob" else None,
                                    source="watch", observed_at=observed))
    return services


def _in_order(refs: Sequence[InstanceRef], services: Sequence[Service]) -> list[Service]:
    """Services grouped by app instance in the order of `refs` (each group keeps its kind and name order)."""
    by_ref: dict[int, list[Service]] = {}
    for service in services:
        by_ref.setdefault(service.instance.id, []).append(service)
    return [s for ref in refs for s in by_ref.get(ref.id, ())]
