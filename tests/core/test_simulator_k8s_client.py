"""The official Kubernetes Python client as a second judge of the simulator: its typed models reject shapes the real
API would not send, and its paging, patch, watch and scale calls are the ones tools built on it make."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from ranchersync.simulator import SimulatedRancher
from tests.core.simulator_fixtures import CLUSTER, NS

pytest_plugins = ["tests.core.simulator_fixtures"]

WEB = "registry.example.com:5000/team/web"


def api_client(sim: SimulatedRancher) -> client.ApiClient:
    """A client for the test cluster behind the simulator's Rancher proxy, as a kubeconfig would configure it."""
    config = client.Configuration(host=sim.kube_url(CLUSTER), api_key={"authorization": "Bearer " + sim.token})
    if sim.ca_file is not None:
        config.ssl_ca_cert = str(sim.ca_file)
    return client.ApiClient(config)


@pytest.fixture
def apps(sim: SimulatedRancher) -> Iterator[client.AppsV1Api]:
    """AppsV1Api on the plain-HTTP simulator."""
    with api_client(sim) as api:
        yield client.AppsV1Api(api)


@pytest.fixture
def core(sim: SimulatedRancher) -> Iterator[client.CoreV1Api]:
    """CoreV1Api on the plain-HTTP simulator."""
    with api_client(sim) as api:
        yield client.CoreV1Api(api)


