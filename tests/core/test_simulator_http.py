"""The simulated Rancher over real HTTP: auth, the Norman and Kubernetes shapes, paging, patches, faults, TLS."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests

from ranchersync.simulator import SimulatedRancher
from ranchersync.simulator.objects import utc_now
from tests.core.simulator_fixtures import (
    CLUSTER,
    DIGEST,
    NS,
    OTHER_CLUSTER,
    Api,
    deploy_path,
    k8s,
    small_world,
)

pytest_plugins = ["tests.core.simulator_fixtures"]

UNAUTHORIZED = {"type": "error", "status": "401", "message": "Unauthorized 401: must authenticate"}
CONFLICT = ('Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply '
            "your changes to the latest version and try again")


def wait_for(predicate: Any, timeout: float = 5.0) -> Any:
    """Poll until the predicate returns something truthy; fail after the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """One status condition by type."""
    return next(c for c in obj["status"]["conditions"] if c["type"] == kind)


# --- public endpoints and authentication ---------------------------------------------------------------------------


def test_public_endpoints_need_no_token(sim: SimulatedRancher) -> None:
    ping = requests.get(sim.url + "/ping", timeout=5)
    assert (ping.status_code, ping.text, ping.headers["Content-Type"]) == (200, "pong", "text/plain; charset=utf-8")
    version = requests.get(sim.url + "/rancherversion", timeout=5).json()
    assert version["Version"] == "v2.9.3" and version["RancherPrime"] == "false"
    cacerts = requests.get(sim.url + "/v3/settings/cacerts", timeout=5).json()
    assert (cacerts["type"], cacerts["id"], cacerts["value"]) == ("setting", "cacerts", "")


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer token-zzzzz:nope"},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Token abc"},
    {"Authorization": "Basic !!!"},
])
def test_bad_tokens_get_ranchers_exact_401(sim: SimulatedRancher, headers: dict[str, str]) -> None:
    for path in ("/v3", "/v3/clusters", k8s("/version")):
        answer = requests.get(sim.url + path, headers=headers, timeout=5)
        assert answer.status_code == 401
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json() == UNAUTHORIZED


def test_wrong_secret_of_a_real_token_name_is_refused(sim: SimulatedRancher) -> None:
    name = sim.token.split(":")[0]
    answer = requests.get(sim.url + "/v3", headers={"Authorization": f"Bearer {name}:wrong"}, timeout=5)
    assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED)


def test_generated_token_looks_like_ranchers(sim: SimulatedRancher) -> None:
    name, secret = sim.token.split(":")
    assert name.startswith("token-") and len(name) == 11
    assert len(secret) == 54 and set(secret) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_bearer_basic_and_session_cookie_are_accepted(sim: SimulatedRancher) -> None:
    basic = base64.urlsafe_b64encode(sim.token.encode()).decode()
    for headers in ({"Authorization": f"bearer {sim.token}"}, {"Authorization": f"Basic {basic}"},
                    {"Cookie": f"R_SESS={sim.token}"}):
        assert requests.get(sim.url + "/v3", headers=headers, timeout=5).status_code == 200
    name, secret = sim.token.split(":")
    answer = requests.get(sim.url + "/v3", auth=(name, secret), timeout=5)
    assert answer.status_code == 200 and answer.headers["X-API-Cattle-Auth"] == "true"


def test_expired_and_disabled_tokens_are_refused(sim: SimulatedRancher) -> None:
    expired = sim.add_token(expires_at=utc_now() - timedelta(seconds=1))
    disabled = sim.add_token(enabled=False)
    for token in (expired, disabled):
        answer = requests.get(sim.url + "/v3", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED)


def test_scoped_token_works_only_for_its_cluster(sim: SimulatedRancher) -> None:
    scoped = Api(sim, sim.add_token(cluster_id=CLUSTER))
    try:
        assert scoped.get(k8s("/version")).json()["gitVersion"] == "v1.31.4+rke2r1"
        assert scoped.get(f"/v3/clusters/{CLUSTER}").json()["id"] == CLUSTER
        for path in ("/v3", "/v3/clusters", "/v3/users?me=true", f"/v3/tokens/{sim.token.split(':')[0]}",
                     k8s("/version", OTHER_CLUSTER), f"/v3/clusters/{OTHER_CLUSTER}"):
            answer = scoped.get(path)
            assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED), path
    finally:
        scoped.close()


