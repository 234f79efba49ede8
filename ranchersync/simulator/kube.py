"""The Kubernetes API of one cluster, as served behind `/k8s/clusters/<id>`: discovery, reads, writes, watches."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

from . import apierrors
from .apierrors import KubeError
from .cluster import ListQuery, SimCluster
from .kinds import GROUP_VERSIONS, SCALE, SCALE_VERBS, ResourceType, find_type, types_in
from .objects import Obj, strip_type
from .tables import render_table, wants_table
from .web import Request, Response, StreamResponse

# Without timeoutSeconds kube-apiserver ends a watch after --min-request-timeout (1800 s) or a bit more.
_DEFAULT_WATCH_SECONDS = 1800.0


class WatchControl:
    """What the server's watches share: how often they bookmark, and a switch that cuts every open one."""

    def __init__(self, bookmark_seconds: float = 60.0) -> None:
        self.bookmark_seconds = bookmark_seconds
        self._lock = threading.Lock()
        self._generation = 0
        self._open = 0

    def drop_all(self) -> None:
        """Cut every watch open now (as a proxy or load balancer restart would); later watches are unaffected."""
        with self._lock:
            self._generation += 1

    @property
    def open(self) -> int:
        """How many watches are streaming now."""
        with self._lock:
            return self._open

    def opened(self, change: int) -> None:
        """Count a watch starting (+1) or ending (-1)."""
        with self._lock:
            self._open += change

    def dropped_since_now(self) -> Callable[[], bool]:
        """For a watch starting now: a check that turns true once `drop_all` is called."""
        with self._lock:
            start = self._generation
        return lambda: self._generation != start


def version_info(git_version: str) -> Obj:
    """The `/version` document of a kube-apiserver that reports this gitVersion (`v1.30.4+rke2r1`)."""
    numbers = git_version.lstrip("v").split("+")[0].split(".")
    return {"major": numbers[0], "minor": numbers[1] if len(numbers) > 1 else "0", "gitVersion": git_version,
            "gitCommit": "a8e2a8b6e4c0bb2b1b7d5a2e5f0a9c1d3e4f5a6b", "gitTreeState": "clean",
            "buildDate": "2024-08-14T19:10:09Z", "goVersion": "go1.22.5", "compiler": "gc",
            "platform": "linux/amd64"}


def _resource_list(group_version: str) -> Obj:
    resources = []
    for rt in types_in(group_version):
        entry: Obj = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
                      "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        if rt.scalable:
            resources.append({"name": f"{rt.plural}/scale", "singularName": "", "namespaced": True,
                              "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": list(SCALE_VERBS)})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _group_list() -> Obj:
    groups = []
    for group_version in GROUP_VERSIONS:
        if "/" in group_version:
            name = group_version.split("/")[0]
            version = {"groupVersion": group_version, "version": group_version.split("/")[1]}
            groups.append({"name": name, "versions": [version], "preferredVersion": version})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _discovery(parts: list[str]) -> Obj | None:
    if parts == ["api"]:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.43.0.1:443"}]}
    if parts == ["apis"]:
        return _group_list()
    if parts == ["api", "v1"]:
        return _resource_list("v1")
    if len(parts) == 3 and parts[0] == "apis" and f"{parts[1]}/{parts[2]}" in GROUP_VERSIONS:
        return _resource_list(f"{parts[1]}/{parts[2]}")
    if len(parts) == 2 and parts[0] == "apis" and any(gv.startswith(parts[1] + "/") for gv in GROUP_VERSIONS):
        group = next(g for g in _group_list()["groups"] if g["name"] == parts[1])
        return {"kind": "APIGroup", "apiVersion": "v1", **group}
    return None


def _route(parts: list[str]) -> tuple[ResourceType, str | None, str | None, str | None] | None:
    """(resource, namespace, name, subresource) of a resource path such as
    `apis/apps/v1/namespaces/NS/deployments/NAME` or `…/deployments/NAME/scale`."""
    if parts[:2] == ["api", "v1"]:
        group_version, rest = "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    rt = find_type(group_version, rest[0])
    if rt is None or (namespace is not None and not rt.namespaced):
        return None
    subresource = rest[2] if len(rest) == 3 else None
    if subresource is not None and not (subresource == "scale" and rt.scalable and namespace is not None):
        return None
    return rt, namespace, rest[1] if len(rest) >= 2 else None, subresource


def is_collection(parts: list[str]) -> bool:
    """True for a resource collection path (`apis/apps/v1/deployments`, `api/v1/namespaces/NS/pods`)."""
    route = _route(parts)
    return route is not None and route[2] is None


