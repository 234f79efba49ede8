"""What the preflight reads from the target clusters Rancher serves: the nodes' platforms, and the changing
workloads' pull secrets (their own, else their ServiceAccount's)."""

from __future__ import annotations

import base64
import json
from typing import Any

from ranchersync.catalogue.sites import Connection
from ranchersync.inventory.reading import EnvironmentRef, InstanceRef, Service
from ranchersync.rancher import Node, Workload
from ranchersync.registry import Platform
from ranchersync.simulator import SimulatedRancher, parse_world
from ranchersync.sync import plan_sync
from ranchersync.sync.targets import NodeCache, cluster_platforms, platforms_of, pull_secrets

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


PULLS, REFUSING = "c-m-pulls001", "c-m-refuse01"
CONFIG = base64.b64encode(json.dumps({"auths": {"127.0.0.1:5999": {"username": "puller", "password": "pw-9"}}})
                          .encode()).decode()


def target(cluster: str, name: str, image: str, **pod: Any) -> Service:
    """A Deployment of namespace `shop` on site 1, its pod template with `pod`'s extra fields."""
    ref = InstanceRef(id=7 if cluster == PULLS else 8, name=cluster, environment_id=3, site_id=1, site_name="s",
                      site_active=True, cluster_id=cluster, cluster_name=cluster, namespace="shop")
    workload = Workload.from_k8s({"kind": "Deployment", "metadata": {"name": name, "namespace": "shop"},
                                  "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}],
                                                                 **pod}}}})
    return Service(ref, workload, "running")


def test_a_workload_naming_no_pull_secret_gets_its_service_accounts_and_an_unreadable_account_is_a_warning() -> None:
    world = parse_world({"clusters": [
        {"id": PULLS, "name": "pulls", "objects": [
            {"kind": "ServiceAccount", "metadata": {"name": "builder", "namespace": "shop"},
             "imagePullSecrets": [{"name": "regcred"}]},
            {"kind": "Secret", "metadata": {"name": "regcred", "namespace": "shop"},
             "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": CONFIG}}]},
        {"id": REFUSING, "name": "refusing", "error": {"status": 403, "message": "no"}}]})
    image = "127.0.0.1:5999/shop/web:{}"
    wanted = {"viasa": {"serviceAccountName": "builder"},  # the account's secret
              "legacy": {"serviceAccount": "builder"},  # the field before serviceAccountName
              "own": {"serviceAccountName": "ghost", "imagePullSecrets": [{"name": "regcred"}]},  # its own wins
              "plain": {},  # `default`, which names no secret
              "gone": {"serviceAccountName": "ghost"}}  # 404
    source = [target(PULLS, name, image.format(2)) for name in (*wanted, "refused")]
    targets = [target(PULLS, name, image.format(1), **pod) for name, pod in wanted.items()]
    targets.append(target(REFUSING, "refused", image.format(1)))  # 403
    plan = plan_sync(EnvironmentRef(2, "Stage", "#000000", 0), EnvironmentRef(3, "Prod", "#000000", 1), source,
                     targets, default_target="all")
    with SimulatedRancher(world) as sim:
        pull, warnings = pull_secrets(plan, {1: Connection(sim.url, sim.token)}, {1})
        reads = [p.removeprefix("/k8s/clusters/").replace("/api/v1/namespaces/shop", "")
                 for m, p in sim.requests_seen() if m == "GET" and "/namespaces/shop/" in p]
    assert {key[2]: creds["127.0.0.1:5999"].username for key, creds in pull.items()} == \
        {"viasa": "puller", "legacy": "puller", "own": "puller"}
    assert {key[2]: notes for key, notes in warnings.items()} == {
        "gone": ("the service account shop/ghost could not be read for its pull secrets (RancherNotFound: 404)",),
        "refused": ("the service account shop/default could not be read for its pull secrets "
                    "(RancherAuthError: 403)",)}
    # Each account and secret read once; the account of a workload with its own pull secret is not read at all.
    assert sorted(reads) == sorted([f"{REFUSING}/serviceaccounts/default", f"{PULLS}/secrets/regcred",
                                    f"{PULLS}/serviceaccounts/builder", f"{PULLS}/serviceaccounts/default",
                                    f"{PULLS}/serviceaccounts/ghost"])
    assert "pw-9" not in repr(pull) and "pw-9" not in str(warnings)
