"""A stand-in for RancherClient in AppTest runs: a small world, and a switch to fail like the real client does.

The failures carry the real client's typed errors, made by the real classifier (`rancher/failures.py`) where the
client would make them, so the pages' titles and hints are tested on what users will really see. The real HTTP
path is covered by the simulator (core and e2e tests).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import requests
from streamlit.testing.v1 import AppTest
from urllib3.exceptions import NewConnectionError

from ranchersync.kernel.errors import MalformedResponse, RancherAPIError, RancherAuthError, RancherNotFound
from ranchersync.rancher import Cluster, ConnectionInfo, Namespace, TokenInfo, UserInfo, Workload, failures


def _answered(status: int, body: str, content_type: str) -> RancherAPIError:
    """The error the real transport makes of this answer to GET /v3."""
    resp = requests.Response()
    resp.status_code, resp._content = status, body.encode()
    resp.headers["Content-Type"] = content_type
    return failures.from_response(resp, "GET", "/v3", "https://rancher.example.com/v3")


GOOD_TOKEN = "token-abcde:s3cr3tvalue0123456789abcdefghijklmnopqrstuvwxyz0123"

FAILURES: dict[str, RancherAPIError] = {
    "wrong token": RancherAuthError(
        "Rancher refused the API token (HTTP 401 on GET /v3). Either the token is wrong, expired or disabled, or it "
        "is scoped to one cluster: a cluster-scoped token cannot list clusters, so give that cluster's id to test it.",
        status=401,
    ),
    "unreachable": failures.from_exception(
        requests.exceptions.ConnectionError(
            NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
        ),
        "GET", "/v3", "https://rancher.example.com/v3", "rancher.example.com",
    ),
    "tls": failures.from_exception(
        requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get "
                                     "local issuer certificate"),
        "GET", "/v3", "https://rancher.example.com/v3", "rancher.example.com",
    ),
    "rancher down": _answered(
        503, "<html><head><title>503 Service Temporarily Unavailable</title></head><body></body></html>", "text/html"
    ),
    "not rancher": MalformedResponse(
        "Rancher answered an HTML page (Sign in) instead of JSON (HTTP 200 on GET /v3). Is the URL the Rancher "
        "server itself, without a proxy or login page in the way?"
    ),
}
TITLES = {
    "wrong token": "Rancher refused the token",
    "unreachable": "Rancher cannot be reached",
    "tls": "The TLS certificate is not trusted",
    "rancher down": "Rancher or the cluster is unavailable",
    "not rancher": "This address does not answer like Rancher",
}


@dataclass
class FakeRancher:
    """The world the fake clients see, shared by all of them; set `failure` to make every call fail."""

    clusters: list[Cluster] = field(
        default_factory=lambda: [
            Cluster("c-m-dev01", "dev-east", "active"),
            Cluster("c-m-prd01", "prod-east", "active"),
        ]
    )
    namespaces: dict[str, list[str]] = field(
        default_factory=lambda: {"c-m-dev01": ["shop-dev", "shop-qa"], "c-m-prd01": ["shop-prod"]}
    )
    token: str = GOOD_TOKEN
    expires_at: dt.datetime | None = None
    failure: str | None = None
    # Workloads by (cluster id, namespace); a namespace in `broken` fails with that error (one unreadable instance).
    workloads: dict[tuple[str, str], list[Workload]] = field(default_factory=dict)
    broken: dict[tuple[str, str], RancherAPIError] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, url)
    seen_tokens: list[str] = field(default_factory=list)

    def factory(
        self, url: str, token: str, *, ca_bundle: str | None = None, insecure: bool = False, **_options: Any
    ) -> FakeClient:
        """What `ui.shell.deps.client_factory()` returns in tests (client options such as retries are ignored)."""
        self.seen_tokens.append(token)
        return FakeClient(self, url, token)


class FakeClient:
    """Duck-typed RancherClient over a FakeRancher."""

    def __init__(self, world: FakeRancher, url: str, token: str) -> None:
        self.world, self.url, self._token = world, url, token

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def _check(self, method: str) -> None:
        self.world.calls.append((method, self.url))
        if self.world.failure:
            raise FAILURES[self.world.failure]
        if self._token != self.world.token:
            raise FAILURES["wrong token"]

    def test_connection(self, cluster_id: str | None = None) -> ConnectionInfo:
        self._check("test_connection")
        return ConnectionInfo(
            url=self.url,
            latency_ms=12.4,
            user=UserInfo(id="u-abcde", username="admin", name="Default Admin"),
            token=TokenInfo(name=self._token.split(":")[0], expires_at=self.world.expires_at),
            clusters=tuple(self.world.clusters),
        )

    def list_clusters(self) -> list[Cluster]:
        self._check("list_clusters")
        return list(self.world.clusters)

    def list_namespaces(self, cluster_id: str) -> list[Namespace]:
        self._check("list_namespaces")
        return [Namespace(name) for name in self.world.namespaces.get(cluster_id, [])]

    def get_namespace(self, cluster_id: str, name: str) -> Namespace:
        self._check("get_namespace")
        if name not in self.world.namespaces.get(cluster_id, []):
            raise RancherNotFound(f"Not found (HTTP 404 on GET /k8s/clusters/{cluster_id}/api/v1/namespaces/{name})")
        return Namespace(name)

    def list_workloads(self, cluster_id: str, namespace: str, kinds: Any = (), **_options: Any) -> list[Workload]:
        self._check("list_workloads")
        if (cluster_id, namespace) in self.world.broken:
            raise self.world.broken[(cluster_id, namespace)]
        wanted = set(kinds)
        return [w for w in self.world.workloads.get((cluster_id, namespace), []) if not wanted or w.kind in wanted]

    def list_cluster_workloads(self, cluster_id: str, kind: str, **_options: Any) -> list[Workload]:
        # The fake's token holds namespace roles only: the inventory falls back to one list per namespace.
        self._check("list_cluster_workloads")
        raise RancherAuthError(f"Permission denied (HTTP 403 on GET /k8s/clusters/{cluster_id}/apis/apps/v1/"
                               f"{kind.lower()}s)", status=403)

    def list_pods(self, cluster_id: str, namespace: str | None, **_options: Any) -> list[Any]:
        self._check("list_pods")
        if namespace is None:
            raise RancherAuthError(f"Permission denied (HTTP 403 on GET /k8s/clusters/{cluster_id}/api/v1/pods)",
                                   status=403)
        return []

    def list_nodes(self, cluster_id: str) -> list[Any]:
        """Every fake cluster runs on linux/amd64 nodes (the registry preflight reads them)."""
        from ranchersync.rancher import Node

        self._check("list_nodes")
        return [Node(f"{cluster_id}-node-1", "linux", "amd64")]

    def close(self) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the fake Rancher client has no {name}")


def shown(markdown: str) -> str:
    """What a reader sees of Markdown whose text was escaped: each backslash escape gives its character, and the
    word joiners that keep bare URLs from becoming links are invisible."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def field_errors(at: AppTest) -> list[str]:
    """The errors shown under the fields of a form (widgets.FieldSlots), in page order, as a reader sees them."""
    marker = ":red[:material/error: "
    return [shown(m.value.removeprefix(marker).removesuffix("]")) for m in at.markdown if m.value.startswith(marker)]
