"""A simulated Rancher server (Norman `/v3`, the `/k8s/clusters/<id>` Kubernetes proxy) for tests, benchmarks and demos.

    with SimulatedRancher(load_demo_world("rancher-eu"), rollout_seconds=1) as rancher:
        requests.get(f"{rancher.url}/v3/clusters", headers={"Authorization": f"Bearer {rancher.token}"})
"""

from .server import SimulatedRancher
from .world import ClusterSpec, World, WorldError, load_demo_world, load_demo_worlds, load_world, parse_world

__all__ = [
    "ClusterSpec",
    "SimulatedRancher",
    "World",
    "WorldError",
    "load_demo_world",
    "load_demo_worlds",
    "load_world",
    "parse_world",
]
