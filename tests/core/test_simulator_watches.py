"""The simulator's watches as an inventory collector meets them: bookmarks, 410 Gone after compaction, dropped
connections, and `/_simulator/stats` counting what reached Rancher. Judged by raw HTTP, the official Kubernetes
client's `watch.Watch` and kubectl."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import requests
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from ranchersync.simulator import SimulatedRancher
from ranchersync.simulator.cli import build_parser
from tests.core.simulator_fixtures import NS, Api, deploy_path, k8s, small_world
from tests.core.test_simulator_k8s_client import api_client, set_image, wait_for
from tests.core.test_simulator_kubectl_rollouts import Kubectl, Watcher, ok

pytest_plugins = ["tests.core.simulator_fixtures"]


@pytest.fixture
def quick() -> Any:
    """A simulator that bookmarks watches every 0.3 s."""
    with SimulatedRancher(small_world(), rollout_seconds=0.3, bookmark_seconds=0.3) as sim:
        yield sim


def stream(api: Api, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every event of a watch until the server ends it."""
    with api.get(path, params={"watch": "1", **params}, stream=True) as answer:
        assert answer.status_code == 200
        return [json.loads(line) for line in answer.iter_lines() if line]


@pytest.mark.parametrize("plural", ["deployments", "statefulsets", "daemonsets"])
def test_watches_with_bookmarks_get_the_latest_resource_version(quick: SimulatedRancher, plural: str) -> None:
    api = Api(quick)
    listed = api.get(k8s(f"/apis/apps/v1/{plural}")).json()
    version = listed["metadata"]["resourceVersion"]
    events = stream(api, k8s(f"/apis/apps/v1/{plural}"),
                    {"resourceVersion": version, "allowWatchBookmarks": "true", "timeoutSeconds": "2"})
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 3 and all(e["type"] == "BOOKMARK" for e in events)
    kind = listed["kind"].removesuffix("List")
    assert {b["object"]["kind"] for b in bookmarks} == {kind}
    assert int(bookmarks[-1]["object"]["metadata"]["resourceVersion"]) >= int(version)
    api.close()


def test_without_allow_watch_bookmarks_none_are_sent(quick: SimulatedRancher) -> None:
    api = Api(quick)
    version = api.get(k8s("/api/v1/pods")).json()["metadata"]["resourceVersion"]
    assert stream(api, k8s("/api/v1/pods"), {"resourceVersion": version, "timeoutSeconds": "1"}) == []
    api.close()


