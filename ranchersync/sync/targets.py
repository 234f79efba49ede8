"""What the preflight reads from the target clusters through Rancher: the nodes' platforms (cached per cluster for a
short time) and, on a site that opted in, the target workloads' own `imagePullSecrets` or, for a workload whose pod
template names none, its ServiceAccount's (held in memory for one plan).

Nodes: ``/k8s/clusters/{id}/api/v1/nodes``, ``status.nodeInfo.operatingSystem``/``architecture`` of every node that
takes pods (Ready and schedulable). A cluster whose nodes cannot be read (a token whose roles are bound in namespaces
gets 403) is checked for ``linux/amd64`` as before, with a warning that says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.catalogue.sites import ClientFactory, Connection
from ranchersync.inventory.reading import site_connections
from ranchersync.kernel.errors import RancherAPIError, ValidationError
from ranchersync.models import Site
from ranchersync.rancher import Node, RancherClient
from ranchersync.registry import DEFAULT_PLATFORM, Credentials, Platform, UnreadablePullSecret, pull_credentials
from ranchersync.security.crypto import TokenCipher
from ranchersync.sync.plan import SyncPlan

NODES_SECONDS: Final = 120.0  # a node pool changes its CPU rarely; a plan made twice reads the nodes once
ClusterKey = tuple[int, str]  # (site id, cluster id)
T = TypeVar("T")


@dataclass(frozen=True)
class ClusterPlatforms:
    """The platforms a cluster's nodes run, or why they are not known (`platforms` is then the default)."""

    platforms: tuple[Platform, ...]
    by_node: tuple[tuple[Platform, Mapping[str, str]], ...] = ()  # each usable node's platform and labels
    unknown: str = ""  # why the nodes could not be read

    def for_selector(self, node_selector: Mapping[str, str]) -> tuple[Platform, ...]:
        """The platforms of the nodes a pod template's nodeSelector lets its pods land on (all when none match:
        the scheduler would leave the pods pending, which is not the registry's concern)."""
        if not node_selector or not self.by_node:
            return self.platforms
        fitting = tuple(dict.fromkeys(p for p, labels in self.by_node
                                      if all(labels.get(k) == v for k, v in node_selector.items())))
        return fitting or self.platforms


def platforms_of(nodes: Iterable[Node]) -> ClusterPlatforms:
    usable = [n for n in nodes if n.ready and n.schedulable and n.os and n.architecture]
    if not usable:
        return ClusterPlatforms((DEFAULT_PLATFORM,), unknown="no Ready node reports its platform")
    by_node = tuple((Platform(n.os, n.architecture), dict(n.labels)) for n in usable)
    return ClusterPlatforms(tuple(dict.fromkeys(p for p, _ in by_node)), by_node)


class NodeCache:
    """Each cluster's platforms for a short time, shared by every plan of the process (keyed by the Rancher URL
    and the cluster id, so two sites on one server share it)."""

    def __init__(self, seconds: float = NODES_SECONDS) -> None:
        self.seconds = seconds
        self._items: dict[tuple[str, str], tuple[float, ClusterPlatforms]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> ClusterPlatforms | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            return entry[1]

    def put(self, key: tuple[str, str], value: ClusterPlatforms) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.seconds, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


NODE_CACHE = NodeCache()


def _read_nodes(connection: Connection, cluster_id: str, factory: ClientFactory) -> ClusterPlatforms:
    try:
        with connection.client(factory, retries=1) as client:
            return platforms_of(client.list_nodes(cluster_id))
    except RancherAPIError as error:
        return ClusterPlatforms((DEFAULT_PLATFORM,), unknown=f"its nodes could not be read ({error})")


def cluster_platforms(
    keys: Iterable[ClusterKey],
    connections: Mapping[int, Connection],
    *,
    factory: ClientFactory = RancherClient,
    cache: NodeCache | None = NODE_CACHE,
) -> dict[ClusterKey, ClusterPlatforms]:
    """The platforms of each (site, cluster), read concurrently where not cached."""
    found: dict[ClusterKey, ClusterPlatforms] = {}
    todo: list[ClusterKey] = []
    for key in dict.fromkeys(keys):
        connection = connections.get(key[0])
        if connection is None:
            found[key] = ClusterPlatforms((DEFAULT_PLATFORM,), unknown="its site is not known")
            continue
        cached = cache.get((connection.url, key[1])) if cache is not None else None
        if cached is not None:
            found[key] = cached
        else:
            todo.append(key)
    if todo:
        with ThreadPoolExecutor(max_workers=min(8, len(todo)), thread_name_prefix="nodes") as pool:
            read: Callable[[ClusterKey], ClusterPlatforms] = \
                lambda key: _read_nodes(connections[key[0]], key[1], factory)  # noqa: E731
            for key, value in zip(todo, pool.map(read, todo), strict=True):
                found[key] = value
                if cache is not None and not value.unknown:
                    cache.put((connections[key[0]].url, key[1]), value)
    return found


ServiceKey = tuple[int, str, str]  # (target app instance id, kind, name)
SecretKey = tuple[int, str, str, str]  # (site id, cluster id, namespace, secret or service account name)


@dataclass(frozen=True)
class TargetFacts:
    """What the preflight needs from the target clusters: the nodes' platforms; on sites that opted in, each
    target workload's pull credentials by registry host (in memory for this plan only: never stored, logged or
    shown) and what could not be read of them."""

    platforms: Mapping[ClusterKey, ClusterPlatforms] = field(default_factory=dict)
    pull: Mapping[ServiceKey, Mapping[str, Credentials]] = field(default_factory=dict, repr=False)
    pull_warnings: Mapping[ServiceKey, tuple[str, ...]] = field(default_factory=dict)

    def __repr__(self) -> str:  # the credentials stay out of logs and tracebacks
        return f"TargetFacts(clusters={len(self.platforms)}, workloads_with_pull_secrets={len(self.pull)})"


def _read_secret(connection: Connection, key: SecretKey,
                 factory: ClientFactory) -> dict[str, Credentials] | str:
    """The credentials of one pull secret, or why they could not be read (never its content)."""
    _, cluster_id, namespace, name = key
    try:
        with connection.client(factory, retries=1) as client:
            kind, data = client.get_secret(cluster_id, namespace, name)
        return pull_credentials(kind, data)
    except (RancherAPIError, ValidationError) as error:
        return f"the pull secret {namespace}/{name} could not be read ({type(error).__name__}: " \
               f"{getattr(error, 'status', None) or 'refused'})"
    except UnreadablePullSecret as error:
        return f"the pull secret {namespace}/{name} is not usable: {error}"


def _read_account(connection: Connection, key: SecretKey, factory: ClientFactory) -> tuple[str, ...] | str:
    """A ServiceAccount's pull-secret names, or why they could not be read (a warning, never a failure)."""
    _, cluster_id, namespace, name = key
    try:
        with connection.client(factory, retries=1) as client:
            return client.get_service_account(cluster_id, namespace, name).image_pull_secrets
    except (RancherAPIError, ValidationError) as error:
        return f"the service account {namespace}/{name} could not be read for its pull secrets " \
               f"({type(error).__name__}: {getattr(error, 'status', None) or 'refused'})"


def _read_all(keys: Sequence[SecretKey], read: Callable[[SecretKey], T], prefix: str) -> dict[SecretKey, T]:
    """Each key read once, concurrently."""
    if not keys:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(keys)), thread_name_prefix=prefix) as pool:
        return dict(zip(keys, pool.map(read, keys), strict=True))


