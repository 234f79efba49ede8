"""Listing strategies: one cluster-wide list per kind where a cluster holds several app instances, one list per
namespace otherwise or where the token may not list the whole cluster: the same services either way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.worlds import big_world, cluster_ids, namespaces
from ranchersync.catalogue.sites import Connection
from ranchersync.context import AppContext
from ranchersync.inventory import reading as inventory
from ranchersync.inventory.listing import ListingStrategy, forget_listing_scopes
from ranchersync.inventory.reading import InstanceRef, Service
from ranchersync.rancher import RancherClient
from ranchersync.simulator import SimulatedRancher, World
from tests.core.simulator_fixtures import CLUSTER, NS, OTHER_CLUSTER, small_world


@pytest.fixture(autouse=True)
def fresh_scopes() -> Iterator[None]:
    forget_listing_scopes()
    yield
    forget_listing_scopes()


class CountingClient(RancherClient):
    """A client that counts the requests it sends (all clients of a pool share one counter list)."""

    sent: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self._http.request

        def counted(method: str, path: str, **options: Any) -> Any:
            CountingClient.sent.append(path)
            return request(method, path, **options)

        self._http.request = counted  # type: ignore[method-assign]


def ref(index: int, cluster: str, namespace: str, site_id: int = 1) -> InstanceRef:
    return InstanceRef(index, namespace, 1, site_id, "site", True, cluster, cluster, namespace)


def listing(refs: list[InstanceRef], sim: SimulatedRancher, strategy: ListingStrategy,
            ) -> tuple[list[Service], list[str], list[str]]:
    CountingClient.sent = []
    services, failures = inventory.fetch_services(
        refs, {1: Connection(sim.url, sim.token)}, factory=CountingClient, strategy=strategy)
    return services, [f.message for f in failures], list(CountingClient.sent)


def small_refs() -> list[InstanceRef]:
    return [ref(1, CLUSTER, NS), ref(2, CLUSTER, "team-b"), ref(3, OTHER_CLUSTER, NS),
            ref(4, CLUSTER, "no-such-namespace")]


def big_refs(instances: int, clusters: int) -> list[InstanceRef]:
    ids = cluster_ids(clusters)
    return [ref(i, ids[i % clusters], ns) for i, ns in enumerate(namespaces(instances))]


@pytest.mark.parametrize(("world", "refs"), [
    (small_world(), small_refs()),
    (big_world(12, 6, 3), big_refs(12, 3)),
], ids=["small", "bench"])
def test_both_strategies_list_the_same_services_in_the_same_order(world: World, refs: list[InstanceRef]) -> None:
    with SimulatedRancher(world) as sim:
        by_namespace, ns_failures, ns_requests = listing(refs, sim, "namespace")
        by_cluster, cl_failures, cl_requests = listing(refs, sim, "auto")
    assert by_cluster == by_namespace
    assert by_namespace and ns_failures == cl_failures == []
    assert len(ns_requests) == 4 * len(refs)
    # Clusters holding several app instances are listed once per kind; a lone instance keeps its own lists.
    lone = {r.cluster_id for r in refs if sum(o.cluster_id == r.cluster_id for o in refs) == 1}
    shared = {r.cluster_id for r in refs} - lone
    assert len(cl_requests) == 4 * len(shared) + 4 * len(lone)
    assert any(p.endswith("/apis/apps/v1/deployments") for p in cl_requests)


def test_the_demo_environments_list_the_same_both_ways(demo: AppContext) -> None:
    with demo.session() as session:
        refs = inventory.instance_refs(session, [1, 2, 3])
        connections = inventory.site_connections(session, demo.cipher, {r.site_id for r in refs})
    both = [inventory.fetch_services(refs, connections, strategy=s) for s in ("namespace", "auto")]
    assert both[0] == both[1]
    assert {s.instance.name for s in both[0][0]} == {"shop-dev", "payments-dev", "shop-stage", "shop-east",
                                                     "shop-west"}


def test_a_cluster_that_refuses_cluster_wide_lists_is_listed_per_namespace_and_remembered() -> None:
    refs = small_refs()
    with SimulatedRancher(small_world()) as sim:
        expected, _, _ = listing(refs, sim, "namespace")
        sim.restrict_to_namespaces(CLUSTER)
        first, failures, requests = listing(refs, sim, "auto")
        assert failures == []
        assert first == expected
        prefix = f"/k8s/clusters/{CLUSTER}/"
        cluster_wide = sorted(p[len(prefix):] for p in requests if p.startswith(prefix) and "/namespaces/" not in p)
        assert cluster_wide == [  # each kind tried once, refused
            "apis/apps/v1/daemonsets", "apis/apps/v1/deployments", "apis/apps/v1/statefulsets",
            "apis/batch/v1/cronjobs"]
        assert len(requests) == 4 + 4 * 3 + 4  # 4 refused, then 3 namespaces × 4 kinds, and the lone instance
        again, _, requests = listing(refs, sim, "auto")
        assert again == expected
        assert len(requests) == 4 * len(refs)  # remembered: no cluster-wide attempt this time


def test_a_failing_cluster_marks_each_of_its_app_instances(rancher_us: SimulatedRancher) -> None:
    refs = [ref(1, "c-7xk2p", "shop-prod"), ref(2, "c-7xk2p", "other")]
    rancher_us.set_cluster_state("c-7xk2p", "unavailable")
    services, failures, _ = listing(refs, rancher_us, "auto")
    assert services == []
    assert len(failures) == 2 and all(m.startswith("The cluster is unavailable through Rancher") for m in failures)