def set_image(apps: client.AppsV1Api, name: str, image: str, resource_version: str | None = None) -> Any:
    """The strategic-merge patch `kubectl set image` sends, for the `app` container only."""
    body: dict[str, Any] = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    if resource_version is not None:
        body["metadata"] = {"resourceVersion": resource_version}
    return apps.patch_namespaced_deployment(name, NS, body)


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    """Poll until `check()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("server", ["sim", "tls_sim"])
def test_list_in_pages_and_read_one(server: str, request: pytest.FixtureRequest) -> None:
    sim: SimulatedRancher = request.getfixturevalue(server)
    with api_client(sim) as api:
        apps = client.AppsV1Api(api)
        everything = [d.metadata.name for d in apps.list_namespaced_deployment(NS).items]
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            page = apps.list_namespaced_deployment(NS, limit=3, _continue=token)
            pages += 1
            seen += [d.metadata.name for d in page.items]
            token = page.metadata.var_continue
            if not token:
                break
            assert page.metadata.remaining_item_count == len(everything) - len(seen)
        assert seen == everything and len(everything) == 8 and pages == 3
        web = apps.read_namespaced_deployment("web", NS)
        assert isinstance(web, client.V1Deployment) and web.kind == "Deployment"
        assert [c.name for c in web.spec.template.spec.containers] == ["app", "sidecar"]
        assert web.spec.template.spec.init_containers[0].image == f"{WEB}:1.4.2"
        assert web.status.observed_generation == web.metadata.generation == 1
        assert web.status.available_replicas == web.status.updated_replicas == web.spec.replicas == 3
        everywhere = apps.list_deployment_for_all_namespaces(field_selector="metadata.name=api")
        assert [(d.metadata.namespace, d.metadata.name) for d in everywhere.items] == [("team-b", "api")]
        with pytest.raises(ApiException) as missing:
            apps.read_namespaced_deployment("nope", NS)
        assert missing.value.status == 404 and json.loads(missing.value.body)["reason"] == "NotFound"


def test_a_patch_with_a_stale_resource_version_is_a_409(apps: client.AppsV1Api) -> None:
    stale = apps.read_namespaced_deployment("web", NS).metadata.resource_version
    apps.patch_namespaced_deployment("web", NS, {"metadata": {"labels": {"tier": "frontend"}}})
    with pytest.raises(ApiException) as conflict:
        set_image(apps, "web", f"{WEB}:1.5.0", stale)
    assert conflict.value.status == 409
    status = json.loads(conflict.value.body)
    assert (status["kind"], status["status"], status["reason"]) == ("Status", "Failure", "Conflict")
    assert status["code"] == 409
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    current = apps.read_namespaced_deployment("web", NS)
    assert current.spec.template.spec.containers[0].image == f"{WEB}:1.4.2" and current.metadata.generation == 1
    patched = set_image(apps, "web", f"{WEB}:1.5.0", current.metadata.resource_version)
    # A strategic merge: the containers merge by name, so the sidecar stays.
    assert [c.image for c in patched.spec.template.spec.containers][0] == f"{WEB}:1.5.0"
    assert patched.spec.template.spec.containers[1].name == "sidecar" and patched.metadata.generation == 2


def test_watch_until_a_rollout_completes(apps: client.AppsV1Api) -> None:
    version = apps.read_namespaced_deployment("web", NS).metadata.resource_version
    set_image(apps, "web", f"{WEB}:1.6.0")
    seen: list[tuple[str, int, int, int]] = []
    done = None
    watcher = watch.Watch()
    for event in watcher.stream(apps.list_namespaced_deployment, NS, field_selector="metadata.name=web",
                                resource_version=version, timeout_seconds=15):
        deployment = event["object"]
        assert isinstance(deployment, client.V1Deployment) and event["type"] == "MODIFIED"
        status = deployment.status
        seen.append((deployment.metadata.resource_version, status.updated_replicas or 0,
                     status.available_replicas or 0, status.observed_generation))
        replicas = deployment.spec.replicas
        if (status.observed_generation >= deployment.metadata.generation
                and status.available_replicas == status.updated_replicas == status.replicas == replicas):
            done = deployment
            watcher.stop()
    assert done is not None, seen
    assert done.spec.template.spec.containers[0].image == f"{WEB}:1.6.0"
    assert done.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert any(updated < 3 for _, updated, _, _ in seen), "the watch saw the rollout in progress"
    assert [int(v) for v, *_ in seen] == sorted(int(v) for v, *_ in seen)


def test_replica_sets_and_scale_through_the_client(apps: client.AppsV1Api) -> None:
    web = apps.read_namespaced_deployment("web", NS)
    set_image(apps, "web", f"{WEB}:1.5.0")
    wait_for(lambda: apps.read_namespaced_deployment("web", NS).status.updated_replicas == 3
             and apps.read_namespaced_deployment("web", NS).status.unavailable_replicas is None)
    sets = apps.list_namespaced_replica_set(NS, label_selector="app=web").items
    assert len(sets) == 2 and all(isinstance(rs, client.V1ReplicaSet) for rs in sets)
    by_revision = {rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs for rs in sets}
    old, new = by_revision["1"], by_revision["2"]
    for rs in sets:
        owner = rs.metadata.owner_references[0]
        assert (owner.kind, owner.name, owner.uid, owner.controller) == ("Deployment", "web", web.metadata.uid, True)
        template_hash = rs.metadata.labels["pod-template-hash"]
        assert rs.spec.selector.match_labels == {"app": "web", "pod-template-hash": template_hash}
        assert rs.metadata.name == f"web-{template_hash}"
        assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "3"
        assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "4"  # 3 + 25% surge, rounded up
    assert (old.spec.replicas, old.status.replicas, new.spec.replicas, new.status.ready_replicas) == (0, 0, 3, 3)
    assert apps.read_namespaced_replica_set(new.metadata.name, NS).metadata.uid == new.metadata.uid

    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert isinstance(scale, client.V1Scale) and (scale.spec.replicas, scale.status.replicas) == (3, 3)
    assert scale.status.selector == "app=web"
    grown = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 5}})
    assert grown.spec.replicas == 5 and grown.metadata.resource_version != scale.metadata.resource_version
    wait_for(lambda: apps.read_namespaced_deployment("web", NS).status.available_replicas == 5)
    assert apps.read_namespaced_replica_set(new.metadata.name, NS).status.ready_replicas == 5
    stale = client.V1Scale(metadata=client.V1ObjectMeta(name="web", resource_version=scale.metadata.resource_version),
                           spec=client.V1ScaleSpec(replicas=1))
    with pytest.raises(ApiException) as conflict:
        apps.replace_namespaced_deployment_scale("web", NS, stale)
    assert conflict.value.status == 409 and json.loads(conflict.value.body)["reason"] == "Conflict"
    with pytest.raises(ApiException) as invalid:
        apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": -1}})
    assert invalid.value.status == 422
    assert json.loads(invalid.value.body)["message"] == (
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0')
    db = apps.read_namespaced_stateful_set_scale("db", NS)
    assert (db.spec.replicas, db.status.replicas, db.status.selector) == (2, 2, "app=db")


def test_pod_watches_follow_a_rollout(sim: SimulatedRancher, apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
    pods = core.list_namespaced_pod(NS, label_selector="app=svc-0")
    old = {p.metadata.name for p in pods.items}
    assert len(old) == 2
    assert all(p.metadata.owner_references[0].kind == "ReplicaSet" for p in pods.items)
    events: dict[str, list[tuple[str, str, str]]] = {"namespaced": [], "cluster-wide": []}

    def follow(kind: str, *args: Any) -> None:
        with api_client(sim) as api:
            api_core = client.CoreV1Api(api)
            function = api_core.list_namespaced_pod if args else api_core.list_pod_for_all_namespaces
            watcher = watch.Watch()
            for event in watcher.stream(function, *args, label_selector="app=svc-0",
                                        resource_version=pods.metadata.resource_version, timeout_seconds=20):
                pod = event["object"]
                events[kind].append((event["type"], type(pod).__name__, pod.metadata.name))
                if {name for kind_, _, name in events[kind] if kind_ == "DELETED"} == old:
                    watcher.stop()  # the old pods go last, once the new ones are ready

    threads = [threading.Thread(target=follow, args=("namespaced", NS)),
               threading.Thread(target=follow, args=("cluster-wide",))]
    for thread in threads:
        thread.start()
    set_image(apps, "svc-0", "nginx:1.28.0")
    for thread in threads:
        thread.join(30)
    new = {p.metadata.name for p in core.list_namespaced_pod(NS, label_selector="app=svc-0").items}
    assert len(new) == 2 and not new & old
    for seen in events.values():
        assert {model for _, model, _ in seen} == {"V1Pod"}
        assert {name for kind, _, name in seen if kind == "ADDED"} == new
        assert {name for kind, _, name in seen if kind == "DELETED"} == old
        assert any(kind == "MODIFIED" and name in new for kind, _, name in seen)  # a new pod turned ready
    assert events["namespaced"] == events["cluster-wide"]


def test_old_replica_sets_beyond_the_history_limit_go_and_a_deleted_deployment_takes_its_own(
    sim: SimulatedRancher, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    apps.patch_namespaced_deployment("svc-1", NS, {"spec": {"revisionHistoryLimit": 1}})
    for tag in ("1.28.0", "1.28.1", "1.28.2"):
        set_image(apps, "svc-1", f"nginx:{tag}")
        wait_for(lambda tag=tag: [rs for rs in apps.list_namespaced_replica_set(NS, label_selector="app=svc-1").items
                                  if rs.spec.template.spec.containers[0].image == f"nginx:{tag}"
                                  and rs.status.ready_replicas == 2])
    wait_for(lambda: apps.read_namespaced_deployment("svc-1", NS).status.replicas == 2)
    sets = apps.list_namespaced_replica_set(NS, label_selector="app=svc-1").items
    # The current ReplicaSet and one old one: revisions 1 and 2 were deleted.
    assert sorted(rs.metadata.annotations["deployment.kubernetes.io/revision"] for rs in sets) == ["3", "4"]
    assert len(core.list_namespaced_pod(NS, label_selector="app=svc-1").items) == 2
    assert sim.delete_object(CLUSTER, "Deployment", NS, "svc-1")
    assert apps.list_namespaced_replica_set(NS, label_selector="app=svc-1").items == []
    assert core.list_namespaced_pod(NS, label_selector="app=svc-1").items == []
