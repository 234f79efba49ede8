"""``RancherClient``: the operations the rest of the project needs, on top of the one HTTP funnel.

Reads and writes go through Rancher's Kubernetes proxy (``/k8s/clusters/<id>/...``), which has plain, version-stable
Kubernetes semantics; cluster, user and token facts come from Norman (``/v3``). See rancher-api.md §0.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, TypeVar

from ranchersync.kernel.errors import (
    ConflictError,
    MalformedResponse,
    RancherAPIError,
    RancherAuthError,
    RancherNotFound,
    ValidationError,
)
from ranchersync.rancher import paging, paths
from ranchersync.rancher.patch import STRATEGIC_MERGE, ImageChange, image_patch
from ranchersync.rancher.paths import WORKLOAD_KINDS, WorkloadKind
from ranchersync.rancher.transport import Transport, TransportSettings
from ranchersync.rancher.types import (
    TOKEN_WARNING_DAYS,
    Cluster,
    ConnectionInfo,
    Namespace,
    Node,
    ServiceAccount,
    TokenInfo,
    UserInfo,
)
from ranchersync.rancher.workloads import Pod, Workload
from ranchersync.security.cabundle import ca_bundle_file

log = logging.getLogger(__name__)

T = TypeVar("T")
# A watch asks the server to end it after this long (then it is resumed): a buffering proxy cannot hold it silent
# for longer, and each stream's connection is renewed.
WATCH_SECONDS: Final = 240
EXPIRY_WARNING: Final = timedelta(days=TOKEN_WARNING_DAYS)  # the sites screen's warning starts then too


class RancherClient:
    """A client for one Rancher server and one API token; use it as a context manager or call ``close()``."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        ca_bundle: str | None = None,
        insecure: bool = False,
        timeout: tuple[float, float] = (3.05, 30),
        retries: int = 6,
        backoff: float = 0.25,
        pool_size: int = 10,
    ) -> None:
        """Args: ``ca_bundle`` is PEM text (not a path); ``insecure`` skips TLS verification and excludes it;
        ``retries`` bounds the extra tries of a read (within the request's 60 s deadline; 0.25 s backoff doubling,
        jittered: a flaky Rancher answering one request in five with a 500 costs a read ~0.05 s on average)."""
        if ca_bundle and ca_bundle.strip() and insecure:
            raise ValidationError("Choose either a CA bundle or skipping TLS verification, not both.")
        verify: str | bool = ca_bundle_file(ca_bundle) if ca_bundle and ca_bundle.strip() else not insecure
        self._http = Transport(url, token, verify=verify, settings=TransportSettings(
            timeout=timeout, retries=retries, backoff=backoff, pool_size=pool_size))

    @property
    def url(self) -> str:
        """The normalised Rancher base URL."""
        return self._http.base_url

    def __repr__(self) -> str:
        return f"RancherClient(url={self.url!r})"

    def __enter__(self) -> RancherClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the pooled connections."""
        self._http.close()

    def abort_watches(self) -> None:
        """End every watch this client has open now (from another thread): each raises RancherUnavailable."""
        self._http.abort_streams()

    # ---- connection ------------------------------------------------------------------------------------------

    def test_connection(self, cluster_id: str | None = None) -> ConnectionInfo:
        """Check the URL, TLS and token; learn the user, the token's expiry, the version and the clusters.

        A cluster-scoped token gets 401 on ``/v3``; with ``cluster_id`` the test then probes that cluster's
        Kubernetes API instead (rancher-api.md §1.5).

        Raises:
            RancherAuthError: the token was refused (the message explains the cluster-scoped case).
            RancherUnavailable: Rancher could not be reached, or its certificate is not trusted.
            MalformedResponse: the URL answers, but not like Rancher.
        """
        started = time.perf_counter()
        try:
            root = self._http.request("GET", "/v3")
        except RancherAuthError as exc:
            if exc.status != 401:
                raise
            return self._test_scoped(cluster_id, exc)
        latency = (time.perf_counter() - started) * 1000
        if not isinstance(root, dict) or not ("links" in root or root.get("type") in ("apiRoot", "collection")):
            raise MalformedResponse(
                f"{self.url}/v3 answered JSON that is not Rancher's API root: is this the Rancher server?",
                status=200,
                url=f"{self.url}/v3",
            )
        notes: list[str] = []
        user = self._current_user(notes)
        token = self._token_info(notes)
        version = self._server_version()
        clusters = tuple(self.list_clusters())
        return ConnectionInfo(
            url=self.url,
            latency_ms=round(latency, 1),
            user=user,
            rancher_version=version,
            token=token,
            cluster_scoped=False,
            clusters=clusters,
            warnings=tuple(notes),
        )

    def _test_scoped(self, cluster_id: str | None, refused: RancherAuthError) -> ConnectionInfo:
        if not cluster_id:
            raise RancherAuthError(
                "Rancher refused the API token (HTTP 401 on GET /v3). Either the token is wrong, expired or "
                "disabled, or it is scoped to one cluster: a cluster-scoped token cannot list clusters, so give "
                "that cluster's id to test it.",
                status=401,
                url=refused.url,
            )
        started = time.perf_counter()
        try:
            version = self._http.request("GET", paths.version_path(cluster_id))
        except RancherAuthError as exc:
            if exc.status != 401:
                raise
            raise RancherAuthError(
                f"Rancher refused the API token on /v3 and on cluster {cluster_id} (HTTP 401): it is wrong, "
                "expired or disabled, or it is scoped to another cluster.",
                status=401,
                url=exc.url,
            ) from None
        latency = (time.perf_counter() - started) * 1000
        try:
            cluster = self.get_cluster(cluster_id)
        except (RancherAuthError, RancherNotFound, MalformedResponse):
            cluster = Cluster(id=cluster_id, name=cluster_id)  # the probe worked; the display name is a nicety
        git_version = version.get("gitVersion") if isinstance(version, dict) else None
        return ConnectionInfo(
            url=self.url,
            latency_ms=round(latency, 1),
            cluster_scoped=True,
            clusters=(cluster,),
            kubernetes_version=git_version if isinstance(git_version, str) else None,
            warnings=(
                f"This token is scoped to cluster {cluster_id}: it works only there, and it cannot list clusters "
                "or read its own expiry.",
            ),
        )

    def _current_user(self, notes: list[str]) -> UserInfo | None:
        body = self._http.request("GET", "/v3/users", params={"me": "true"})
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return UserInfo.from_norman(data[0])
        notes.append("Rancher did not say which user owns this token.")
        return None

    def _token_info(self, notes: list[str]) -> TokenInfo | None:
        try:
            body = self._http.request("GET", paths.token_path(self._http.token_name))
        except ValidationError:
            notes.append("The token's name is unusual, so its expiry could not be read.")
            return None
        except (RancherAuthError, RancherNotFound) as exc:
            # Token hashing, a missing permission or an older Rancher: the token works, its expiry is just unknown.
            notes.append(f"The token's expiry could not be read (HTTP {exc.status}).")
            return None
        if not isinstance(body, dict):
            notes.append("The token's expiry could not be read (unexpected answer).")
            return None
        token = TokenInfo.from_norman(body)
        if token.expires_at is not None and token.expires_at - datetime.now(UTC) < EXPIRY_WARNING:
            notes.append(f"The token expires on {token.expires_at:%Y-%m-%d %H:%M} UTC.")
        return token

    def _server_version(self) -> str | None:
        try:
            body = self._http.request("GET", "/v3/settings/server-version")
        except (RancherAuthError, RancherNotFound, MalformedResponse):
            return None
        value = body.get("value") if isinstance(body, dict) else None
        return value if isinstance(value, str) and value else None

    # ---- clusters and namespaces -----------------------------------------------------------------------------

    def list_clusters(self) -> list[Cluster]:
        """The clusters the token's user can see (Norman ``/v3/clusters``, following ``pagination.next``)."""
        return [self._parse(Cluster.from_norman, item, "/v3/clusters") for item in self._norman_items("/v3/clusters")]

    def get_cluster(self, cluster_id: str) -> Cluster:
        """One cluster (also works with a token scoped to that cluster)."""
        path = paths.norman_cluster_path(cluster_id)
        return self._parse(Cluster.from_norman, self._http.request("GET", path), path)

    def list_namespaces(self, cluster_id: str) -> list[Namespace]:
        """The namespaces of a cluster, with their Rancher project."""
        path = paths.namespaces_path(cluster_id)
        return [self._parse(Namespace.from_k8s, item, path) for item in self._k8s_items(path, 500)]

    def get_namespace(self, cluster_id: str, name: str) -> Namespace:
        """One namespace; raises RancherNotFound when it does not exist."""
        path = paths.namespaces_path(cluster_id, name)
        return self._parse(Namespace.from_k8s, self._http.request("GET", path), path)

    def list_nodes(self, cluster_id: str) -> list[Node]:
        """The nodes of a cluster with their platform (``status.nodeInfo``); a 403 says the token's user may not
        read nodes (roles bound in namespaces only)."""
        path = paths.nodes_path(cluster_id)
        return [self._parse(Node.from_k8s, item, path) for item in self._k8s_items(path, 500)]

    def get_secret(self, cluster_id: str, namespace: str, name: str) -> tuple[str, dict[str, str]]:
        """A secret's type and its data (base64 values, as the API gives them). The caller holds the values only as
        long as it needs them: never logged, stored or returned in a payload."""
        path = paths.secret_path(cluster_id, namespace, name)
        body = self._http.request("GET", path)
        if not isinstance(body, Mapping) or not isinstance(body.get("data", {}), Mapping):
            raise MalformedResponse(f"Unexpected answer for {path}: not a Secret.", status=200, url=self.url + path)
        data = {str(k): v for k, v in (body.get("data") or {}).items() if isinstance(v, str)}
        return str(body.get("type") or "Opaque"), data

    def get_service_account(self, cluster_id: str, namespace: str, name: str) -> ServiceAccount:
        """One ServiceAccount (its pull-secret names); raises RancherNotFound when it does not exist, RancherAuthError
        when the token's user may not read it."""
        path = paths.service_account_path(cluster_id, namespace, name)
        return self._parse(ServiceAccount.from_k8s, self._http.request("GET", path), path)

    # ---- workloads and pods ----------------------------------------------------------------------------------

    def list_workloads(
        self,
        cluster_id: str,
        namespace: str,
        kinds: Iterable[str] = WORKLOAD_KINDS,
        page_size: int = 500,
    ) -> list[Workload]:
        """The workloads of a namespace, kind by kind in the order given, each kind in the server's (name) order."""
        if not 1 <= page_size <= 10_000:
            raise ValidationError("page_size must be between 1 and 10000.")
        result: list[Workload] = []
        for kind in dict.fromkeys(paths.normalize_kind(k) for k in kinds):
            path = paths.workloads_path(cluster_id, namespace, kind)
            result.extend(self._parse(_workload_of(kind), item, path) for item in self._k8s_items(path, page_size))
        return result

    def list_cluster_workloads(self, cluster_id: str, kind: str, page_size: int = 500) -> list[Workload]:
        """Every workload of one kind in the whole cluster, paged; one list instead of one per namespace.

        Raises:
            RancherAuthError: status 403 when the token's user may list only inside namespaces (its roles are
                bound there): list namespace by namespace instead.
        """
        if not 1 <= page_size <= 10_000:
            raise ValidationError("page_size must be between 1 and 10000.")
        kind_name = paths.normalize_kind(kind)
        path = paths.cluster_workloads_path(cluster_id, kind_name)
        return [self._parse(_workload_of(kind_name), item, path) for item in self._k8s_items(path, page_size)]

    def get_workload(self, cluster_id: str, namespace: str, kind: str, name: str) -> Workload:
        """One workload; raises RancherNotFound when it does not exist."""
        kind_name = paths.normalize_kind(kind)
        path = paths.workloads_path(cluster_id, namespace, kind_name, name)
        return self._parse(_workload_of(kind_name), self._http.request("GET", path), path)

    def list_pods(self, cluster_id: str, namespace: str | None, label_selector: str | None = None) -> list[Pod]:
        """The pods of a namespace (of the whole cluster with ``None``: a 403 says the token may not), optionally
        filtered (e.g. ``Workload.selector_string()``)."""
        path = paths.pods_path(cluster_id, namespace) if namespace is not None else paths.cluster_pods_path(cluster_id)
        extra = {"labelSelector": label_selector} if label_selector else {}
        return [self._parse(Pod.from_k8s, item, path) for item in self._k8s_items(path, 500, extra)]

    def query_monitoring(self, cluster_id: str, promql: str) -> Any:
        """An instant PromQL query to the cluster's rancher-monitoring Prometheus with this site's token: its
        answer's JSON as it came (``{"status": "success", "data": ...}``)."""
        return self._http.request("GET", paths.monitoring_query_path(cluster_id), params={"query": promql})

    # ---- watches (the live inventory's collector) ------------------------------------------------------------

    def list_for_watch(self, cluster_id: str, kind: str) -> tuple[list[dict[str, Any]], str]:
        """Every object of a kind (a workload kind or ``Pod``) in the whole cluster, as JSON, and the list's
        resourceVersion: where a watch of the same collection starts."""
        return paging.k8s_list(self._http, self.url, _collection_path(cluster_id, kind), 500)

    def watch(self, cluster_id: str, kind: str, resource_version: str, *,
              timeout_seconds: int = WATCH_SECONDS) -> Iterator[dict[str, Any]]:
        """The events of a cluster-wide watch from a resourceVersion (``ADDED``, ``MODIFIED``, ``DELETED`` and
        ``BOOKMARK``, each ``{"type", "object"}``) until the server ends it after ``timeout_seconds``.

        Raises:
            RancherAPIError: status 410 when the resourceVersion is too old (compacted): list again, then watch.
        """
        path = _collection_path(cluster_id, kind)
        params: dict[str, str | int] = {"watch": "1", "allowWatchBookmarks": "true",
                                        "resourceVersion": resource_version, "timeoutSeconds": timeout_seconds}
        # Bookmarks arrive about every minute: much longer silence is a stalled stream (a buffering proxy).
        for event in self._http.stream_lines(path, params, idle_timeout=timeout_seconds + 30):
            if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
                raise MalformedResponse(f"Unexpected watch event on {path}.", status=200, url=self.url + path)
            if event.get("type") == "ERROR":
                status = event["object"].get("code")
                message = str(event["object"].get("message") or "the watch ended with an error")
                raise RancherAPIError(f"Watch of {path}: {message}", status=status if isinstance(status, int)
                                      else None, url=self.url + path)
            yield event

    def patch_images(
        self,
        cluster_id: str,
        namespace: str,
        kind: str,
        name: str,
        change: ImageChange,
        *,
        resource_version: str | None,
    ) -> Workload:
        """Set container images with a conditional strategic-merge PATCH and return the patched workload.

        The workload is read first: a container name it does not have would otherwise be *added* by the merge,
        and a ``resource_version`` that no longer matches fails fast. The PATCH carries the resourceVersion
        (the given one, or the one just read), so a change in between answers 409. A PATCH is never retried here:
        a caller whose answer was lost reads the workload back first (``ranchersync.sync.execute``).
        ``annotations`` go on the workload's metadata, ``template_annotations`` on the pod template
        (which starts a rollout even when no image changes).

        Raises:
            ConflictError: the workload changed since ``resource_version`` was read: re-read and re-plan.
            ValidationError: a bad name, image or container name; nothing was sent.
            RancherNotFound: the workload does not exist.
        """
        kind_name = paths.normalize_kind(kind)
        path = paths.workloads_path(cluster_id, namespace, kind_name, name)
        # Build once before any request, so bad input is refused without touching the server.
        image_patch(kind_name, change, resource_version=resource_version)
        current = self.get_workload(cluster_id, namespace, kind_name, name)
        if resource_version and current.resource_version != resource_version:
            raise ConflictError(
                f"{kind_name} {namespace}/{name} changed since it was read (resourceVersion {resource_version}, "
                f"now {current.resource_version}): re-read it and plan again.",
                url=self.url + path,
            )
        _check_container_names(current, change.containers, change.init_containers)
        body = image_patch(kind_name, change, resource_version=resource_version or current.resource_version)
        log.info("Patching %s %s/%s in cluster %s", kind_name, namespace, name, cluster_id)
        answer = self._http.request("PATCH", path, json_body=body, content_type=STRATEGIC_MERGE)
        return self._parse(_workload_of(kind_name), answer, path)

    # ---- paging (ranchersync/rancher/paging.py) and parsing ----------------------------------------------------

    def _norman_items(self, path: str) -> list[dict[str, Any]]:
        return paging.norman_items(self._http, self.url, path)

    def _k8s_items(self, path: str, page_size: int, extra: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        return paging.k8s_items(self._http, self.url, path, page_size, extra)

    def _parse(self, parse: Callable[[Any], T], body: Any, path: str) -> T:
        if not isinstance(body, Mapping):
            raise MalformedResponse(
                f"Unexpected answer for {path}: not a JSON object.", status=200, url=self.url + path
            )
        try:
            return parse(body)
        except ValidationError as exc:  # e.g. an object of a kind we do not know
            raise MalformedResponse(f"Unexpected answer for {path}: {exc}", status=200, url=self.url + path) from None
        except ValueError as exc:
            raise MalformedResponse(f"Unexpected answer for {path}: {exc}.", status=200, url=self.url + path) from None


def _collection_path(cluster_id: str, kind: str) -> str:
    return paths.cluster_pods_path(cluster_id) if kind == "Pod" else paths.cluster_workloads_path(cluster_id, kind)


def _workload_of(kind: WorkloadKind) -> Callable[[Any], Workload]:
    return lambda obj: Workload.from_k8s(obj, kind)


def _check_container_names(w: Workload, containers: Mapping[str, str], init_containers: Mapping[str, str]) -> None:
    for wanted, have, label in (
        (containers, w.images, "container"),
        (init_containers, w.init_images, "init container"),
    ):
        missing = sorted(set(wanted) - set(have))
        if missing:
            known = ", ".join(sorted(have)) or "none"
            raise ValidationError(
                f"{w.kind} {w.namespace}/{w.name} has no {label} named {', '.join(missing)} (it has: {known}); "
                "nothing was changed."
            )
