"""The target clusters' platforms as the preflight reads them from the nodes Rancher serves."""

from __future__ import annotations

from ranchersync.catalogue.sites import Connection
from ranchersync.rancher import Node
from ranchersync.registry import Platform
from ranchersync.simulator import SimulatedRancher, parse_world
from ranchersync.sync.targets import NodeCache, cluster_platforms, platforms_of

AMD, ARM = Platform("linux", "amd64"), Platform("linux", "arm64")


def node(name: str, arch: str, *, ready: bool = True) -> Node:
    return Node(name, "linux", arch, ready=ready, labels={"kubernetes.io/arch": arch})


def test_a_mixed_cluster_needs_both_unless_the_pods_are_pinned_to_one() -> None:
    known = platforms_of([node("a", "amd64"), node("b", "arm64"), node("c", "arm64", ready=False)])
    assert known.platforms == (AMD, ARM) and not known.unknown
    assert known.for_selector({}) == (AMD, ARM)
    assert known.for_selector({"kubernetes.io/arch": "arm64"}) == (ARM,)
    assert platforms_of([node("c", "s390x", ready=False)]).unknown  # no node takes pods: not known


def test_nodes_are_read_once_per_cluster_and_a_refusal_is_a_warning_not_a_guess() -> None:
    world = parse_world({"clusters": [
        {"id": "c-m-arm00001", "name": "arm", "architecture": "arm64"},
        {"id": "c-m-scoped01", "name": "scoped", "namespacedAccess": True}]})
    with SimulatedRancher(world) as sim:
        connections = {1: Connection(sim.url, sim.token)}
        cache = NodeCache()
        found = cluster_platforms([(1, "c-m-arm00001"), (1, "c-m-scoped01")], connections, cache=cache)
        assert found[(1, "c-m-arm00001")].platforms == (ARM,)
        refused = found[(1, "c-m-scoped01")]
        assert refused.platforms == (AMD,) and "could not be read" in refused.unknown
        assert "nodes" in refused.unknown and "forbidden" in refused.unknown.lower()
        cluster_platforms([(1, "c-m-arm00001")], connections, cache=cache)
        reads = [p for m, p in sim.requests_seen() if m == "GET" and p.endswith("/api/v1/nodes")]
        assert reads.count("/k8s/clusters/c-m-arm00001/api/v1/nodes") == 1