def test_a_bookmark_lets_a_watch_resume_after_others_changed(quick: SimulatedRancher) -> None:
    """A bookmark's resourceVersion resumes the watch where it was: the next change is seen, no replay."""
    api = Api(quick)
    version = api.get(k8s("/apis/apps/v1/deployments")).json()["metadata"]["resourceVersion"]
    events = stream(api, k8s("/apis/apps/v1/deployments"),
                    {"resourceVersion": version, "allowWatchBookmarks": "true", "timeoutSeconds": "1"})
    resume = events[-1]["object"]["metadata"]["resourceVersion"]
    api.patch(deploy_path("svc-1"), {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:1.28.0"}]}}}})
    after = stream(api, k8s("/apis/apps/v1/deployments"), {"resourceVersion": resume, "timeoutSeconds": "1"})
    assert after and {e["object"]["metadata"]["name"] for e in after} == {"svc-1"}
    assert after[0]["object"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28.0"
    api.close()


def test_the_kubernetes_client_follows_bookmarks_and_sees_a_change(quick: SimulatedRancher) -> None:
    with api_client(quick) as raw:
        apps = client.AppsV1Api(raw)
        version = apps.list_deployment_for_all_namespaces().metadata.resource_version
        watcher = watch.Watch()
        threading.Timer(0.7, lambda: set_image(client.AppsV1Api(api_client(quick)), "svc-2", "nginx:1.28.1")).start()
        kinds: list[str] = []
        for event in watcher.stream(apps.list_deployment_for_all_namespaces, resource_version=version,
                                    allow_watch_bookmarks=True, timeout_seconds=3):
            kinds.append(event["type"])
            if event["type"] == "MODIFIED" and event["object"].metadata.name == "svc-2":
                assert event["object"].spec.template.spec.containers[0].image == "nginx:1.28.1"
                watcher.stop()
        # The client took each bookmark's resourceVersion as where to resume from.
        assert "BOOKMARK" in kinds and "MODIFIED" in kinds
        assert int(watcher.resource_version) > int(version)


def test_a_compacted_resource_version_ends_the_watch_with_410_for_the_kubernetes_client(
        quick: SimulatedRancher) -> None:
    with api_client(quick) as raw:
        core = client.CoreV1Api(raw)
        version = core.list_pod_for_all_namespaces().metadata.resource_version
        quick.compact()
        with pytest.raises(ApiException) as gone:
            for _ in watch.Watch().stream(core.list_pod_for_all_namespaces, resource_version=version,
                                          allow_watch_bookmarks=True, timeout_seconds=3):
                pass
    assert gone.value.status == 410


def test_compaction_runs_on_its_own_every_compaction_seconds() -> None:
    with SimulatedRancher(small_world(), compaction_seconds=0.2) as sim:
        api = Api(sim)
        version = api.get(k8s("/apis/apps/v1/deployments")).json()["metadata"]["resourceVersion"]
        api.patch(deploy_path("svc-0"), {"spec": {"replicas": 3}})  # history moves past the version listed
        # Nobody calls compact(): the server's own timer compacts, and the old version then answers 410.
        events = wait_for(lambda: [e for e in stream(api, k8s("/apis/apps/v1/deployments"),
                                                     {"resourceVersion": version, "timeoutSeconds": "1"})
                                   if e["type"] == "ERROR"])
        (event,) = events
        api.close()
    assert event["type"] == "ERROR" and event["object"]["code"] == 410


def test_dropping_watches_cuts_open_streams_without_their_end(quick: SimulatedRancher) -> None:
    api = Api(quick)
    version = api.get(k8s("/apis/apps/v1/deployments")).json()["metadata"]["resourceVersion"]
    threading.Timer(0.5, quick.drop_watches).start()
    with api.get(k8s("/apis/apps/v1/deployments"), params={"watch": "1", "resourceVersion": version,
                                                           "timeoutSeconds": "30"}, stream=True) as answer:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            list(answer.iter_lines())
    # A watch opened afterwards is not affected.
    assert stream(api, k8s("/apis/apps/v1/deployments"), {"resourceVersion": version, "timeoutSeconds": "1"}) == []
    api.close()


def test_drop_watches_every_is_a_command_line_flag() -> None:
    args = build_parser().parse_args(["--drop-watches-every", "2.5", "--bookmark-seconds", "1",
                                      "--compaction-seconds", "30"])
    assert (args.drop_watches_every, args.bookmark_seconds, args.compaction_seconds) == (2.5, 1.0, 30.0)


def test_stats_count_requests_by_verb_for_the_admin_token_only(quick: SimulatedRancher) -> None:
    api = Api(quick)
    api.get(k8s("/apis/apps/v1/deployments"))
    api.get(k8s(f"/api/v1/namespaces/{NS}/pods"))
    api.get(deploy_path("web"))
    api.patch(deploy_path("svc-0"), {"spec": {"replicas": 3}})
    stream(api, k8s("/apis/apps/v1/deployments"), {"timeoutSeconds": "1"})
    stats = api.get("/_simulator/stats").json()
    assert stats == {"requests": {"total": 5, "list": 2, "get": 1, "watch": 1, "patch": 1}}
    assert api.get("/_simulator/stats").json() == stats  # reading the stats is not counted
    other = Api(quick, quick.add_token())
    assert other.get("/_simulator/stats").status_code == 401
    assert requests.get(quick.url + "/_simulator/stats", timeout=5).status_code == 401
    other.close()
    api.close()


@pytest.mark.kubectl
def test_kubectl_get_deploy_watch_shows_a_set_image(sim_kubectl: Kubectl,
                                                    kubectl_command: tuple[list[str], dict[str, str]]) -> None:
    watcher = Watcher(kubectl_command, "get", "deploy", "svc-3", "-n", NS, "-w", "--output-watch-events",
                      "--request-timeout=60s")
    try:
        watcher.wait_until(lambda rows: len(rows) == 1)
        ok(sim_kubectl("set", "image", "deployment/svc-3", "app=nginx:1.28.0", "-n", NS))
        rows = watcher.wait_until(lambda rows: any(r[0] == "MODIFIED" for r in rows))
    finally:
        watcher.stop()
    assert rows[0][:2] == ["ADDED", "svc-3"] and all(r[1] == "svc-3" for r in rows)
