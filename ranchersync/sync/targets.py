"""What the preflight reads from the target clusters through Rancher: the nodes' platforms (cached per cluster for a
short time) and, on a site that opted in, the target workloads' own `imagePullSecrets` (held in memory for one plan).

Nodes: ``/k8s/clusters/{id}/api/v1/nodes``, ``status.nodeInfo.operatingSystem``/``architecture`` of every node that
takes pods (Ready and schedulable). A cluster whose nodes cannot be read (a token whose roles are bound in namespaces
gets 403) is checked for ``linux/amd64`` as before, with a warning that says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.orm import Session

from ranchersync.catalogue.sites import ClientFactory, Connection
from ranchersync.inventory.reading import site_connections
from ranchersync.kernel.errors import RancherAPIError
from ranchersync.rancher import Node, RancherClient
from ranchersync.registry import DEFAULT_PLATFORM, Platform
from ranchersync.security.crypto import TokenCipher
from ranchersync.sync.plan import SyncPlan

NODES_SECONDS: Final = 120.0  # a node pool changes its CPU rarely; a plan made twice reads the nodes once
ClusterKey = tuple[int, str]  # (site id, cluster id)


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


@dataclass(frozen=True)
class TargetFacts:
    """What the preflight needs from the target clusters."""

    platforms: Mapping[ClusterKey, ClusterPlatforms] = field(default_factory=dict)


def target_keys(plan: SyncPlan) -> list[ClusterKey]:
    return list(dict.fromkeys((i.target.instance.site_id, i.target.instance.cluster_id)
                              for i in plan.to_apply if i.target is not None))


def read_targets(session: Session, cipher: TokenCipher, plan: SyncPlan, *,
                 factory: ClientFactory = RancherClient) -> TargetFacts:
    """Read the target clusters' nodes (what the plan changes only)."""
    keys = target_keys(plan)
    if not keys:
        return TargetFacts()
    connections = site_connections(session, cipher, {site for site, _ in keys})
    return TargetFacts(cluster_platforms(keys, connections, factory=factory))


def item_platforms(facts: TargetFacts, site_id: int, cluster_id: str,
                   node_selector: Mapping[str, str]) -> tuple[Sequence[Platform], str]:
    """The platforms one target workload's pods may run on, and a warning when they are not known."""
    known = facts.platforms.get((site_id, cluster_id))
    if known is None:
        return (DEFAULT_PLATFORM,), ""
    return known.for_selector(node_selector), known.unknown
