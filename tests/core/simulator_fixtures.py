"""Fixtures and helpers for the simulator tests: a small world, a started server, an HTTP session, kubectl.

Test modules load the fixtures with `pytest_plugins` and import the helpers directly; PYTEST_DONT_REWRITE keeps
pytest from warning that a plugin module was imported before it could rewrite its asserts (it has none).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ranchersync.simulator import SimulatedRancher, World, parse_world
from tests.conftest import require

CLUSTER = "c-m-t3st8x2q"
OTHER_CLUSTER = "c-7xk2p"
NS = "team-a"
DIGEST = "sha256:" + "ab" * 32


def deployment(name: str, image: str = "nginx:1.27.1", replicas: int = 2, **spec: Any) -> dict[str, Any]:
    """A minimal Deployment as a world file may hold it."""
    return {"kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "app", "image": image}]}},
                     **spec}}


def small_world() -> World:
    """One cluster with every workload kind, multi-container and init containers, and enough deployments to page."""
    web = deployment("web", replicas=3)
    web["spec"]["template"]["spec"] = {
        "initContainers": [{"name": "migrate", "image": "registry.example.com:5000/team/web:1.4.2"}],
        "containers": [
            {"name": "app", "image": "registry.example.com:5000/team/web:1.4.2",
             "env": [{"name": "MODE", "value": "prod"}], "ports": [{"containerPort": 8080}]},
            {"name": "sidecar", "image": f"ghcr.io/acme/proxy@{DIGEST}"},
        ],
    }
    objects = [
        web,
        *(deployment(f"svc-{i}") for i in range(5)),
        deployment("paused", paused=True),
        deployment("idle", replicas=0),
        {"kind": "StatefulSet", "metadata": {"name": "db", "namespace": NS},
         "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "db", "image": "postgres:16.4"}]}}}},
        {"kind": "DaemonSet", "metadata": {"name": "agent", "namespace": NS},
         "spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "fluent/fluent-bit:3.1.6"}]}}}},
        {"kind": "CronJob", "metadata": {"name": "report", "namespace": NS},
         "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": {
             "containers": [{"name": "report", "image": "busybox:1.36"}]}}}}}},
        {"kind": "Deployment", "metadata": {"name": "api", "namespace": "team-b"},
         "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "ghcr.io/acme/sim_api:2.0.0"}]}}}},
        {"kind": "Secret", "metadata": {"name": "pull", "namespace": NS}, "type": "kubernetes.io/dockerconfigjson",
         "data": {".dockerconfigjson": "eyJhdXRocyI6e319"}},  # {"auths":{}}
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder", "namespace": NS},
         "imagePullSecrets": [{"name": "pull"}]},
    ]
    return parse_world({"name": "test", "clusters": [
        {"id": CLUSTER, "name": "test-east", "version": "v1.31.4+rke2r1", "architecture": ["amd64", "arm64"],
         "objects": objects},
        {"id": OTHER_CLUSTER, "name": "imported", "provider": "k3s", "objects": [deployment("web")]},
    ]})


@pytest.fixture
def sim() -> Iterator[SimulatedRancher]:
    """A started plain-HTTP simulator on the small world; fast rollouts; `:bad-` images never start."""
    with SimulatedRancher(small_world(), rollout_seconds=0.6, fail_images=r":bad-") as sim:
        yield sim


@pytest.fixture
def tls_sim() -> Iterator[SimulatedRancher]:
    """The same over HTTPS with a generated CA (kubectl sends tokens only over TLS)."""
    with SimulatedRancher(small_world(), rollout_seconds=0.6, fail_images=r":bad-", tls=True) as sim:
        yield sim


class Api:
    """A requests session for one simulator: token, TLS verification on every call, URL prefixes."""

    def __init__(self, sim: SimulatedRancher, token: str | None = None) -> None:
        self.sim = sim
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token or sim.token}"
        # verify= on every call: REQUESTS_CA_BUNDLE in the environment would override a session-wide setting.
        self.verify: str | bool = str(sim.ca_file) if sim.ca_file else True

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request to a path of the simulator."""
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.sim.url + path, verify=self.verify, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET a path."""
        return self.request("GET", path, **kwargs)

    def patch(self, path: str, body: Any, content_type: str = "application/strategic-merge-patch+json",
              **kwargs: Any) -> requests.Response:
        """PATCH a JSON body with the given media type."""
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
        return self.request("PATCH", path, data=data, headers=headers, **kwargs)

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()


@pytest.fixture
def sim_api(sim: SimulatedRancher) -> Iterator[Api]:
    """An authenticated session on the plain-HTTP simulator."""
    client = Api(sim)
    yield client
    client.close()


def k8s(path: str, cluster: str = CLUSTER) -> str:
    """A path of one cluster's Kubernetes API behind Rancher."""
    return f"/k8s/clusters/{cluster}{path}"


def deploy_path(name: str = "web", namespace: str = NS) -> str:
    """The path of one Deployment."""
    return k8s(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")


@pytest.fixture
def kubectl_command(tls_sim: SimulatedRancher, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The kubectl command line (without its arguments) and environment for the TLS simulator's test cluster."""
    binary = shutil.which("kubectl")
    require("kubectl", binary is not None, "kubectl is not installed")
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "kubeconfig")}
    base = [str(binary), "--server", tls_sim.kube_url(CLUSTER), "--token", tls_sim.token,
            "--certificate-authority", str(tls_sim.ca_file), "--cache-dir", str(tmp_path / "cache")]
    return base, env


@pytest.fixture
def sim_kubectl(kubectl_command: tuple[list[str], dict[str, str]]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real kubectl against the TLS simulator's test cluster; returns the finished process."""
    base, env = kubectl_command

    def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)

    return run