def test_browser_user_agent_needs_csrf_for_writes_on_v3_only(sim_api: Api) -> None:
    mozilla = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    refused = sim_api.request("POST", "/v3/tokens", json={"type": "token"}, headers=mozilla)
    assert refused.status_code == 422
    assert refused.json() == {"baseType": "error", "code": "InvalidCSRFToken", "message": "Invalid CSRF token",
                              "status": 422, "type": "error"}
    assert sim_api.get("/v3/clusters", headers=mozilla).status_code == 200
    # The Kubernetes proxy has no CSRF check.
    patch = sim_api.patch(deploy_path(), {"metadata": {"labels": {"team": "a"}}}, headers=mozilla)
    assert patch.status_code == 200


# --- Norman /v3 ------------------------------------------------------------------------------------------------------


def test_api_root_user_and_token(sim: SimulatedRancher, sim_api: Api) -> None:
    root = sim_api.get("/v3").json()
    assert root["type"] == "apiRoot" and root["links"]["clusters"] == sim.url + "/v3/clusters"
    users = sim_api.get("/v3/users", params={"me": "true"}).json()
    assert users["type"] == "collection" and users["resourceType"] == "user"
    assert users["pagination"] == {"limit": 1000, "total": 1}
    (me,) = users["data"]
    assert me["me"] is True and me["username"] == "admin" and me["id"].startswith("user-")
    expiring = sim.add_token(expires_at=utc_now() + timedelta(days=30), description="sync tool")
    token = sim_api.get(f"/v3/tokens/{expiring.split(':')[0]}").json()
    assert token["ttl"] == pytest.approx(30 * 24 * 3600 * 1000, abs=5000)
    assert token["expiresAt"].endswith("Z") and token["expired"] is False and token["enabled"] is True
    assert token["clusterId"] is None and token["isDerived"] is True and token["current"] is False
    own = sim_api.get(f"/v3/tokens/{sim.token.split(':')[0]}").json()
    assert (own["ttl"], own["expiresAt"]) == (0, "")


def test_clusters_collection_and_norman_errors(sim: SimulatedRancher, sim_api: Api) -> None:
    clusters = sim_api.get("/v3/clusters").json()
    assert {k: clusters[k] for k in ("type", "resourceType")} == {"type": "collection", "resourceType": "cluster"}
    assert {"links", "createTypes", "actions", "sort", "filters"} <= clusters.keys()
    assert clusters["pagination"] == {"limit": 1000, "total": 2}
    item = next(c for c in clusters["data"] if c["id"] == CLUSTER)
    assert (item["type"], item["baseType"], item["name"], item["state"], item["transitioning"]) == (
        "cluster", "cluster", "test-east", "active", "no")
    assert item["version"]["gitVersion"] == "v1.31.4+rke2r1" and item["links"]["self"].endswith(CLUSTER)
    missing = sim_api.get("/v3/clusters/c-nope1")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404 and missing.json()["code"] == "NotFound"
    assert missing.json()["type"] == "error" and missing.json()["baseType"] == "error"


# --- the Kubernetes proxy --------------------------------------------------------------------------------------------


def test_unknown_or_disconnected_cluster_is_unavailable(sim: SimulatedRancher, sim_api: Api) -> None:
    answer = sim_api.get(k8s("/version", "c-m-nothere1"))
    assert answer.status_code == 503
    assert answer.json() == {"Code": {"Code": "ClusterUnavailable", "Status": 503}, "Message": "cluster not found",
                             "Cause": None, "FieldName": ""}
    sim.set_cluster_state(OTHER_CLUSTER, "unavailable")
    assert sim_api.get(k8s("/version", OTHER_CLUSTER)).status_code == 503
    assert sim_api.get(f"/v3/clusters/{OTHER_CLUSTER}").json()["state"] == "unavailable"


