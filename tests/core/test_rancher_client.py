"""RancherClient operations against recorded Rancher/Kubernetes payloads (tests/fixtures/rancher)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from ranchersync.kernel.errors import (
    ConflictError,
    MalformedResponse,
    RancherAPIError,
    RancherAuthError,
    RancherUnavailable,
    ValidationError,
)
from ranchersync.rancher import Cluster, ImageChange, RancherClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rancher"
BASE = "https://rancher.example.com"
TOKEN = "token-p62nb:chcnszhxp6zqrbxwcz5z2r2w9jrftlvtwvzbsr88v4mk28kw4k5c2p"
CLUSTER = "c-m-9hh7fwlt"
K8S = f"{BASE}/k8s/clusters/{CLUSTER}"
APPS = f"{K8S}/apis/apps/v1/namespaces/shop-dev"
BATCH = f"{K8S}/apis/batch/v1/namespaces/shop-dev"
SMP = "application/strategic-merge-patch+json"


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def q(**params: str) -> list[Any]:
    return [matchers.query_param_matcher(params)]


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def ordered() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True, registry=OrderedRegistry) as mock:
        yield mock


@pytest.fixture
def client() -> Iterator[RancherClient]:
    with RancherClient(BASE, TOKEN, retries=0, backoff=0) as c:
        yield c


def add_connection_basics(rsps: responses.RequestsMock, token: Any = None) -> None:
    rsps.get(f"{BASE}/v3", json=load("v3_root"))
    rsps.get(f"{BASE}/v3/users", json=load("users_me"), match=q(me="true"))
    if token is not None:
        rsps.get(f"{BASE}/v3/tokens/token-p62nb", **token)


def add_clusters(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/v3/clusters", json=load("clusters_page1"), match=q(limit="1000"))
    rsps.get(f"{BASE}/v3/clusters", json=load("clusters_page2"), match=q(limit="2", marker="c-m-9hh7fwlt"))


# ---- test_connection --------------------------------------------------------------------------------------------


def test_connection_full(rsps: responses.RequestsMock, client: RancherClient) -> None:
    add_connection_basics(rsps, token={"json": load("token")})
    rsps.get(f"{BASE}/v3/settings/server-version", json=load("server_version"))
    add_clusters(rsps)
    info = client.test_connection()
    assert info.url == BASE and not info.cluster_scoped
    assert (info.user_id, info.user_display_name) == ("u-mvhtt", "Release Bot")
    assert info.rancher_version == "v2.9.3"
    assert info.token_expiry_known and info.token_expires_at == datetime(2031, 7, 17, 17, 29, 5, tzinfo=UTC)
    assert [c.id for c in info.clusters] == ["c-m-8x2kq4vd", "c-m-9hh7fwlt", "local"]
    assert info.latency_ms >= 0 and info.warnings == ()
    assert info.user_name == "Release Bot"
    assert [c.request.path_url.split("?")[0] for c in rsps.calls] == [
        "/v3",
        "/v3/users",
        "/v3/tokens/token-p62nb",
        "/v3/settings/server-version",
        "/v3/clusters",
        "/v3/clusters",
    ]


def test_connection_with_a_token_that_never_expires(rsps: responses.RequestsMock, client: RancherClient) -> None:
    add_connection_basics(rsps, token={"json": load("token_never_expires")})
    rsps.get(f"{BASE}/v3/settings/server-version", json=load("server_version"))
    rsps.get(f"{BASE}/v3/clusters", json={"data": []})
    info = client.test_connection()
    assert info.token_expiry_known and info.token_expires_at is None and info.clusters == ()


@pytest.mark.parametrize("status", [403, 404])
def test_connection_tolerates_an_unreadable_token(
    rsps: responses.RequestsMock, client: RancherClient, status: int
) -> None:
    add_connection_basics(rsps, token={"json": load("error_404_norman"), "status": status})
    rsps.get(f"{BASE}/v3/settings/server-version", json=load("error_403_norman"), status=403)
    rsps.get(f"{BASE}/v3/clusters", json={"data": []})
    info = client.test_connection()
    assert not info.token_expiry_known and info.token_expires_at is None
    assert info.rancher_version is None
    assert info.warnings == (f"The token's expiry could not be read (HTTP {status}).",)


def test_connection_warns_about_a_token_close_to_expiry(rsps: responses.RequestsMock, client: RancherClient) -> None:
    soon = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    add_connection_basics(rsps, token={"json": {**load("token"), "expiresAt": soon.strftime("%Y-%m-%dT%H:%M:%SZ")}})
    rsps.get(f"{BASE}/v3/settings/server-version", json=load("server_version"))
    rsps.get(f"{BASE}/v3/clusters", json={"data": []})
    info = client.test_connection()
    assert info.token_expires_at == soon
    assert info.warnings == (f"The token expires on {soon:%Y-%m-%d %H:%M} UTC.",)


def test_scoped_token_without_a_cluster_id_is_explained(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{BASE}/v3", json=load("error_401_auth_filter"), status=401)
    with pytest.raises(RancherAuthError) as info:
        client.test_connection()
    message = str(info.value)
    assert "wrong, expired or disabled" in message and "cannot list clusters" in message
    assert info.value.status == 401


def test_scoped_token_falls_back_to_the_cluster_probe(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{BASE}/v3", json=load("error_401_auth_filter"), status=401)
    rsps.get(f"{K8S}/version", json=load("kube_version"))
    rsps.get(f"{BASE}/v3/clusters/{CLUSTER}", json=load("cluster_scoped"))
    info = client.test_connection(cluster_id=CLUSTER)
    assert info.cluster_scoped and info.kubernetes_version == "v1.27.10+rke2r1"
    assert info.clusters == (Cluster(CLUSTER, "prod-east", "active", "v1.27.10+rke2r1", "rke2"),)
    assert info.user is None and not info.token_expiry_known
    assert "scoped to cluster c-m-9hh7fwlt" in info.warnings[0]


def test_scoped_probe_survives_an_unreadable_cluster_object(
    rsps: responses.RequestsMock, client: RancherClient
) -> None:
    rsps.get(f"{BASE}/v3", body="", status=401)
    rsps.get(f"{K8S}/version", json=load("kube_version"))
    rsps.get(f"{BASE}/v3/clusters/{CLUSTER}", body="", status=401)
    info = client.test_connection(cluster_id=CLUSTER)
    assert info.clusters == (Cluster(CLUSTER, CLUSTER),)


def test_scoped_probe_refused_too(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{BASE}/v3", json=load("error_401_auth_filter"), status=401)
    rsps.get(f"{K8S}/version", json=load("error_401_auth_filter"), status=401)
    with pytest.raises(RancherAuthError, match="on /v3 and on cluster c-m-9hh7fwlt.*scoped to another cluster"):
        client.test_connection(cluster_id=CLUSTER)


def test_connection_forbidden_is_not_mistaken_for_a_scoped_token(
    rsps: responses.RequestsMock, client: RancherClient
) -> None:
    rsps.get(f"{BASE}/v3", json=load("error_403_norman"), status=403)
    with pytest.raises(RancherAuthError, match="Permission denied"):
        client.test_connection(cluster_id=CLUSTER)


def test_connection_to_something_that_is_not_rancher(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{BASE}/v3", json={"hello": "world"})
    with pytest.raises(MalformedResponse, match="not Rancher's API root"):
        client.test_connection()


def test_connection_unreachable(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{BASE}/v3", json=load("cluster_unavailable"), status=503)
    with pytest.raises(RancherUnavailable):
        client.test_connection()


# ---- clusters and namespaces ------------------------------------------------------------------------------------


def test_list_clusters_follows_pagination_next(rsps: responses.RequestsMock, client: RancherClient) -> None:
    add_clusters(rsps)
    assert [c.name for c in client.list_clusters()] == ["dev-east", "prod-east", "local"]


def test_next_links_are_sent_to_our_own_base_url(rsps: responses.RequestsMock, client: RancherClient) -> None:
    # A proxy that drops X-Forwarded-Proto makes Norman write http:// links; the token still only goes to BASE.
    first = {
        **load("clusters_page1"),
        "pagination": {"next": "http://10.0.0.7/v3/clusters?limit=2&marker=c-m-9hh7fwlt"},
    }
    rsps.get(f"{BASE}/v3/clusters", json=first, match=q(limit="1000"))
    rsps.get(f"{BASE}/v3/clusters", json=load("clusters_page2"), match=q(limit="2", marker="c-m-9hh7fwlt"))
    assert len(client.list_clusters()) == 3
    assert all((call.request.url or "").startswith(BASE + "/v3/clusters?") for call in rsps.calls)


def test_next_links_to_other_paths_are_refused(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{BASE}/v3/clusters", json={"data": [], "pagination": {"next": f"{BASE}/v3/tokens?marker=x"}})
    with pytest.raises(MalformedResponse, match="points elsewhere"):
        client.list_clusters()


def test_list_clusters_under_a_path_prefix(rsps: responses.RequestsMock) -> None:
    base = "https://lb.example.com/rancher"
    rsps.get(f"{base}/v3/clusters", json={"data": [], "pagination": {"next": f"{base}/v3/clusters?marker=local"}})
    rsps.get(f"{base}/v3/clusters", json=load("clusters_page2"), match=q(marker="local"))
    assert [c.id for c in RancherClient(base, TOKEN).list_clusters()] == ["local"]


def test_list_clusters_refuses_endless_paging(rsps: responses.RequestsMock, client: RancherClient) -> None:
    page = {"data": [], "pagination": {"next": f"{BASE}/v3/clusters?marker=x"}}
    rsps.get(f"{BASE}/v3/clusters", json=page)
    with pytest.raises(MalformedResponse, match="does not end"):
        client.list_clusters()


def test_list_namespaces_follows_continue(rsps: responses.RequestsMock, client: RancherClient) -> None:
    first = load("namespaces_page1")
    rsps.get(f"{K8S}/api/v1/namespaces", json=first, match=q(limit="500"))
    rsps.get(
        f"{K8S}/api/v1/namespaces",
        json=load("namespaces_page2"),
        match=q(limit="500", **{"continue": first["metadata"]["continue"]}),
    )
    assert [(n.name, n.project_id) for n in client.list_namespaces(CLUSTER)] == [
        ("cattle-system", "p-jwd4v"),
        ("shop-dev", "p-x7k2m"),
        ("tmp-old", None),
    ]


def test_get_namespace(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{K8S}/api/v1/namespaces/shop-dev", json={"kind": "Namespace", **load("namespaces_page1")["items"][1]})
    assert client.get_namespace(CLUSTER, "shop-dev").project_id == "p-x7k2m"


# ---- workloads --------------------------------------------------------------------------------------------------


def test_list_workloads_all_kinds_with_paging(rsps: responses.RequestsMock, client: RancherClient) -> None:
    first = load("deployments_page1")
    rsps.get(f"{APPS}/deployments", json=first, match=q(limit="2"))
    rsps.get(
        f"{APPS}/deployments",
        json=load("deployments_page2"),
        match=q(limit="2", **{"continue": first["metadata"]["continue"]}),
    )
    rsps.get(f"{APPS}/statefulsets", json=load("statefulsets"), match=q(limit="2"))
    rsps.get(f"{APPS}/daemonsets", json=load("daemonsets"), match=q(limit="2"))
    rsps.get(f"{BATCH}/cronjobs", json=load("cronjobs"), match=q(limit="2"))
    workloads = client.list_workloads(CLUSTER, "shop-dev", page_size=2)
    assert [(w.kind, w.name) for w in workloads] == [
        ("Deployment", "api"),
        ("Deployment", "web"),
        ("StatefulSet", "db"),
        ("DaemonSet", "log-agent"),
        ("CronJob", "nightly-report"),
    ]


def test_list_workloads_selected_kinds_once_each(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{BATCH}/cronjobs", json=load("cronjobs"))
    rsps.get(f"{APPS}/statefulsets", json=load("statefulsets"))
    workloads = client.list_workloads(CLUSTER, "shop-dev", kinds=["cronjob", "CronJob", "statefulset"])
    assert [w.kind for w in workloads] == ["CronJob", "StatefulSet"]


def test_expired_continue_token_restarts_the_list_once(ordered: responses.RequestsMock, client: RancherClient) -> None:
    first = load("deployments_page1")
    token = first["metadata"]["continue"]
    ordered.get(f"{APPS}/deployments", json=first, match=q(limit="500"))
    ordered.get(
        f"{APPS}/deployments", json=load("status_410_expired"), status=410, match=q(limit="500", **{"continue": token})
    )
    ordered.get(f"{APPS}/deployments", json=first, match=q(limit="500"))
    ordered.get(f"{APPS}/deployments", json=load("deployments_page2"), match=q(limit="500", **{"continue": token}))
    workloads = client.list_workloads(CLUSTER, "shop-dev", kinds=["Deployment"])
    assert [w.name for w in workloads] == ["api", "web"]  # no duplicates from the abandoned first pass


def test_expired_continue_token_twice_gives_up(ordered: responses.RequestsMock, client: RancherClient) -> None:
    first = load("deployments_page1")
    for _ in range(2):
        ordered.get(f"{APPS}/deployments", json=first)
        ordered.get(f"{APPS}/deployments", json=load("status_410_expired"), status=410)
    with pytest.raises(RancherAPIError) as info:
        client.list_workloads(CLUSTER, "shop-dev", kinds=["Deployment"])
    assert info.value.status == 410


def test_a_list_without_items_is_malformed(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{APPS}/deployments", json={"kind": "Status", "status": "Success"})
    with pytest.raises(MalformedResponse, match="without an items list"):
        client.list_workloads(CLUSTER, "shop-dev", kinds=["Deployment"])


def test_an_item_without_a_name_is_malformed(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{APPS}/deployments", json={"items": [{"metadata": {}}]})
    with pytest.raises(MalformedResponse, match="without metadata.name"):
        client.list_workloads(CLUSTER, "shop-dev", kinds=["Deployment"])


def test_a_repeated_continue_token_is_malformed(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{APPS}/deployments", json={"metadata": {"continue": "same"}, "items": []})
    with pytest.raises(MalformedResponse, match="does not end"):
        client.list_workloads(CLUSTER, "shop-dev", kinds=["Deployment"])


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("Deployment", f"{APPS}/deployments/web"),
        ("statefulset", f"{APPS}/statefulsets/web"),
        ("DaemonSet", f"{APPS}/daemonsets/web"),
        ("CronJob", f"{BATCH}/cronjobs/web"),
    ],
)
def test_get_workload_paths(rsps: responses.RequestsMock, client: RancherClient, kind: str, url: str) -> None:
    rsps.get(url, json={"metadata": {"name": "web", "namespace": "shop-dev"}})
    assert client.get_workload(CLUSTER, "shop-dev", kind, "web").name == "web"


def test_list_pods_with_a_selector(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{K8S}/api/v1/namespaces/shop-dev/pods", json=load("pods"), match=q(limit="500", labelSelector="app=web"))
    pods = client.list_pods(CLUSTER, "shop-dev", label_selector="app=web")
    assert [p.name for p in pods] == ["web-b97b798c8-x2k9p", "web-b97b798c8-pending"]


# ---- patch_images -----------------------------------------------------------------------------------------------


def test_patch_images_sends_the_exact_strategic_merge_patch(
    rsps: responses.RequestsMock, client: RancherClient
) -> None:
    rsps.get(f"{APPS}/deployments/web", json=load("deployment_web"))
    expected = {
        "metadata": {"resourceVersion": "654001", "annotations": {"ranchersync.io/operation": "42"}},
        "spec": {
            "template": {
                "metadata": {"annotations": {"cattle.io/timestamp": "2024-06-01T10:00:00Z"}},
                "spec": {
                    "containers": [{"name": "app", "image": "registry.example.com:5000/shop/web:1.4.2"}],
                    "initContainers": [{"name": "migrate", "image": "registry.example.com:5000/shop/web:1.4.2"}],
                },
            }
        },
    }
    rsps.patch(
        f"{APPS}/deployments/web",
        json=load("deployment_web_patched"),
        match=[matchers.json_params_matcher(expected), matchers.header_matcher({"Content-Type": SMP})],
    )
    change = ImageChange(containers={"app": "registry.example.com:5000/shop/web:1.4.2"},
                         init_containers={"migrate": "registry.example.com:5000/shop/web:1.4.2"},
                         annotations={"ranchersync.io/operation": "42"},
                         template_annotations={"cattle.io/timestamp": "2024-06-01T10:00:00Z"})
    patched = client.patch_images(CLUSTER, "shop-dev", "Deployment", "web", change, resource_version="654001")
    assert patched.generation == 8 and patched.images["app"].endswith(":1.4.2")
    assert json.loads(rsps.calls[1].request.body or b"") == expected  # exactly this, nothing more
    assert rsps.calls[1].request.headers["Content-Type"] == SMP


def test_patch_cronjob_uses_the_job_template_path(rsps: responses.RequestsMock, client: RancherClient) -> None:
    cron = {"kind": "CronJob", **load("cronjobs")["items"][0]}
    rsps.get(f"{BATCH}/cronjobs/nightly-report", json=cron)
    expected = {
        "metadata": {"resourceVersion": "620000"},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {"spec": {"containers": [{"name": "report", "image": "reg.example.com/report:1.0"}]}}
                }
            }
        },
    }
    rsps.patch(f"{BATCH}/cronjobs/nightly-report", json=cron, match=[matchers.json_params_matcher(expected)])
    client.patch_images(CLUSTER, "shop-dev", "CronJob", "nightly-report",
                        ImageChange(containers={"report": "reg.example.com/report:1.0"}), resource_version="620000")


@pytest.mark.parametrize(("kind", "plural"), [("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets")])
def test_patch_other_kinds(rsps: responses.RequestsMock, client: RancherClient, kind: str, plural: str) -> None:
    obj = {
        "kind": kind,
        "metadata": {"name": "x", "namespace": "shop-dev", "resourceVersion": "7"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a:1"}]}}},
    }
    rsps.get(f"{APPS}/{plural}/x", json=obj)
    expected = {
        "metadata": {"resourceVersion": "7"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a:2"}]}}},
    }
    rsps.patch(f"{APPS}/{plural}/x", json=obj, match=[matchers.json_params_matcher(expected)])
    assert (
        client.patch_images(CLUSTER, "shop-dev", kind, "x", ImageChange(containers={"c": "a:2"}),
                            resource_version=None).kind == kind
    )


def test_patch_without_resource_version_uses_the_one_just_read(
    rsps: responses.RequestsMock, client: RancherClient
) -> None:
    rsps.get(f"{APPS}/deployments/web", json=load("deployment_web"))
    rsps.patch(
        f"{APPS}/deployments/web",
        json=load("deployment_web_patched"),
        match=[matchers.json_params_matcher({"metadata": {"resourceVersion": "654001"}}, strict_match=False)],
    )
    client.patch_images(CLUSTER, "shop-dev", "Deployment", "web", ImageChange(containers={"envoy": "envoy:2"}),
                        resource_version=None)


def test_patch_with_a_stale_resource_version_is_refused_before_sending(
    rsps: responses.RequestsMock, client: RancherClient
) -> None:
    rsps.get(f"{APPS}/deployments/web", json=load("deployment_web"))
    with pytest.raises(ConflictError, match=r"changed since it was read \(resourceVersion 653000, now 654001\)"):
        client.patch_images(CLUSTER, "shop-dev", "Deployment", "web", ImageChange(containers={"app": "a:2"}),
                            resource_version="653000")
    assert [c.request.method for c in rsps.calls] == ["GET"]


def test_patch_conflict_from_the_server(ordered: responses.RequestsMock, client: RancherClient) -> None:
    ordered.get(f"{APPS}/deployments/web", json=load("deployment_web"))
    ordered.patch(f"{APPS}/deployments/web", json=load("status_409"), status=409)
    with pytest.raises(ConflictError, match="the object has been modified"):
        client.patch_images(CLUSTER, "shop-dev", "Deployment", "web", ImageChange(containers={"app": "a:2"}),
                            resource_version="654001")
    assert len(ordered.calls) == 2  # the PATCH went once, never retried


def test_patch_503_is_not_retried_even_with_retries(ordered: responses.RequestsMock) -> None:
    ordered.get(f"{APPS}/deployments/web", json=load("deployment_web"))
    ordered.patch(f"{APPS}/deployments/web", json=load("cluster_unavailable"), status=503)
    with RancherClient(BASE, TOKEN, retries=3, backoff=0) as c, pytest.raises(RancherUnavailable):
        c.patch_images(CLUSTER, "shop-dev", "Deployment", "web", ImageChange(containers={"app": "a:2"}),
                       resource_version="654001")
    assert [call.request.method for call in ordered.calls] == ["GET", "PATCH"]


@pytest.mark.parametrize(
    ("containers", "init", "message"),
    [
        ({"sidecar": "a:1"}, None, "has no container named sidecar \\(it has: app, envoy\\)"),
        ({"migrate": "a:1"}, None, "has no container named migrate"),
        ({}, {"app": "a:1"}, "has no init container named app \\(it has: migrate\\)"),
    ],
)
def test_patch_unknown_container_names_are_refused(
    rsps: responses.RequestsMock,
    client: RancherClient,
    containers: dict[str, str],
    init: dict[str, str] | None,
    message: str,
) -> None:
    # A strategic merge would *add* a container with an unknown name, so the client checks first.
    rsps.get(f"{APPS}/deployments/web", json=load("deployment_web"))
    with pytest.raises(ValidationError, match=message):
        client.patch_images(CLUSTER, "shop-dev", "Deployment", "web", ImageChange(containers=containers,
                                                                                  init_containers=init or {}),
                             resource_version=None)
    assert [c.request.method for c in rsps.calls] == ["GET"]


@pytest.mark.parametrize(
    ("containers", "message"),
    [
        ({}, "Nothing to change"),
        ({"app": ""}, "not a usable image"),
        ({"app": " reg/app:1"}, "not a usable image"),
        ({"Bad_Name": "reg/app:1"}, "not a valid container name"),
    ],
)
def test_patch_bad_input_sends_nothing(
    rsps: responses.RequestsMock, client: RancherClient, containers: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        client.patch_images(CLUSTER, "shop-dev", "Deployment", "web", ImageChange(containers=containers),
                            resource_version="1")
    assert len(rsps.calls) == 0


# ---- path injection ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "namespace", "kind", "name"),
    [
        ("c-m-9hh7fwlt/../../v3/tokens", "shop-dev", "Deployment", "web"),
        ("C-UPPER", "shop-dev", "Deployment", "web"),
        (CLUSTER, "../../../v3", "Deployment", "web"),
        (CLUSTER, "shop dev", "Deployment", "web"),
        (CLUSTER, "a" * 64, "Deployment", "web"),
        (CLUSTER, "shop-dev", "Deployment", "../secrets/x"),
        (CLUSTER, "shop-dev", "Deployment", "web?watch=1"),
        (CLUSTER, "shop-dev", "Deployment", "web%2F..%2Fx"),
        (CLUSTER, "shop-dev", "Deployment", "Web"),
        (CLUSTER, "shop-dev", "Secret", "web"),
        (CLUSTER, "shop-dev", "deployments", "web"),
    ],
)
def test_bad_path_values_never_reach_the_server(
    rsps: responses.RequestsMock, client: RancherClient, cluster: str, namespace: str, kind: str, name: str
) -> None:
    with pytest.raises(ValidationError):
        client.get_workload(cluster, namespace, kind, name)
    assert len(rsps.calls) == 0


def test_bad_cluster_and_namespace_in_lists(rsps: responses.RequestsMock, client: RancherClient) -> None:
    with pytest.raises(ValidationError):
        client.list_namespaces("x/../y")
    with pytest.raises(ValidationError):
        client.get_namespace(CLUSTER, "Shop")
    with pytest.raises(ValidationError):
        client.list_pods(CLUSTER, "kube_system")
    with pytest.raises(ValidationError):
        client.list_workloads(CLUSTER, "shop-dev", page_size=0)
    assert len(rsps.calls) == 0


def test_dotted_workload_names_are_fine(rsps: responses.RequestsMock, client: RancherClient) -> None:
    rsps.get(f"{APPS}/deployments/web.v2", json={"metadata": {"name": "web.v2"}})
    assert client.get_workload(CLUSTER, "shop-dev", "Deployment", "web.v2").name == "web.v2"
