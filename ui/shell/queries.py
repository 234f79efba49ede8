"""Cached reads for the screens: frozen dataclasses keyed on small values, cleared by the actions that write.

Stored data is cached briefly (another process, the CLI, may write too); what Rancher lists for the pickers is
cached for a minute and keyed on (site id, site's last change), so editing a site refreshes them. No token ever
enters a cache: the Rancher reads decrypt it inside the call and return only clusters and namespaces.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass

import streamlit as st

from ranchersync import history, sync
from ranchersync.catalogue import environments as env_cases
from ranchersync.catalogue import instances as instance_cases
from ranchersync.catalogue import sites as site_cases
from ranchersync.inventory import compare
from ranchersync.inventory import reading as inventory
from ranchersync.inventory import stored as stored_inventory
from ranchersync.inventory.reading import Inventory
from ranchersync.kernel.errors import NotFoundError
from ranchersync.models import utcnow
from ranchersync.rancher import Cluster, Namespace
from ui.shell import deps
from ui.shell.comparison_table import ComparisonTable, comparison_table

STORED_TTL = 30  # seconds: changes made by the CLI show up without a reload
RANCHER_TTL = 60


@dataclass(frozen=True)
class SiteRow:
    """A site as the screens show it; never its token."""

    id: int
    name: str
    url: str
    active: bool
    tls: str  # "CA bundle", "skip verification" or "system CAs"
    has_ca_bundle: bool
    insecure: bool
    allow_http: bool
    rancher_user: str | None
    token_expires_at: dt.datetime | None
    last_contact_at: dt.datetime | None
    last_latency_ms: int | None
    last_error: str | None
    updated_at: dt.datetime
    instance_count: int

    @property
    def stamp(self) -> str:
        """Changes whenever the site does: part of the Rancher cache keys."""
        return self.updated_at.isoformat()

    @property
    def tested(self) -> bool:
        """Whether a connection test has succeeded since the token was last set."""
        return self.rancher_user is not None and self.last_contact_at is not None


@dataclass(frozen=True)
class EnvironmentRow:
    """An environment of the pipeline with how many app instances it holds."""

    id: int
    name: str
    description: str
    color: str
    position: int
    protected: bool
    instance_count: int
    required_approvals: int = 0  # four-eyes: approvals a sync into it needs
    pin_digests: bool | None = None  # the setting as stored (None: nobody chose, it follows `protected`)
    pins_digests: bool = False  # whether a sync into it pins digests by default (`Environment.pins_digests`)


@dataclass(frozen=True)
class InstanceRow(inventory.InstanceRef):
    """An app instance with the names of its site and environment."""

    environment_name: str
    created_at: dt.datetime


def _tls(has_ca: bool, insecure: bool) -> str:
    return "CA bundle" if has_ca else ("skip verification" if insecure else "system CAs")


@st.cache_data(ttl=STORED_TTL, show_spinner=False)
def sites() -> tuple[SiteRow, ...]:
    """Every site, by name."""
    ctx = deps.get_context()
    with ctx.session() as session:
        counts = Counter(i.site_id for i in instance_cases.list_instances(session))
        return tuple(
            SiteRow(
                id=s.id,
                name=s.name,
                url=s.url,
                active=s.active,
                tls=_tls(bool(s.ca_bundle), s.insecure),
                has_ca_bundle=bool(s.ca_bundle),
                insecure=s.insecure,
                allow_http=s.allow_http,
                rancher_user=s.rancher_user,
                token_expires_at=s.token_expires_at,
                last_contact_at=s.last_contact_at,
                last_latency_ms=s.last_latency_ms,
                last_error=s.last_error,
                updated_at=s.updated_at,
                instance_count=counts[s.id],
            )
            for s in site_cases.list_sites(session)
        )


@st.cache_data(ttl=STORED_TTL, show_spinner=False)
def environments() -> tuple[EnvironmentRow, ...]:
    """Every environment, in pipeline order."""
    ctx = deps.get_context()
    with ctx.session() as session:
        counts = Counter(i.environment_id for i in instance_cases.list_instances(session))
        return tuple(
            EnvironmentRow(e.id, e.name, e.description, e.color, e.position, e.protected, counts[e.id],
                           e.required_approvals, e.pin_digests, e.pins_digests)
            for e in env_cases.list_environments(session)
        )


@st.cache_data(ttl=STORED_TTL, show_spinner=False)
def instances(environment_id: int | None = None) -> tuple[InstanceRow, ...]:
    """App instances in pipeline order then by name; one environment's when given."""
    return instances_now(environment_id)


def instances_now(environment_id: int | None = None) -> tuple[InstanceRow, ...]:
    """The same, read now and not cached: what a confirmation must show exactly."""
    ctx = deps.get_context()
    with ctx.session() as session:
        return tuple(
            InstanceRow(**vars(inventory.InstanceRef.of(i)), environment_name=i.environment.name,
                        created_at=i.created_at)
            for i in instance_cases.list_instances(session, environment_id)
        )