def test_discovery_documents(sim_api: Api) -> None:
    assert sim_api.get(k8s("/api")).json()["versions"] == ["v1"]
    groups = {g["name"]: g["preferredVersion"]["groupVersion"] for g in sim_api.get(k8s("/apis")).json()["groups"]}
    assert groups == {"apps": "apps/v1", "batch": "batch/v1"}
    apps = sim_api.get(k8s("/apis/apps/v1")).json()
    assert apps["kind"] == "APIResourceList"
    deployments = next(r for r in apps["resources"] if r["name"] == "deployments")
    assert deployments["shortNames"] == ["deploy"] and "patch" in deployments["verbs"]
    core = {r["name"] for r in sim_api.get(k8s("/api/v1")).json()["resources"]}
    assert core == {"namespaces", "nodes", "pods", "secrets", "serviceaccounts"}
    assert "cronjobs" in {r["name"] for r in sim_api.get(k8s("/apis/batch/v1")).json()["resources"]}
    missing = sim_api.get(k8s("/openapi/v2"))
    assert missing.status_code == 404 and missing.json()["kind"] == "Status"


def test_namespaces_carry_rancher_project_ids(sim_api: Api) -> None:
    listing = sim_api.get(k8s("/api/v1/namespaces")).json()
    assert listing["kind"] == "NamespaceList" and "kind" not in listing["items"][0]
    names = [n["metadata"]["name"] for n in listing["items"]]
    assert {NS, "team-b", "default", "kube-system"} <= set(names) and names == sorted(names)
    team = sim_api.get(k8s(f"/api/v1/namespaces/{NS}")).json()
    project = team["metadata"]["labels"]["field.cattle.io/projectId"]
    assert project.startswith("p-") and team["metadata"]["annotations"]["field.cattle.io/projectId"] == (
        f"{CLUSTER}:{project}")
    missing = sim_api.get(k8s("/api/v1/namespaces/nope"))
    assert missing.status_code == 404 and missing.json()["message"] == 'namespaces "nope" not found'


def test_list_envelopes_and_selectors(sim_api: Api) -> None:
    listing = sim_api.get(k8s(f"/apis/apps/v1/namespaces/{NS}/deployments")).json()
    assert (listing["kind"], listing["apiVersion"]) == ("DeploymentList", "apps/v1")
    assert int(listing["metadata"]["resourceVersion"]) > 0
    item = listing["items"][0]
    assert "kind" not in item and "apiVersion" not in item
    assert {"uid", "resourceVersion", "generation", "creationTimestamp"} <= item["metadata"].keys()
    everywhere = sim_api.get(k8s("/apis/apps/v1/deployments")).json()["items"]
    assert {d["metadata"]["namespace"] for d in everywhere} == {NS, "team-b"}
    by_name = sim_api.get(k8s("/apis/apps/v1/deployments"), params={"fieldSelector": "metadata.name=web"}).json()
    assert [d["metadata"]["name"] for d in by_name["items"]] == ["web"]
    labelled = sim_api.get(k8s(f"/apis/apps/v1/namespaces/{NS}/statefulsets"), params={"labelSelector": "app in (db)"})
    assert [s["metadata"]["name"] for s in labelled.json()["items"]] == ["db"]
    bad = sim_api.get(k8s("/apis/apps/v1/deployments"), params={"fieldSelector": "spec.replicas=2"})
    assert bad.status_code == 400 and bad.json()["reason"] == "BadRequest"


def test_get_and_not_found(sim_api: Api) -> None:
    web = sim_api.get(deploy_path()).json()
    assert (web["kind"], web["apiVersion"]) == ("Deployment", "apps/v1")
    assert web["status"]["observedGeneration"] == web["metadata"]["generation"] == 1
    assert condition(web, "Progressing")["reason"] == "NewReplicaSetAvailable"
    missing = sim_api.get(deploy_path("nope"))
    assert missing.status_code == 404
    assert missing.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": 'deployments.apps "nope" not found', "reason": "NotFound",
                              "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404}
    assert sim_api.get(k8s(f"/apis/batch/v1/namespaces/{NS}/cronjobs/report")).json()["kind"] == "CronJob"


