"""Parsing Rancher and Kubernetes JSON into the frozen dataclasses of ranchersync.rancher.types."""

from __future__ import annotations

import dataclasses
import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ranchersync.kernel.errors import ValidationError
from ranchersync.rancher import (
    Cluster,
    Container,
    Namespace,
    Pod,
    TokenInfo,
    UserInfo,
    Workload,
)
from ranchersync.rancher.types import parse_time

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rancher"


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_deployment_from_k8s_reads_every_field_we_need() -> None:
    w = Workload.from_k8s(load("deployment_web"))
    assert (w.kind, w.name, w.namespace) == ("Deployment", "web", "shop-dev")
    assert w.uid == "3f0e8f3a-7d2b-4c1e-9a55-0b6f1c2d3e4f"
    assert (w.resource_version, w.generation, w.observed_generation) == ("654001", 7, 7)
    assert (w.replicas, w.status_replicas, w.updated_replicas, w.ready_replicas, w.available_replicas) == (
        3,
        3,
        3,
        3,
        3,
    )
    assert w.paused is False
    assert w.containers == (
        Container("app", "registry.example.com:5000/shop/web:1.4.1"),
        Container("envoy", "envoyproxy/envoy:v1.29.1"),
        Container("migrate", "registry.example.com:5000/shop/web:1.4.1", init=True),
    )
    assert w.images == {"app": "registry.example.com:5000/shop/web:1.4.1", "envoy": "envoyproxy/envoy:v1.29.1"}
    assert w.init_images == {"migrate": "registry.example.com:5000/shop/web:1.4.1"}
    assert w.labels["app"] == "web"
    assert w.revision == "5"
    assert w.template_annotations == {"cattle.io/timestamp": "2024-05-01T12:00:00Z"}
    assert w.selector == {"app": "web"} and w.selector_string() == "app=web"
    assert w.update_strategy == "RollingUpdate"
    assert w.progress_deadline_seconds == 600
    progressing = w.condition("Progressing")
    assert progressing is not None and progressing.reason == "NewReplicaSetAvailable"
    assert w.condition("ReplicaFailure") is None
    assert w.created_at == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def test_list_items_need_the_kind_passed_in() -> None:
    item = load("deployments_page1")["items"][0]
    assert "kind" not in item
    w = Workload.from_k8s(item, "deployment")  # case-insensitive
    assert w.kind == "Deployment" and w.name == "api"
    with pytest.raises(ValidationError):
        Workload.from_k8s(item)


def test_statefulset_fields() -> None:
    w = Workload.from_k8s(load("statefulsets")["items"][0], "StatefulSet")
    assert w.has_rolling_update and w.partition == 0
    assert (w.current_revision, w.update_revision, w.current_replicas) == ("db-5d8f7c9b6", "db-5d8f7c9b6", 3)
    assert w.images == {"postgres": "postgres:16.2"}


def test_statefulset_without_available_replicas_falls_back_to_ready() -> None:
    obj = {"metadata": {"name": "db"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 2}}
    assert Workload.from_k8s(obj, "StatefulSet").available_replicas == 2


def test_daemonset_counts_come_from_the_number_fields() -> None:
    w = Workload.from_k8s(load("daemonsets")["items"][0], "DaemonSet")
    assert (w.replicas, w.status_replicas, w.updated_replicas, w.ready_replicas, w.available_replicas) == (
        5,
        5,
        5,
        4,
        4,
    )
    assert w.update_strategy == "RollingUpdate"


def test_cronjob_images_live_in_the_job_template() -> None:
    w = Workload.from_k8s(load("cronjobs")["items"][0], "CronJob")
    assert w.images == {"report": "registry.example.com:5000/shop/report:0.9.0"}
    assert w.init_images == {"wait-db": "busybox:1.36"}
    assert w.template_annotations == {"sidecar.istio.io/inject": "false"}
    assert (w.schedule, w.active_jobs, w.paused, w.replicas) == ("0 2 * * *", 1, False, 0)
    assert w.last_schedule_time == datetime(2024, 6, 1, 2, 0, tzinfo=UTC)


def test_missing_status_and_replicas_use_kubernetes_defaults() -> None:
    w = Workload.from_k8s({"kind": "Deployment", "metadata": {"name": "x", "generation": 1}})
    assert w.replicas == 1 and w.observed_generation is None and w.available_replicas == 0
    assert w.containers == () and w.conditions == ()


