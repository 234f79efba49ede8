"""The Norman `/v3` API: API root, users, principals, tokens, clusters and settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .apierrors import norman_error
from .auth import TokenRecord, TokenRegistry
from .cluster import SimCluster
from .kube import version_info
from .objects import Obj, parse_rfc3339, rfc3339, stable_uid
from .web import Request, Response


@dataclass(frozen=True)
class User:
    """A Rancher user (the simulator serves one: the admin every token belongs to)."""

    id: str
    username: str
    name: str


@dataclass(frozen=True)
class RancherInfo:
    """What the `/v3` handlers read from the server."""

    version: str
    clusters: Mapping[str, SimCluster]
    tokens: TokenRegistry
    users: Mapping[str, User]
    ca_pem: str


def _milliseconds(moment: str) -> int:
    return int(parse_rfc3339(moment).timestamp() * 1000)


def _collection(base: str, resource: str, data: Sequence[Obj], *, filters: Mapping[str, Any],
                actions: Mapping[str, str] | None = None) -> Obj:
    """A Norman collection envelope (rancher/norman api/writer/json.go)."""
    url = f"{base}/v3/{resource}s"
    return {
        "type": "collection",
        "links": {"self": url},
        "createTypes": {resource: url},
        "actions": dict(actions or {}),
        "pagination": {"limit": 1000, "total": len(data)},
        "sort": {"order": "asc", "reverse": f"{url}?order=desc",
                 "links": {"name": f"{url}?sort=name", "state": f"{url}?sort=state", "uuid": f"{url}?sort=uuid"}},
        "filters": dict(filters),
        "resourceType": resource,
        "data": list(data),
    }


def _api_root(base: str) -> Obj:
    links = {name: f"{base}/v3/{name}" for name in (
        "authConfigs", "clusters", "globalRoles", "nodes", "principals", "projects", "settings", "tokens", "users")}
    return {
        "apiVersion": {"group": "management.cattle.io", "path": "/v3", "version": "v3"},
        "baseType": "apiRoot",
        "links": {"root": f"{base}/v3", "self": f"{base}/v3", **links},
        "type": "apiRoot",
    }


def _cluster(base: str, cluster: SimCluster) -> Obj:
    url = f"{base}/v3/clusters/{cluster.id}"
    active = cluster.state == "active"
    created = rfc3339(cluster.created)
    return {
        "actions": {name: f"{url}?action={name}" for name in ("generateKubeconfig", "importYaml", "exportYaml")},
        "annotations": {},
        "apiEndpoint": f"https://10.0.0.{len(cluster.id) + 10}:6443",
        "baseType": "cluster",
        "conditions": [
            {"status": "True", "type": "Ready"},
            {"status": "True" if active else "False", "type": "Connected"},
            {"status": "True", "type": "Provisioned"},
        ],
        "created": created,
        "createdTS": _milliseconds(created),
        "description": "",
        "driver": cluster.driver,
        "id": cluster.id,
        "internal": cluster.id == "local",
        "labels": {"provider.cattle.io": cluster.provider},
        "links": {"self": url, "namespaces": f"{url}/namespaces", "nodes": f"{base}/v3/nodes?clusterId={cluster.id}",
                  "projects": f"{base}/v3/projects?clusterId={cluster.id}", "update": url, "remove": url},
        "name": cluster.name,
        "nodeCount": len(cluster.nodes),
        "provider": cluster.provider,
        "state": "active" if active else "unavailable",
        "transitioning": "no" if active else "error",
        "transitioningMessage": "" if active else "Cluster agent is not connected",
        "type": "cluster",
        "uuid": stable_uid("cluster", cluster.id),
        "version": version_info(cluster.version),
    }


def _user(base: str, user: User, me: bool) -> Obj:
    url = f"{base}/v3/users/{user.id}"
    return {"actions": {"setpassword": f"{url}?action=setpassword"}, "baseType": "user", "enabled": True,
            "id": user.id, "links": {"self": url, "update": url, "remove": url}, "me": me,
            "mustChangePassword": False, "name": user.name, "principalIds": [f"local://{user.id}"],
            "state": "active", "transitioning": "no", "transitioningMessage": "", "type": "user",
            "username": user.username, "uuid": stable_uid("user", user.id)}


def _token(base: str, token: TokenRecord, caller: TokenRecord) -> Obj:
    url = f"{base}/v3/tokens/{token.name}"
    created = rfc3339(token.created)
    return {
        "authProvider": "local",
        "baseType": "token",
        "clusterId": token.cluster_id,
        "created": created,
        "createdTS": _milliseconds(created),
        # Rancher: only a non-derived token used for this very request is "current"; API keys are derived.
        "current": token.name == caller.name and not caller.derived,
        "description": token.description,
        "enabled": token.enabled,
        "expired": token.expired,
        "expiresAt": rfc3339(token.expires_at) if token.expires_at else "",
        "id": token.name,
        "isDerived": token.derived,
        "lastUpdateTime": "",
        "links": {"self": url, "remove": url},
        "name": token.name,
        "ttl": token.ttl_ms,
        "type": "token",
        "userId": token.user_id,
        "userPrincipal": f"local://{token.user_id}",
        "uuid": stable_uid("token", token.name),
    }


def cacerts_setting(base: str, ca_pem: str) -> Obj:
    """The `cacerts` setting: the CA PEM, or "" when the certificate is publicly trusted (or there is no TLS)."""
    return _setting(base, "cacerts", ca_pem)


def _setting(base: str, name: str, value: str) -> Obj:
    url = f"{base}/v3/settings/{name}"
    return {"baseType": "setting", "customized": False, "default": "", "id": name,
            "links": {"self": url, "update": url, "remove": url}, "name": name, "source": "", "type": "setting",
            "value": value}


def _not_found(message: str = "not found") -> Response:
    return Response.json(404, norman_error(404, "NotFound", message))


def handle(request: Request, token: TokenRecord, info: RancherInfo) -> Response:
    """Answer an authenticated `/v3…` request."""
    base = request.base_url
    parts = [p for p in request.path.split("/") if p][1:]  # drop "v3"
    if request.method != "GET":
        # Norman's code for 405 really is spelt "MethodNotAllow" (norman httperror/error.go).
        return Response.json(405, norman_error(405, "MethodNotAllow", f"Method {request.method} not supported"))
    user = info.users[token.user_id]
    if not parts:
        return Response.json(200, _api_root(base))
    resource, rest = parts[0], parts[1:]
    if resource == "clusters":
        if not rest:
            clusters = [_cluster(base, c) for c in info.clusters.values()]
            return Response.json(200, _collection(base, "cluster", clusters, filters={"name": None, "state": None},
                                                  actions={"createFromTemplate": f"{base}/v3/clusters?action="
                                                                                 "createFromTemplate"}))
        cluster = info.clusters.get(rest[0])
        if cluster is None or len(rest) > 1:
            return _not_found(f'clusters.management.cattle.io "{rest[0]}" not found')
        return Response.json(200, _cluster(base, cluster))
    if resource == "users":
        me = request.params.get("me") == "true"
        users = [u for u in info.users.values() if not me or u.id == user.id]
        if rest:
            other = info.users.get(rest[0])
            return Response.json(200, _user(base, other, other.id == user.id)) if other else _not_found()
        filters: dict[str, Any] = {"id": None, "me": None, "name": None, "principalIds": None, "username": None}
        if me:
            filters["me"] = [{"modifier": "eq", "value": "true"}]
        data = [_user(base, u, u.id == user.id) for u in users]
        return Response.json(200, _collection(base, "user", data, filters=filters,
                                              actions={"changepassword": f"{base}/v3/users?action=changepassword"}))
    if resource == "principals" and not rest:
        principal = {"baseType": "principal", "id": f"local://{user.id}", "links": {}, "loginName": user.username,
                     "me": True, "memberOf": False, "name": user.name, "principalType": "user", "provider": "local",
                     "type": "principal"}
        return Response.json(200, _collection(base, "principal", [principal], filters={}))
    if resource == "tokens":
        mine = info.tokens.of_user(user.id)
        if not rest:
            data = [_token(base, t, token) for t in mine]
            return Response.json(200, _collection(base, "token", data, filters={"name": None}))
        found = next((t for t in mine if t.name == rest[0]), None)
        return Response.json(200, _token(base, found, token)) if found else _not_found()
    if resource == "settings":
        settings = {"cacerts": info.ca_pem, "server-version": info.version}
        if not rest:
            data = [_setting(base, k, v) for k, v in settings.items()]
            return Response.json(200, _collection(base, "setting", data, filters={"name": None}))
        if rest[0] in settings:
            return Response.json(200, _setting(base, rest[0], settings[rest[0]]))
        return _not_found(f'settings.management.cattle.io "{rest[0]}" not found')
    return _not_found()
