"""Generated simulator worlds for benchmarks: many namespaces of many workloads over a few clusters."""

from __future__ import annotations

from typing import Any

from ranchersync.simulator import World, parse_world

# Per namespace, in this proportion: mostly Deployments, as in real applications.
_KIND_MIX = ("Deployment",) * 14 + ("StatefulSet",) * 3 + ("DaemonSet",) * 2 + ("CronJob",)


def cluster_ids(clusters: int) -> list[str]:
    """Rancher-like cluster ids c-m-bench000, c-m-bench001, …"""
    return [f"c-m-bench{n:03d}" for n in range(clusters)]


def namespaces(instances: int) -> list[str]:
    """One namespace per app instance."""
    return [f"app-{n:03d}" for n in range(instances)]


def big_world(instances: int = 100, workloads: int = 20, clusters: int = 4, version: str = "1.0.0") -> World:
    """`instances` namespaces spread round-robin over `clusters`, each holding `workloads` workloads."""
    return parse_world(big_world_data(instances, workloads, clusters, version))


def big_world_data(instances: int, workloads: int, clusters: int, version: str = "1.0.0") -> dict[str, Any]:
    """The same world as a world-file document (for a simulator in its own process)."""
    by_cluster: dict[str, list[dict[str, Any]]] = {cid: [] for cid in cluster_ids(clusters)}
    ids = list(by_cluster)
    for index, namespace in enumerate(namespaces(instances)):
        objects = by_cluster[ids[index % clusters]]
        for w in range(workloads):
            kind = _KIND_MIX[w % len(_KIND_MIX)]
            image = f"registry.example.com:5000/bench/svc-{w:02d}:{version}"
            objects.append(_workload(kind, f"svc-{w:02d}", namespace, image))
    return {"name": "bench", "clusters": [{"id": cid, "name": f"bench-{n}", "objects": objs, "systemNamespaces": False}
                                          for n, (cid, objs) in enumerate(by_cluster.items())]}


def _workload(kind: str, name: str, namespace: str, image: str) -> dict[str, Any]:
    pod = {"spec": {"containers": [{"name": "app", "image": image}]}}
    if kind == "CronJob":
        spec: dict[str, Any] = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": pod}}}
    elif kind == "DaemonSet":
        spec = {"template": pod}
    else:
        spec = {"replicas": 2, "template": pod}
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}