def test_unknown_fields_and_odd_types_are_ignored() -> None:
    obj = {
        "kind": "Deployment",
        "metadata": {"name": "x", "generation": "7", "labels": {"a": "b", "n": 1}, "future": {"x": 1}},
        "spec": {"replicas": True, "template": {"spec": {"containers": "nope"}}},
        "status": {"conditions": [{"type": "Available", "status": "True", "extra": 1}, "junk"]},
        "somethingNew": [1, 2, 3],
    }
    w = Workload.from_k8s(obj)
    assert w.generation == 0 and w.labels == {"a": "b"} and w.replicas == 1 and w.containers == ()
    assert [c.type for c in w.conditions] == ["Available", ""]


def test_a_workload_without_a_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="metadata.name"):
        Workload.from_k8s({"kind": "Deployment", "metadata": {}})


def test_dataclasses_are_frozen_and_picklable() -> None:
    w = Workload.from_k8s(load("deployment_web"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.name = "other"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(w)) == w  # st.cache_data pickles what it caches


def test_namespace_project_from_annotation_or_label() -> None:
    items = load("namespaces_page1")["items"] + load("namespaces_page2")["items"]
    namespaces = [Namespace.from_k8s(i) for i in items]
    assert [(n.name, n.phase, n.project_id) for n in namespaces] == [
        ("cattle-system", "Active", "p-jwd4v"),
        ("shop-dev", "Active", "p-x7k2m"),
        ("tmp-old", "Terminating", None),
    ]
    label_only = {"metadata": {"name": "a", "labels": {"field.cattle.io/projectId": "p-abcde"}}}
    assert Namespace.from_k8s(label_only).project_id == "p-abcde"


def test_pod_container_statuses_carry_digests() -> None:
    running, pending = (Pod.from_k8s(i) for i in load("pods")["items"])
    assert running.phase == "Running" and running.node_name == "worker-1"
    app = running.container_statuses[0]
    assert (app.name, app.ready, app.restart_count, app.init) == ("app", True, 1, False)
    assert app.image_id.endswith("@sha256:4f1c1c0b8d3e6a7b9c2d5e8f0a1b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b")
    assert [(s.name, s.init) for s in running.container_statuses] == [
        ("app", False),
        ("envoy", False),
        ("migrate", True),
    ]
    assert pending.phase == "Pending" and pending.container_statuses == ()
    assert pending.containers == (Container("app", "registry.example.com:5000/shop/web:1.4.1"),)


def test_clusters_from_norman() -> None:
    items = load("clusters_page1")["data"] + load("clusters_page2")["data"]
    clusters = [Cluster.from_norman(i) for i in items]
    assert [(c.id, c.name, c.state) for c in clusters] == [
        ("c-m-8x2kq4vd", "dev-east", "active"),
        ("c-m-9hh7fwlt", "prod-east", "active"),
        ("local", "local", "active"),
    ]
    assert clusters[0].kubernetes_version == "v1.27.10+rke2r1" and clusters[2].provider == "k3s"
    assert Cluster.from_norman({"id": "c-abcde"}) == Cluster("c-abcde", "c-abcde", "unknown")


def test_user_display_name_prefers_the_name() -> None:
    user = UserInfo.from_norman(load("users_me")["data"][0])
    assert (user.id, user.username, user.display_name) == ("u-mvhtt", "release-bot", "Release Bot")
    assert UserInfo(id="user-4g8mm", username="admin").display_name == "admin"
    assert UserInfo(id="user-4g8mm").display_name == "user-4g8mm"


def test_token_expiry() -> None:
    token = TokenInfo.from_norman(load("token"))
    assert token.expires_at == datetime(2031, 7, 17, 17, 29, 5, tzinfo=UTC)
    assert (token.name, token.ttl_ms, token.enabled, token.expired, token.cluster_id) == (
        "token-p62nb",
        7776000000,
        True,
        False,
        None,
    )
    never = TokenInfo.from_norman(load("token_never_expires"))
    assert never.expires_at is None and never.ttl_ms == 0  # expiresAt "" means it never expires
    scoped = TokenInfo.from_norman({"name": "token-x", "clusterId": "c-m-9hh7fwlt", "expiresAt": None})
    assert scoped.cluster_id == "c-m-9hh7fwlt" and scoped.expires_at is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-07-17T17:29:05Z", datetime(2024, 7, 17, 17, 29, 5, tzinfo=UTC)),
        ("2024-07-17T17:29:05.123456Z", datetime(2024, 7, 17, 17, 29, 5, 123456, tzinfo=UTC)),
        ("2024-07-17T19:29:05+02:00", datetime(2024, 7, 17, 17, 29, 5, tzinfo=UTC)),
        ("2024-07-17T17:29:05", datetime(2024, 7, 17, 17, 29, 5, tzinfo=UTC)),
        ("", None),
        ("   ", None),
        ("never", None),
        (None, None),
        (1721237345, None),
    ],
)
def test_parse_time(text: object, expected: datetime | None) -> None:
    assert parse_time(text) == expected