@st.cache_data(ttl=RANCHER_TTL, show_spinner="Loading clusters from Rancher…", max_entries=64)
def rancher_clusters(site_id: int, site_stamp: str) -> tuple[Cluster, ...]:
    """The clusters a site's token can see. `site_stamp` (the site's last change) is only part of the key."""
    ctx = deps.get_context()
    with ctx.session() as session:
        return tuple(site_cases.list_clusters(session, ctx.cipher, site_id, deps.client_factory()))


@st.cache_data(ttl=RANCHER_TTL, show_spinner="Loading namespaces from Rancher…", max_entries=256)
def rancher_namespaces(site_id: int, site_stamp: str, cluster_id: str) -> tuple[Namespace, ...]:
    """The namespaces of one cluster of a site."""
    ctx = deps.get_context()
    with ctx.session() as session:
        return tuple(site_cases.list_namespaces(session, ctx.cipher, site_id, cluster_id, deps.client_factory()))


def site(site_id: int) -> SiteRow | None:
    """One site from the cached list."""
    return next((s for s in sites() if s.id == site_id), None)


def environment(environment_id: int) -> EnvironmentRow | None:
    """One environment from the cached list."""
    return next((e for e in environments() if e.id == environment_id), None)


def clear_stored() -> None:
    """Forget every cached read of stored data (after a write)."""
    sites.clear()
    environments.clear()
    instances.clear()


def clear_rancher() -> None:
    """Forget what Rancher listed (the "reload" button of the pickers)."""
    rancher_clusters.clear()
    rancher_namespaces.clear()


# ---- services: read from Rancher, cached briefly (an inventory holds no token) -----------------------------------

SERVICES_TTL = 30  # seconds: filtering and switching views never refetch; the refresh button does at once
_SERVICES_REFRESH = "services_refresh"  # a per-browser counter in the cache keys: "refresh" fetches anew


@dataclass(frozen=True)
class ServiceCount:
    """An environment's services on the Overview: how many, how many unhealthy, and what could not be read."""

    environment_id: int
    total: int
    unhealthy: int  # compare.UNHEALTHY_STATUSES: failed, degraded or unknown
    unreadable: int  # app instances
    pending: int | None  # services that differ from the environment before it (None for the first)


def services_refresh() -> int:
    """This browser's refresh counter (part of every services cache key)."""
    return int(st.session_state.get(_SERVICES_REFRESH, 0))


def refresh_services() -> None:
    """Read the services from Rancher again at the next run (the refresh button's callback)."""
    st.session_state[_SERVICES_REFRESH] = services_refresh() + 1


@st.cache_data(ttl=1, show_spinner=False)
def inventory_changes() -> int:
    """The collector's change counter (0 without a collector): one small query a second at most per process,
    however many pages poll it."""
    with deps.get_context().session() as session:
        return stored_inventory.change_counter(session)