def _watch_stream(cluster: SimCluster, rt: ResourceType, namespace: str | None, request: Request,
                  stopping: threading.Event, control: WatchControl) -> StreamResponse:
    query = ListQuery.from_params(request.params)
    timeout = request.params.get("timeoutSeconds")
    seconds = float(timeout) if timeout and timeout.isdecimal() else _DEFAULT_WATCH_SECONDS
    table = wants_table(request.headers.get("Accept"))
    include = request.params.get("includeObject", "Metadata")
    # watch() checks selectors and the resourceVersion at once, so those errors are plain responses.
    bookmarks = control.bookmark_seconds if request.params.get("allowWatchBookmarks") in ("1", "true") else None
    events = cluster.watch(rt, namespace, query, send_initial=request.params.get("sendInitialEvents") == "true",
                           deadline=time.monotonic() + seconds, stopping=stopping, bookmarks=bookmarks,
                           dropped=control.dropped_since_now())

    def chunks() -> Iterator[bytes]:
        control.opened(+1)
        try:
            yield from encoded()
        finally:
            control.opened(-1)

    def encoded() -> Iterator[bytes]:
        for event in events:
            if table and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                event = {"type": event["type"], "object": render_table(
                    rt, [strip_type(event["object"])], include_object=include,
                    list_meta={"resourceVersion": event["object"]["metadata"]["resourceVersion"]})}
            yield json.dumps(event, separators=(",", ":")).encode() + b"\n"

    return StreamResponse(200, chunks())


def _list_response(rt: ResourceType, items: list[Obj], metadata: Obj, request: Request) -> Response:
    if wants_table(request.headers.get("Accept")):
        include = request.params.get("includeObject", "Metadata")
        return Response.json(200, render_table(rt, [strip_type(i) for i in items], include_object=include,
                                               list_meta=metadata))
    return Response.json(200, {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata,
                               "items": [strip_type(i) for i in items]})


def _object_response(rt: ResourceType, obj: Obj, request: Request) -> Response:
    if wants_table(request.headers.get("Accept")):
        include = request.params.get("includeObject", "Metadata")
        meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
        return Response.json(200, render_table(rt, [strip_type(obj)], include_object=include, list_meta=meta))
    return Response.json(200, obj)


def _serve(cluster: SimCluster, request: Request, parts: list[str],
           stopping: threading.Event, user: str, control: WatchControl) -> Response | StreamResponse:
    if parts == ["version"]:
        return Response.json(200, version_info(cluster.version))
    discovery = _discovery(parts)
    if discovery is not None:
        if request.method != "GET":
            raise apierrors.method_not_allowed(request.method.lower(), None)
        return Response.json(200, discovery)
    route = _route(parts)
    if route is None:
        raise apierrors.path_not_found()
    rt, namespace, name, subresource = route
    dry_run = request.params.get("dryRun") == "All"
    if subresource is not None and namespace is not None and name is not None:
        return _serve_scale(cluster, request, rt, namespace, name, dry_run)
    if name is None:
        if request.method != "GET":
            verb = {"POST": "create", "DELETE": "deletecollection"}.get(request.method, request.method.lower())
            raise apierrors.method_not_allowed(verb, rt)
        watching = request.params.get("watch") in ("1", "true")
        if namespace is None and (rt.namespaced or rt.kind == "Node") and cluster.namespaced_access:
            raise apierrors.forbidden_at_cluster_scope(rt, "watch" if watching else "list", user)
        if watching:
            if "watch" not in rt.verbs:
                raise apierrors.method_not_allowed("watch", rt)
            return _watch_stream(cluster, rt, namespace, request, stopping, control)
        items, metadata = cluster.list_objects(rt, namespace, ListQuery.from_params(request.params))
        return _list_response(rt, items, metadata, request)
    namespace = namespace or ""
    content_type = request.headers.get("Content-Type", "")
    if request.method == "GET" and rt.kind == "Node" and cluster.namespaced_access:
        raise apierrors.forbidden_at_cluster_scope(rt, "get", user)
    if request.method == "GET":
        return _object_response(rt, cluster.get(rt, namespace, name), request)
    if request.method == "PATCH":
        return Response.json(200, cluster.patch(rt, namespace, name, request.body, content_type, dry_run=dry_run))
    if request.method == "PUT":
        return Response.json(200, cluster.replace(rt, namespace, name, request.body, content_type, dry_run=dry_run))
    raise apierrors.method_not_allowed(request.method.lower(), rt)


def _serve_scale(cluster: SimCluster, request: Request, rt: ResourceType, namespace: str, name: str,
                 dry_run: bool) -> Response:
    """GET, PUT or PATCH the `scale` subresource."""
    content_type = request.headers.get("Content-Type", "")
    if request.method == "GET":
        return _object_response(SCALE, cluster.get_scale(rt, namespace, name), request)
    if request.method in ("PUT", "PATCH"):
        return Response.json(200, cluster.update_scale(rt, namespace, name, request.body, content_type,
                                                       patch=request.method == "PATCH", dry_run=dry_run))
    raise apierrors.method_not_allowed(request.method.lower(), rt)


def handle(cluster: SimCluster, request: Request, parts: list[str], stopping: threading.Event,
           user: str = "system:anonymous", control: WatchControl | None = None) -> Response | StreamResponse:
    """Answer a request for `/k8s/clusters/<id>/<parts…>` on behalf of a Rancher user (Rancher impersonates it);
    every failure is a `Status` object."""
    try:
        return _serve(cluster, request, parts, stopping, user, control or WatchControl())
    except KubeError as error:
        return Response.json(error.code, error.status())