def test_paging_with_limit_and_continue(sim: SimulatedRancher, sim_api: Api) -> None:
    path = k8s(f"/apis/apps/v1/namespaces/{NS}/deployments")
    everything = [d["metadata"]["name"] for d in sim_api.get(path).json()["items"]]
    seen: list[str] = []
    token = None
    while True:
        page = sim_api.get(path, params={"limit": 3, **({"continue": token} if token else {})}).json()
        seen += [d["metadata"]["name"] for d in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] == len(everything) - len(seen)
    assert seen == everything and len(everything) == 8
    malformed = sim_api.get(path, params={"limit": 3, "continue": "not-a-token"})
    assert malformed.status_code == 400 and "invalid continue token" in malformed.json()["message"]
    first = sim_api.get(path, params={"limit": 3}).json()
    sim.compact()
    gone = sim_api.get(path, params={"limit": 3, "continue": first["metadata"]["continue"]})
    assert gone.status_code == 410
    assert gone.json()["reason"] == "Expired"
    # The token a 410 carries continues from the current state (an "inconsistent" list).
    rest = sim_api.get(path, params={"limit": 10, "continue": gone.json()["metadata"]["continue"]}).json()
    assert [d["metadata"]["name"] for d in rest["items"]] == everything[3:]


def test_pods_follow_their_workloads(sim_api: Api) -> None:
    pods = sim_api.get(k8s(f"/api/v1/namespaces/{NS}/pods"), params={"labelSelector": "app=web"}).json()
    assert pods["kind"] == "PodList" and len(pods["items"]) == 3
    web = sim_api.get(deploy_path()).json()
    pod = pods["items"][0]
    owner = pod["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "ReplicaSet" and pod["metadata"]["name"].startswith(owner["name"] + "-")
    assert pod["metadata"]["labels"]["app"] == web["spec"]["selector"]["matchLabels"]["app"]
    statuses = {s["name"]: s for s in pod["status"]["containerStatuses"]}
    assert statuses["sidecar"]["imageID"] == f"ghcr.io/acme/proxy@{DIGEST}"
    assert statuses["app"]["imageID"].startswith("registry.example.com:5000/team/web@sha256:")
    assert all(s["ready"] for s in statuses.values()) and pod["status"]["phase"] == "Running"
    stateful = sim_api.get(k8s("/api/v1/pods"), params={"labelSelector": "app=db"}).json()["items"]
    assert [p["metadata"]["name"] for p in stateful] == ["db-0", "db-1"]
    nginx = sim_api.get(k8s(f"/api/v1/namespaces/{NS}/pods"), params={"labelSelector": "app=svc-0"}).json()["items"][0]
    assert nginx["status"]["containerStatuses"][0]["imageID"].startswith("docker.io/library/nginx@sha256:")


# --- writes ----------------------------------------------------------------------------------------------------------


def set_image_patch(image: str, resource_version: str | None = None) -> dict[str, Any]:
    """The strategic merge patch `kubectl set image` sends, optionally made conditional."""
    patch: dict[str, Any] = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
        "containers": [{"name": "app", "image": image}]}}}}
    if resource_version:
        patch["metadata"] = {"resourceVersion": resource_version}
    return patch


def test_strategic_merge_patch_changes_one_container(sim_api: Api) -> None:
    before = sim_api.get(deploy_path()).json()
    answer = sim_api.patch(deploy_path(), set_image_patch("registry.example.com:5000/team/web:1.5.0",
                                                      before["metadata"]["resourceVersion"]))
    assert answer.status_code == 200
    after = answer.json()
    containers = after["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "sidecar"]
    assert containers[0]["image"] == "registry.example.com:5000/team/web:1.5.0"
    assert containers[0]["env"] == [{"name": "MODE", "value": "prod"}] and containers[1]["image"].endswith(DIGEST)
    assert after["metadata"]["generation"] == 2
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    init = after["spec"]["template"]["spec"]["initContainers"]
    assert init[0]["image"] == "registry.example.com:5000/team/web:1.4.2"


def test_stale_resource_version_is_a_409(sim: SimulatedRancher, sim_api: Api) -> None:
    read = sim_api.get(deploy_path()).json()
    changed = sim.get_object(CLUSTER, "deployment", NS, "web")
    assert changed is not None
    changed["metadata"].setdefault("labels", {})["changed"] = "meanwhile"
    sim.set_object(CLUSTER, changed)
    answer = sim_api.patch(deploy_path(), set_image_patch("x:1", read["metadata"]["resourceVersion"]))
    assert answer.status_code == 409
    assert answer.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": CONFLICT, "reason": "Conflict",
                             "details": {"name": "web", "group": "apps", "kind": "deployments"}, "code": 409}
    read["metadata"]["labels"] = {"put": "stale"}
    assert sim_api.request("PUT", deploy_path(), json=read).status_code == 409
    read["metadata"].pop("resourceVersion")
    # Without a resourceVersion a PUT overwrites unconditionally, as kube-apiserver allows for workloads.
    assert sim_api.request("PUT", deploy_path(), json=read).status_code == 200