def pull_secrets(plan: SyncPlan, connections: Mapping[int, Connection], opted_in: Collection[int], *,
                 factory: ClientFactory = RancherClient) -> tuple[dict[ServiceKey, dict[str, Credentials]],
                                                                    dict[ServiceKey, tuple[str, ...]]]:
    """Each changing target workload's pull credentials, on the sites in `opted_in`: its template's imagePullSecrets
    or, when it names none, its ServiceAccount's (what the ServiceAccount admission gives its pods), in order: the
    first secret naming a host wins. Accounts and secrets are read once each, concurrently; one that cannot be read
    is a warning."""
    services: dict[ServiceKey, tuple[tuple[int, str, str], tuple[str, ...], str]] = {}
    for item in plan.to_apply:
        target = item.target
        if target is None or target.instance.site_id not in opted_in or target.instance.site_id not in connections:
            continue
        ref = target.instance
        services[(ref.id, item.kind, item.name)] = ((ref.site_id, ref.cluster_id, ref.namespace),
                                                    target.workload.image_pull_secrets, target.workload.service_account)
    accounts = _read_all(list(dict.fromkeys((*where, account) for where, names, account in services.values()
                                            if not names)),
                         lambda k: _read_account(connections[k[0]], k, factory), "service-accounts")
    wanted: dict[ServiceKey, list[SecretKey]] = {}
    warnings: dict[ServiceKey, tuple[str, ...]] = {}
    for service, (where, names, account) in services.items():
        if not names:
            found_names = accounts[(*where, account)]
            if isinstance(found_names, str):
                warnings[service] = (found_names,)
                continue
            names = found_names
        if names:
            wanted[service] = [(*where, n) for n in names]
    keys = list(dict.fromkeys(k for ks in wanted.values() for k in ks))
    read = _read_all(keys, lambda k: _read_secret(connections[k[0]], k, factory), "pull-secrets")
    pull: dict[ServiceKey, dict[str, Credentials]] = {}
    for service, secret_keys in wanted.items():
        merged: dict[str, Credentials] = {}
        problems: list[str] = []
        for key in secret_keys:
            found = read[key]
            if isinstance(found, str):
                problems.append(found)
            else:
                merged = {**found, **merged}
        if merged:
            pull[service] = merged
        if problems:
            warnings[service] = tuple(problems)
    return pull, warnings


def target_keys(plan: SyncPlan) -> list[ClusterKey]:
    return list(dict.fromkeys((i.target.instance.site_id, i.target.instance.cluster_id)
                              for i in plan.to_apply if i.target is not None))


def read_targets(session: Session, cipher: TokenCipher, plan: SyncPlan, *,
                 factory: ClientFactory = RancherClient) -> TargetFacts:
    """Read the target clusters' nodes and, on sites that opted in (`sites update S --use-pull-secrets`), the
    changing workloads' pull secrets, their own or their ServiceAccount's (what the plan changes only)."""
    keys = target_keys(plan)
    if not keys:
        return TargetFacts()
    site_ids = {site for site, _ in keys}
    connections = site_connections(session, cipher, site_ids)
    opted_in = set(session.scalars(select(Site.id).where(Site.id.in_(site_ids), Site.use_pull_secrets.is_(True))))
    pull, pull_warnings = pull_secrets(plan, connections, opted_in, factory=factory) if opted_in else ({}, {})
    return TargetFacts(cluster_platforms(keys, connections, factory=factory), pull, pull_warnings)


def item_platforms(facts: TargetFacts, site_id: int, cluster_id: str,
                   node_selector: Mapping[str, str]) -> tuple[Sequence[Platform], str]:
    """The platforms one target workload's pods may run on, and a warning when they are not known."""
    known = facts.platforms.get((site_id, cluster_id))
    if known is None:
        return (DEFAULT_PLATFORM,), ""
    return known.for_selector(node_selector), known.unknown