def catalogue_stamp(environment_ids: tuple[int, ...]) -> str:
    """Changes when an app instance of these environments, or a site it uses, changes: adding an app instance or
    replacing a token then shows at once, without waiting for the services cache to expire. It also changes when
    the collector stores a change (its counter), so a rollout shows at the next run; without a collector the
    counter stays 0."""
    site_stamps = {s.id: f"{s.stamp}:{s.active}" for s in sites()}
    parts = sorted(
        f"{i.id}:{i.environment_id}:{i.cluster_id}:{i.namespace}:{i.site_id}:{site_stamps.get(i.site_id, '')}"
        for i in instances()
        if i.environment_id in environment_ids
    )
    parts.append(f"changes:{inventory_changes()}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


@st.cache_data(ttl=SERVICES_TTL, show_spinner="Reading the services from Rancher…", max_entries=32)
def inventories(environment_ids: tuple[int, ...], stamp: str, refresh: int,
                digests: bool = False) -> dict[int, Inventory]:
    """The services of these environments, read in one parallel wave (with `digests`, also what their pods run);
    unreadable app instances are reported in each inventory's failures. `stamp` and `refresh` are only part of
    the key."""
    ctx = deps.get_context()
    with ctx.session() as session:
        envs = [env_cases.get_environment(session, env_id) for env_id in environment_ids]
        return inventory.list_inventories(session, ctx.cipher, envs, factory=deps.client_factory(), digests=digests)


@st.cache_data(ttl=SERVICES_TTL, show_spinner="Comparing the environments…", max_entries=16)
def comparison(
    environment_ids: tuple[int, ...], stamp: str, refresh: int, compare_by: compare.CompareBy = "image",
    digests: bool = False,
) -> ComparisonTable:
    """The comparison table of these environments (pipeline order), from the cached inventories."""
    found = inventories(environment_ids, stamp, refresh, digests)
    refs = [inventory.EnvironmentRef(e.id, e.name, e.color, e.position) for e in environments()
            if e.id in environment_ids]
    compared = compare.compare(refs, found, compare_by=compare_by)
    with deps.get_context().session() as session:  # the promotion policy's clock, per cell (cached as the rest)
        readiness = {key: r.text for key, r in sync.promotion_readiness(session, compared, utcnow()).items()}
    return comparison_table(compared, found, readiness)


def compare_environments(environment_ids: tuple[int, ...], compare_by: compare.CompareBy,
                         digests: bool = False) -> ComparisonTable:
    """The comparison of these environments, through the cache (with `digests`: what the pods run, too)."""
    return comparison(environment_ids, catalogue_stamp(environment_ids), services_refresh(), compare_by, digests)


@st.cache_data(ttl=SERVICES_TTL, show_spinner=False, max_entries=8)
def service_counts(environment_ids: tuple[int, ...], stamp: str, refresh: int) -> tuple[ServiceCount, ...]:
    """Per environment: its services, the unhealthy ones, unreadable app instances, promotions pending into it.
    Shares its inventories with the comparison of the same environments."""
    found = inventories(environment_ids, stamp, refresh)
    refs = [inventory.EnvironmentRef(e.id, e.name, e.color, e.position) for e in environments()
            if e.id in environment_ids]
    pending = compare.drift_counts(compare.compare(refs, found))
    return tuple(
        ServiceCount(
            environment_id=env_id,
            total=len(found[env_id].services),
            unhealthy=compare.unhealthy_count(found[env_id].services),
            unreadable=len(found[env_id].failures),
            pending=pending.get(env_id),
        )
        for env_id in environment_ids
    )


_services_cleared = 0  # how often clear_services ran in this process: part of the keys of tables built from reads


def services_generation() -> int:
    """Moves whenever the services reads are forgotten (`clear_services`): a screen that caches what it builds from
    an inventory puts it in its keys, so a sync's new versions show at the next run there too."""
    return _services_cleared


def clear_services() -> None:
    """Forget every services read (after a sync: the next run shows the new versions)."""
    global _services_cleared
    _services_cleared += 1
    inventories.clear()
    comparison.clear()
    service_counts.clear()


# ---- sync history: stored, cached briefly, keyed on the filter and a stamp of the newest operation ----------------


HISTORY_TTL = 15  # seconds
HISTORY_PAGE_SIZE = 25


@st.cache_data(ttl=3, show_spinner=False)
def history_stamp() -> str:
    """Changes when an operation starts or the newest one moves on (a sync on the Services screen, the CLI): part of
    every history cache key, so such a change shows at the next run rather than after the ttl."""
    with deps.get_context().session() as session:
        newest = history.list_operations(session, history.HistoryFilter(), 1, 1)
    top = newest.items[0] if newest.items else None
    return f"{newest.total}:{top.id}:{top.status}:{top.finished_at}" if top else "0"


@st.cache_data(ttl=HISTORY_TTL, show_spinner=False, max_entries=64)
def history_page(filters: history.HistoryFilter, page: int, stamp: str,
                 page_size: int = HISTORY_PAGE_SIZE) -> history.Page:
    """One page of the filtered history, newest first. `stamp` is only part of the key."""
    with deps.get_context().session() as session:
        return history.list_operations(session, filters, page, page_size)


@st.cache_data(ttl=HISTORY_TTL, show_spinner=False, max_entries=32)
def operation_detail(operation_id: int, stamp: str) -> history.OperationDetail | None:
    """One operation with every service's result; None when it no longer exists."""
    return operation_detail_now(operation_id)


def operation_detail_now(operation_id: int) -> history.OperationDetail | None:
    """The same, read now and not cached: what a rollback's confirmation must show exactly."""
    with deps.get_context().session() as session:
        try:
            return history.get_operation_detail(session, operation_id)
        except NotFoundError:
            return None


@st.cache_data(ttl=HISTORY_TTL, show_spinner="Computing the metrics…", max_entries=16)
def history_metrics(filters: history.HistoryFilter, stamp: str) -> history.Metrics:
    """The delivery metrics of the filtered period."""
    with deps.get_context().session() as session:
        return history.compute_metrics(session, filters)


def history_csv(filters: history.HistoryFilter) -> str:
    """The filtered history as CSV, read when the download is clicked (never cached: it can be large)."""
    with deps.get_context().session() as session:
        return history.export_csv(session, filters)


def clear_history() -> None:
    """Forget every history read (after a rollback)."""
    history_stamp.clear()
    history_page.clear()
    operation_detail.clear()
    history_metrics.clear()