def test_no_op_patch_changes_nothing(sim_api: Api) -> None:
    before = sim_api.get(deploy_path()).json()
    image = before["spec"]["template"]["spec"]["containers"][0]["image"]
    after = sim_api.patch(deploy_path(), set_image_patch(image)).json()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"]["generation"] == 1


def test_generation_follows_spec_and_annotations_not_labels(sim_api: Api) -> None:
    labelled = sim_api.patch(deploy_path(), {"metadata": {"labels": {"tier": "web"}}}).json()
    assert labelled["metadata"]["generation"] == 1
    annotated = sim_api.patch(deploy_path(), {"metadata": {"annotations": {"note": "x"}}}).json()
    assert annotated["metadata"]["generation"] == 2
    scaled = sim_api.patch(deploy_path(), {"spec": {"replicas": 4}}, "application/merge-patch+json").json()
    assert scaled["metadata"]["generation"] == 3
    assert scaled["status"]["replicas"] == 3  # a write never sets status; the controller catches up after
    assert wait_for(lambda: sim_api.get(deploy_path()).json()["status"]["replicas"] == 4)


def test_merge_patch_replaces_lists_and_json_patch_tests(sim_api: Api) -> None:
    merged = sim_api.patch(deploy_path(), {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:1.27.2"}]}}}}, "application/merge-patch+json").json()
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["app"]
    # Guard on the image, not the resourceVersion: the rollout's status writes move that on.
    ops = [{"op": "test", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.27.2"},
           {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.27.3"}]
    replaced = sim_api.patch(deploy_path(), ops, "application/json-patch+json")
    assert replaced.json()["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27.3"
    failed = sim_api.patch(deploy_path(), ops, "application/json-patch+json")
    assert failed.status_code == 422
    assert failed.json()["reason"] == "Invalid"
    assert failed.json()["message"] == "the server rejected our request due to an error in our request"


def test_unsupported_media_type_invalid_body_and_verbs(sim_api: Api) -> None:
    wrong = sim_api.patch(deploy_path(), {"spec": {}}, "text/plain")
    assert wrong.status_code == 415 and wrong.json()["reason"] == "UnsupportedMediaType"
    no_image = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": ""}]}}}}
    empty = sim_api.patch(deploy_path(), no_image)
    assert empty.status_code == 422
    assert empty.json()["message"] == (
        'Deployment.apps "web" is invalid: spec.template.spec.containers[0].image: Required value')
    assert empty.json()["details"]["causes"][0]["field"] == "spec.template.spec.containers[0].image"
    delete = sim_api.request("DELETE", deploy_path())
    assert delete.status_code == 405 and delete.json()["reason"] == "MethodNotAllowed"
    missing = sim_api.patch(deploy_path("nope"), {"spec": {}})
    assert missing.status_code == 404


def test_dry_run_changes_nothing(sim_api: Api) -> None:
    before = sim_api.get(deploy_path()).json()
    answer = sim_api.patch(deploy_path(), set_image_patch("nginx:9"), params={"dryRun": "All"}).json()
    assert answer["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:9"
    assert sim_api.get(deploy_path()).json() == before


def test_set_object_can_freeze_a_status(sim: SimulatedRancher, sim_api: Api) -> None:
    web = sim.get_object(CLUSTER, "Deployment", NS, "web")
    assert web is not None
    web["status"].update(updatedReplicas=1, availableReplicas=2, readyReplicas=2)
    web["status"]["conditions"][1].update(status="False", reason="ProgressDeadlineExceeded",
                                          message='ReplicaSet "web-5d8f7c9b46" has timed out progressing.')
    stored = sim.set_object(CLUSTER, web)
    assert stored["metadata"]["generation"] == 1  # only the status changed
    cluster = sim.cluster(CLUSTER)
    assert not cluster.busy, "no rollout in flight for the controller to advance"
    cluster.reconcile()  # a controller pass, run here rather than waited for: it leaves the status alone
    assert sim_api.get(deploy_path()).json()["status"] == web["status"]


def test_out_of_band_delete(sim: SimulatedRancher, sim_api: Api) -> None:
    assert sim.delete_object(CLUSTER, "deploy", NS, "web")
    assert sim_api.get(deploy_path()).status_code == 404
    assert sim_api.patch(deploy_path(), set_image_patch("x:1")).status_code == 404
    assert not sim.delete_object(CLUSTER, "deploy", NS, "web")


# --- rollouts --------------------------------------------------------------------------------------------------------


def test_rollout_progresses_to_complete(sim_api: Api) -> None:
    patched = sim_api.patch(deploy_path(), set_image_patch("registry.example.com:5000/team/web:1.5.0")).json()
    assert patched["status"]["observedGeneration"] == 1  # the controller has not seen the change yet
    during = sim_api.get(deploy_path()).json()
    assert during["status"]["observedGeneration"] == 2
    assert condition(during, "Progressing")["reason"] == "ReplicaSetUpdated"
    assert during["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"

    def complete() -> dict[str, Any] | None:
        web = sim_api.get(deploy_path()).json()
        done = condition(web, "Progressing")["reason"] == "NewReplicaSetAvailable"
        return web if done else None

    web = wait_for(complete)
    status = web["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (3, 3, 3)
    pods = sim_api.get(k8s(f"/api/v1/namespaces/{NS}/pods"), params={"labelSelector": "app=web"}).json()["items"]
    images = {c["image"] for p in pods for c in p["spec"]["containers"]}
    assert "registry.example.com:5000/team/web:1.5.0" in images and len(pods) == 3


def test_failing_image_ends_in_progress_deadline_exceeded(sim_api: Api) -> None:
    sim_api.patch(deploy_path(), set_image_patch("registry.example.com:5000/team/web:bad-1"))

    def failed() -> dict[str, Any] | None:
        web = sim_api.get(deploy_path()).json()
        return web if condition(web, "Progressing")["reason"] == "ProgressDeadlineExceeded" else None

    web = wait_for(failed)
    assert condition(web, "Progressing")["status"] == "False"
    assert web["status"]["updatedReplicas"] == 1 and web["status"]["availableReplicas"] == 3
    pods = sim_api.get(k8s(f"/api/v1/namespaces/{NS}/pods"), params={"labelSelector": "app=web"}).json()["items"]
    waiting = [s for p in pods for s in p["status"]["containerStatuses"] if "waiting" in s["state"]]
    assert [w["state"]["waiting"]["reason"] for w in waiting] == ["ImagePullBackOff"]


def test_paused_deployment_waits_for_resume(sim_api: Api) -> None:
    path = deploy_path("paused")
    sim_api.patch(path, {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28.0"}]}}}})
    # A rollout started after the paused one's has time to finish: the paused one still has not begun.
    sim_api.patch(deploy_path(), set_image_patch("registry.example.com:5000/team/web:1.5.0"))
    assert wait_for(lambda: condition(sim_api.get(deploy_path()).json(), "Progressing")["reason"]
                    == "NewReplicaSetAvailable")
    paused = sim_api.get(path).json()
    assert paused["status"]["observedGeneration"] == 2 and paused["status"].get("updatedReplicas", 0) == 0
    assert condition(paused, "Progressing")["reason"] == "DeploymentPaused"
    sim_api.patch(path, {"spec": {"paused": False}})
    assert wait_for(lambda: sim_api.get(path).json()["status"].get("updatedReplicas") == 2)


def test_watch_streams_rollout_events_until_its_timeout(sim: SimulatedRancher, sim_api: Api) -> None:
    version = sim_api.get(deploy_path()).json()["metadata"]["resourceVersion"]
    params = {"watch": "1", "resourceVersion": version, "fieldSelector": "metadata.name=web", "timeoutSeconds": "2"}
    writer = Api(sim)  # a session of its own: the watching one is busy streaming
    patcher = threading.Timer(0.2, lambda: writer.patch(deploy_path(), set_image_patch("nginx:1.27.9")))
    started = time.monotonic()
    events: list[dict[str, Any]] = []
    with sim_api.get(k8s(f"/apis/apps/v1/namespaces/{NS}/deployments"), params=params, stream=True) as stream:
        assert stream.headers["Transfer-Encoding"] == "chunked"
        patcher.start()
        events = [json.loads(line) for line in stream.iter_lines() if line]
    patcher.join()
    writer.close()
    assert 1.9 <= time.monotonic() - started < 4
    assert events and {e["type"] for e in events} == {"MODIFIED"}
    assert all(e["object"]["kind"] == "Deployment" and e["object"]["metadata"]["name"] == "web" for e in events)
    revisions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert revisions == sorted(revisions) and len(events) >= 3  # the spec change, then status steps
    assert condition(events[-1]["object"], "Progressing")["reason"] == "NewReplicaSetAvailable"


def test_watch_from_a_compacted_version_ends_with_410(sim: SimulatedRancher, sim_api: Api) -> None:
    version = sim_api.get(deploy_path()).json()["metadata"]["resourceVersion"]
    sim.compact()
    params = {"watch": "true", "resourceVersion": version, "timeoutSeconds": "5"}
    with sim_api.get(k8s("/apis/apps/v1/deployments"), params=params, stream=True) as stream:
        (event,) = [json.loads(line) for line in stream.iter_lines() if line]
    assert event["type"] == "ERROR" and event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


# --- faults, latency, TLS --------------------------------------------------------------------------------------------


def test_injected_faults_fire_then_stop(sim: SimulatedRancher, sim_api: Api) -> None:
    sim.fail_next(r"/deployments$", 500, count=2)
    sim.fail_next(r"/version$", 503)
    sim.fail_next(r"^/v3/clusters$", 429)
    path = k8s(f"/apis/apps/v1/namespaces/{NS}/deployments")
    first, second, third = sim_api.get(path), sim_api.get(path), sim_api.get(path)
    assert (first.status_code, second.status_code, third.status_code) == (500, 500, 200)
    assert first.headers["Content-Type"].startswith("text/plain")
    unavailable = sim_api.get(k8s("/version"))
    assert unavailable.status_code == 503 and "ClusterUnavailable" in unavailable.text
    throttled = sim_api.get("/v3/clusters")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["reason"] == "TooManyRequests"
    assert sim_api.get("/v3/clusters").status_code == 200


def test_error_rate_is_seedable() -> None:
    def outcomes(seed: int) -> list[int]:
        with SimulatedRancher(small_world(), error_rate=0.5, seed=seed) as sim:
            client = Api(sim)
            try:
                return [client.get("/v3").status_code for _ in range(20)]
            finally:
                client.close()

    first = outcomes(7)
    assert first == outcomes(7) and {200, 500} == set(first)


def test_parallel_requests_sleep_in_their_own_threads() -> None:
    latency, clients = 0.3, 8
    with SimulatedRancher(small_world(), latency_ms=latency * 1000) as sim:
        def fetch(_: int) -> int:
            return requests.get(sim.url + "/ping", timeout=10).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            codes = list(pool.map(fetch, range(clients)))
        elapsed = time.monotonic() - started
    assert codes == [200] * clients
    assert latency <= elapsed < clients * latency / 2


def test_tls_with_the_generated_ca(tls_sim: SimulatedRancher) -> None:
    assert tls_sim.url.startswith("https://") and tls_sim.ca_file is not None
    ping = requests.get(tls_sim.url + "/ping", verify=str(tls_sim.ca_file), timeout=5)
    assert ping.text == "pong"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_sim.url + "/ping", verify=True, timeout=5)
    cacerts = requests.get(tls_sim.url + "/v3/settings/cacerts", verify=str(tls_sim.ca_file), timeout=5)
    assert cacerts.json()["value"] == tls_sim.ca_file.read_text()
    assert cacerts.json()["value"].startswith("-----BEGIN CERTIFICATE-----")


def test_stop_removes_tls_files_and_frees_the_port() -> None:
    sim = SimulatedRancher(small_world(), tls=True).start()
    ca_file, port = sim.ca_file, sim.port
    assert ca_file is not None and ca_file.exists()
    sim.stop()
    assert not ca_file.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
