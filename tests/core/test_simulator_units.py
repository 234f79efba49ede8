"""The simulator's pure parts: patches, selectors, image digests, rollout arithmetic, world files, tokens."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ranchersync.simulator import WorldError, load_demo_worlds, load_world, parse_world
from ranchersync.simulator.apierrors import KubeError
from ranchersync.simulator.auth import cluster_in_path, presented_token
from ranchersync.simulator.objects import (
    human_duration,
    image_id,
    normalized_image,
    split_image,
    template_hash,
)
from ranchersync.simulator.patch import json_patch, merge_patch, strategic_merge
from ranchersync.simulator.rollout import RolloutState, evaluate
from ranchersync.simulator.selectors import FieldSelector, LabelSelector

DIGEST = "sha256:" + "0f" * 32
WALL = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- strategic merge patch -----------------------------------------------------------------------------------------

POD = {"containers": [{"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}]},
                      {"name": "sidecar", "image": "s:1"}],
       "initContainers": [{"name": "init", "image": "a:1"}]}


def test_containers_merge_by_name_and_keep_other_fields() -> None:
    result = strategic_merge(POD, {"containers": [{"name": "app", "image": "a:2"}]})
    assert result["containers"] == [{"name": "app", "image": "a:2", "env": [{"name": "A", "value": "1"}]},
                                    {"name": "sidecar", "image": "s:1"}]
    assert POD["containers"][0]["image"] == "a:1"  # the original is left alone


def test_set_element_order_directive_from_kubectl_set_image() -> None:
    patch = {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
             "containers": [{"name": "sidecar", "image": "s:2"}]}
    result = strategic_merge(POD, patch)
    assert [(c["name"], c["image"]) for c in result["containers"]] == [("sidecar", "s:2"), ("app", "a:1")]
    assert not any(k.startswith("$") for k in result)


@pytest.mark.parametrize(("patch", "expected"), [
    ({"containers": [{"name": "sidecar", "$patch": "delete"}]}, ["app"]),
    ({"containers": [{"name": "new", "image": "n:1"}]}, ["app", "sidecar", "new"]),
    ({"containers": [{"$patch": "replace"}, {"name": "only", "image": "o:1"}]}, ["only"]),
])
def test_list_directives(patch: dict[str, Any], expected: list[str]) -> None:
    assert [c["name"] for c in strategic_merge(POD, patch)["containers"]] == expected


def test_map_directives_null_and_scalar_lists() -> None:
    original = {"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"]}, "spec": {"keep": 1, "drop": 2}}
    assert strategic_merge(original, {"metadata": {"labels": {"a": None}}})["metadata"]["labels"] == {"b": "2"}
    assert strategic_merge(original, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}})["metadata"][
        "labels"] == {"c": "3"}
    assert "labels" not in strategic_merge(original, {"metadata": {"labels": {"$patch": "delete"}}})["metadata"]
    assert strategic_merge(original, {"spec": {"$retainKeys": ["keep"], "keep": 5}})["spec"] == {"keep": 5}
    assert strategic_merge(original, {"metadata": {"finalizers": ["y"]}})["metadata"]["finalizers"] == ["x", "y"]
    removed = strategic_merge(original, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}})
    assert removed["metadata"]["finalizers"] == []


def test_a_list_item_without_its_merge_key_is_a_server_error() -> None:
    with pytest.raises(KubeError) as error:
        strategic_merge(POD, {"containers": [{"image": "a:2"}]})
    assert error.value.code == 500 and "does not contain declared merge key: name" in error.value.message


# --- RFC 7386 and RFC 6902 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "patch", "expected"), [  # from RFC 7386 appendix A
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_json_patch_operations() -> None:
    doc = {"spec": {"containers": [{"name": "app", "image": "a:1"}], "a/b": 1, "m~n": 2}}
    ops = [
        {"op": "test", "path": "/spec/containers/0/name", "value": "app"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "a:2"},
        {"op": "add", "path": "/spec/containers/-", "value": {"name": "b", "image": "b:1"}},
        {"op": "copy", "from": "/spec/containers/1", "path": "/spec/extra"},
        {"op": "move", "from": "/spec/a~1b", "path": "/spec/moved"},
        {"op": "remove", "path": "/spec/m~0n"},
    ]
    assert json_patch(doc, ops)["spec"] == {"containers": [{"name": "app", "image": "a:2"},
                                                           {"name": "b", "image": "b:1"}],
                                            "extra": {"name": "b", "image": "b:1"}, "moved": 1}


@pytest.mark.parametrize(("ops", "code"), [
    ([{"op": "test", "path": "/spec/replicas", "value": 3}], 422),
    ([{"op": "replace", "path": "/spec/missing/field", "value": 1}], 422),
    ([{"op": "remove", "path": "/spec/containers/7"}], 422),
    ({"op": "add"}, 400),
    ([{"op": "frobnicate", "path": "/spec"}], 400),
])
def test_json_patch_failures(ops: Any, code: int) -> None:
    with pytest.raises(KubeError) as error:
        json_patch({"spec": {"replicas": 2, "containers": []}}, ops)
    assert error.value.code == code


# --- selectors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("selector", "labels", "matches"), [
    ("", {}, True),
    ("app=web", {"app": "web"}, True),
    ("app==web,tier!=db", {"app": "web", "tier": "fe"}, True),
    ("app=web", {"app": "api"}, False),
    ("tier in (fe, be)", {"tier": "be"}, True),
    ("tier notin (fe,be)", {"tier": "be"}, False),
    ("legacy", {"legacy": ""}, True),
    ("!legacy", {"legacy": "yes"}, False),
    ("field.cattle.io/projectId=p-abcde", {"field.cattle.io/projectId": "p-abcde"}, True),
])
def test_label_selectors(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert LabelSelector.parse(selector).matches(labels) is matches


def test_field_selectors() -> None:
    selector = FieldSelector.parse("metadata.name=web,metadata.namespace!=kube-system", ("metadata.name",
                                                                                        "metadata.namespace"))
    assert selector.matches({"metadata": {"name": "web", "namespace": "apps"}})
    assert not selector.matches({"metadata": {"name": "web", "namespace": "kube-system"}})
    with pytest.raises(KubeError) as error:
        FieldSelector.parse("spec.replicas=1", ("metadata.name",))
    assert error.value.code == 400 and error.value.message == "field label not supported: spec.replicas"


# --- images, hashes, durations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "parts", "normalized", "repository"), [
    ("nginx", ("nginx", None, None), "docker.io/library/nginx:latest", "docker.io/library/nginx"),
    ("nginx:1.27", ("nginx", "1.27", None), "docker.io/library/nginx:1.27", "docker.io/library/nginx"),
    ("acme/app:v1", ("acme/app", "v1", None), "docker.io/acme/app:v1", "docker.io/acme/app"),
    ("registry.example.com:5000/shop/cart:1.4.2", ("registry.example.com:5000/shop/cart", "1.4.2", None),
     "registry.example.com:5000/shop/cart:1.4.2", "registry.example.com:5000/shop/cart"),
    ("localhost:5000/app", ("localhost:5000/app", None, None), "localhost:5000/app:latest", "localhost:5000/app"),
    (f"ghcr.io/acme/payments@{DIGEST}", ("ghcr.io/acme/payments", None, DIGEST),
     f"ghcr.io/acme/payments@{DIGEST}", "ghcr.io/acme/payments"),
    (f"ghcr.io/acme/payments:2.0@{DIGEST}", ("ghcr.io/acme/payments", "2.0", DIGEST),
     f"ghcr.io/acme/payments@{DIGEST}", "ghcr.io/acme/payments"),
])
def test_image_references(image: str, parts: tuple[str, str | None, str | None], normalized: str,
                          repository: str) -> None:
    assert split_image(image) == parts
    assert normalized_image(image) == normalized
    assert re.fullmatch(re.escape(repository) + r"@sha256:[0-9a-f]{64}", image_id(image))
    assert image_id(image) == image_id(image)
    if parts[2]:
        assert image_id(image).endswith(DIGEST)


def test_template_hash_looks_like_a_pod_template_hash() -> None:
    first = template_hash({"spec": {"containers": [{"name": "a", "image": "x:1"}]}})
    assert re.fullmatch(r"[bcdf456789]{6,10}", first)
    assert first == template_hash({"spec": {"containers": [{"image": "x:1", "name": "a"}]}})
    assert first != template_hash({"spec": {"containers": [{"name": "a", "image": "x:2"}]}})


@pytest.mark.parametrize(("seconds", "text"), [
    (5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (30 * 3600, "30h"),
    (3 * 86400 + 7200, "3d2h"), (40 * 86400, "40d"), (800 * 86400, "2y70d"), (-5, "<invalid>"),
])
def test_human_duration_as_kubectl_prints_age(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


# --- rollout arithmetic ----------------------------------------------------------------------------------------------


def workload(kind: str, image: str, replicas: int = 3, **spec: Any) -> dict[str, Any]:
    """A workload object as the store holds it, with a fresh generation."""
    return {"kind": kind, "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "app", "image": image}]}},
                     **spec}}


def template(image: str) -> dict[str, Any]:
    """A pod template with one container."""
    return {"spec": {"containers": [{"name": "app", "image": image}]}}


def rollout(failing: bool = False, started: float | None = 0.0) -> RolloutState:
    """A rollout from a:1 to a:2 that began at monotonic time `started`."""
    return RolloutState(template("a:1"), template("a:2"), failing=failing, started=started, finished=False)


def test_deployment_rollout_steps_follow_kubectl_rules() -> None:
    obj = workload("Deployment", "a:2")
    seen = []
    for now in (0.0, 0.4, 0.7, 1.0):
        result = evaluate(obj, rollout(), now=now, seconds=1.0, nodes=3, wall=WALL)
        status = result.status
        progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
        seen.append((status.get("updatedReplicas", 0), status["replicas"], status.get("availableReplicas", 0),
                     progressing["reason"], result.finished))
        assert status["observedGeneration"] == 2
    assert seen == [(1, 4, 3, "ReplicaSetUpdated", False), (2, 4, 3, "ReplicaSetUpdated", False),
                    (3, 4, 3, "ReplicaSetUpdated", False), (3, 3, 3, "NewReplicaSetAvailable", True)]


def test_failing_deployment_keeps_old_pods_and_times_out() -> None:
    obj = workload("Deployment", "a:2")
    early = evaluate(obj, rollout(failing=True), now=0.5, seconds=1.0, nodes=3, wall=WALL)
    late = evaluate(obj, rollout(failing=True), now=1.0, seconds=1.0, nodes=3, wall=WALL)
    assert [s.ready for s in early.slots] == [True, True, True, False] and early.slots[-1].failing
    reasons = [next(c["reason"] for c in e.status["conditions"] if c["type"] == "Progressing") for e in (early, late)]
    assert reasons == ["ReplicaSetUpdated", "ProgressDeadlineExceeded"] and late.finished


def test_paused_deployment_does_not_start() -> None:
    obj = workload("Deployment", "a:2", paused=True)
    result = evaluate(obj, rollout(started=None), now=10.0, seconds=1.0, nodes=3, wall=WALL)
    assert result.status.get("updatedReplicas", 0) == 0 and not result.finished
    assert {s.template_hash for s in result.slots} == {template_hash(template("a:1"))}
    progressing = next(c for c in result.status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")


def test_statefulset_replaces_from_the_highest_ordinal_and_honours_a_partition() -> None:
    obj = workload("StatefulSet", "a:2", updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}})
    middle = evaluate(obj, rollout(), now=0.2, seconds=1.0, nodes=3, wall=WALL)
    assert [s.template_hash == template_hash(template("a:2")) for s in middle.slots] == [False, False, True]
    assert middle.status["readyReplicas"] == 2
    done = evaluate(obj, rollout(), now=1.0, seconds=1.0, nodes=3, wall=WALL)
    assert done.status["updatedReplicas"] == 2 and done.status["currentRevision"] != done.status["updateRevision"]


def test_daemonset_rollout_counts_nodes() -> None:
    obj = workload("DaemonSet", "a:2")
    middle = evaluate(obj, rollout(), now=0.5, seconds=1.0, nodes=4, wall=WALL).status
    assert (middle["desiredNumberScheduled"], middle["updatedNumberScheduled"], middle["numberAvailable"]) == (4, 3, 3)
    done = evaluate(obj, rollout(), now=1.0, seconds=1.0, nodes=4, wall=WALL).status
    assert (done["updatedNumberScheduled"], done["numberAvailable"]) == (4, 4) and "numberUnavailable" not in done


# --- world files -----------------------------------------------------------------------------------------------------


def test_world_lists_are_flattened_and_gaps_filled(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps({"clusters": [{"id": "c-abcde", "objects": [{"kind": "List", "items": [
        {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {}}]}]}]}))
    world = load_world(path)
    (obj,) = world.cluster("c-abcde").objects
    assert (world.name, obj["apiVersion"], obj["metadata"]["namespace"]) == ("world", "apps/v1", "default")


@pytest.mark.parametrize(("data", "message"), [
    ({}, "needs a `clusters` list"),
    ({"clusters": [{"name": "x"}]}, "needs an id"),
    ({"clusters": [{"id": "a"}, {"id": "a"}]}, "duplicate cluster id"),
    ({"clusters": [{"id": "a", "objects": [{"kind": "Pod", "metadata": {"name": "p"}}]}]}, "is not served"),
    ({"clusters": [{"id": "a", "objects": [{"kind": "Deployment", "metadata": {}}]}]}, "metadata.name is required"),
    ({"clusters": [{"id": "a", "objects": [{"kind": "Deployment", "apiVersion": "extensions/v1beta1",
                                            "metadata": {"name": "x"}}]}]}, "served as apps/v1"),
    ({"clusters": [{"id": "a", "state": "broken"}]}, "state must be one of"),
    ({"clusters": [{"id": "a", "nodes": "three"}]}, "clusters[0].nodes: must be a whole number, not str 'three'"),
    ({"clusters": [{"id": "a", "objects": [{"kind": "Deployment", "metadata": {"name": "x"}, "spec": {
        "replicas": "2"}}]}]}, "objects[0].spec.replicas: must be a whole number, not str '2'"),
    ({"clusters": [{"id": "a", "objects": [{"kind": "Deployment", "metadata": {"name": "x"}, "spec": {
        "replicas": True}}]}]}, "spec.replicas: must be a whole number"),
    ({"clusters": [{"id": "a", "objects": [{"kind": "Deployment", "metadata": {"name": "x"}, "spec": {
        "template": {"spec": {"containers": {"name": "app"}}}}}]}]}, "spec.template.spec.containers: must be a list"),
    ({"clusters": [{"id": "a", "objects": [{"kind": "Deployment", "metadata": {"name": "x"}, "spec": {
        "template": {"spec": {"containers": [{"name": "app", "image": 3}]}}}}]}]},
     "objects[0].spec.template.spec.containers[0].image: must be a non-empty string"),
    ({"clusters": [{"id": "a", "objects": [{"kind": "Deployment", "metadata": {"name": "x", "labels": ["a"]}}]}]},
     "objects[0].metadata.labels: must be a mapping"),
    ({"clusters": [{"id": "a", "objects": [{"kind": "Deployment", "metadata": {"name": "x"}, "spec": "big"}]}]},
     "objects[0].spec: must be a mapping"),
])
def test_bad_worlds_are_explained(data: dict[str, Any], message: str) -> None:
    with pytest.raises(WorldError, match=re.escape(message)):
        parse_world(data)


def test_demo_worlds_hold_the_states_a_dashboard_must_show() -> None:
    worlds = load_demo_worlds()
    assert list(worlds) == ["rancher-eu", "rancher-us"]
    objects = [o for w in worlds.values() for c in w.clusters for o in c.objects]
    ids = {c.id for w in worlds.values() for c in w.clusters}
    assert "local" in ids and any(re.fullmatch(r"c-m-[a-z0-9]{8}", i) for i in ids)
    assert any(re.fullmatch(r"c-[a-z0-9]{5}", i) for i in ids)
    images = [c["image"] for o in objects for c in
              (o["spec"].get("template") or o["spec"].get("jobTemplate", {}).get("spec", {}).get("template", {}))
              .get("spec", {}).get("containers", [])]
    assert any("@sha256:" in i for i in images) and any(re.match(r"[^/]+:\d+/", i) for i in images)
    conditions = [c.get("reason") for o in objects for c in (o.get("status") or {}).get("conditions", [])]
    assert "ProgressDeadlineExceeded" in conditions and "ReplicaSetUpdated" in conditions
    assert any(o["spec"].get("paused") for o in objects)
    assert any(o["kind"] == "Deployment" and o["spec"].get("replicas") == 0 for o in objects)
    assert {o["kind"] for o in objects} == {"Deployment", "StatefulSet", "DaemonSet", "CronJob"}
    assert any(o["spec"].get("template", {}).get("spec", {}).get("initContainers") for o in objects)


# --- tokens ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "token"), [
    ({"Authorization": "Bearer token-abcde:s3cret"}, "token-abcde:s3cret"),
    ({"Authorization": "BEARER token-abcde:s3cret"}, "token-abcde:s3cret"),
    ({"Authorization": "Basic dG9rZW4tYWJjZGU6czNjcmV0"}, "token-abcde:s3cret"),
    ({"Authorization": "Basic %%%"}, None),
    ({"Cookie": "theme=dark; R_SESS=token-abcde:s3cret"}, "token-abcde:s3cret"),
    ({"Authorization": "Digest x", "Cookie": "R_SESS=token-abcde:s3cret"}, None),
    ({}, None),
])
def test_presented_token_forms(headers: dict[str, str], token: str | None) -> None:
    assert presented_token(headers) == token


@pytest.mark.parametrize(("path", "cluster"), [
    ("/k8s/clusters/c-m-abc12345/api/v1/namespaces", "c-m-abc12345"),
    ("/v3/clusters/c-abcde", "c-abcde"),
    ("/v3/cluster/local/namespaces", "local"),
    ("/v3/clusters", None),
    ("/v3/users", None),
])
def test_cluster_in_path(path: str, cluster: str | None) -> None:
    assert cluster_in_path(path) == cluster
