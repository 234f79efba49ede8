"""World files: the clusters of one simulated Rancher server and the Kubernetes objects inside them.

A world file (YAML or JSON)::

    name: rancher-eu                  # optional; the file name by default
    rancherVersion: v2.9.3            # /rancherversion, /v3/settings/server-version
    user: {username: admin, displayName: Default Admin}   # optional: the user every token belongs to
    clusters:
      - id: c-m-8x2kq4vd              # Rancher cluster id: local, c-xxxxx or c-m-xxxxxxxx
        name: dev-eu-1                # display name
        version: v1.30.4+rke2r1       # the kube-apiserver gitVersion (kubectl picks its binary by it)
        provider: rke2                # optional, with driver; state: active | unavailable; nodes: 3
        architecture: arm64           # optional: the nodes' CPU (amd64 by default); a list mixes them node by node
        systemNamespaces: true        # add default, kube-*, cattle-system (the default)
        error: {status: 403, message: ...}  # optional: its Kubernetes API refuses every request (see below)
        namespacedAccess: true        # optional: the user holds only namespace roles; cluster-wide lists get 403
        repushed: [{image: "reg/app:1.0", pods: 1}]  # optional: tags pushed again since these pods pulled them
        objects: [...]                # Namespace, Deployment, StatefulSet, DaemonSet, CronJob, Secret, ServiceAccount;
                                      # or a List (every namespace gets a `default` ServiceAccount unless given)

Objects are what `kubectl get -o yaml` prints, and may be trimmed: apiVersion, a missing namespace (`default`),
selector and labels (`app: <name>`), API defaults, metadata and a fully rolled-out status are filled in. A status
given in the file is served as it is (a rollout frozen half way, a failed one) until a write changes its spec.
Missing namespaces are created in a Rancher project named after their prefix (`shop-dev` → project `shop`).

A cluster's `error` makes every request under `/k8s/clusters/<id>` fail as the real server fails, with the given
message: 403 as kube-apiserver's `Forbidden` Status (RBAC), 500 as the plain text of Rancher's cluster proxy when it
cannot reach the agent (rancher-api.md §1.4). The cluster itself is still listed by `/v3/clusters`. With `user`
and the cluster names, this is how a test serves text it does not control (a hostile display name or error body).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .kinds import BY_KIND, NODES, PODS, REPLICASETS
from .objects import Obj, deep_copy

DEMO_WORLD_NAMES = ("rancher-eu", "rancher-us")
_CLUSTER_STATES = ("active", "unavailable")
_ERROR_STATUSES = (403, 500)


class WorldError(ValueError):
    """A world file that cannot be served: the message names the offending entry."""


@dataclass(frozen=True)
class ClusterSpec:
    """One downstream cluster as the world file describes it."""

    id: str
    name: str
    objects: tuple[Obj, ...]
    version: str = "v1.30.4+rke2r1"
    provider: str = "rke2"
    driver: str = "rke2"
    state: str = "active"
    nodes: int = 3
    system_namespaces: bool = True
    error: ClusterError | None = None
    namespaced_access: bool = False  # the token's user may list inside namespaces, not across the cluster
    # Tags pushed again after the world began: (image, pods) — the first `pods` pods of each workload that runs the
    # image (all with None) pulled it again and report its new digest in imageID.
    repushed: tuple[tuple[str, int | None], ...] = ()
    # The nodes' CPU architectures (GOARCH names, as `status.nodeInfo.architecture`), given to nodes in turn.
    architectures: tuple[str, ...] = ("amd64",)


@dataclass(frozen=True)
class ClusterError:
    """How a cluster's Kubernetes API refuses every request: 403 (Forbidden Status) or 500 (proxy plain text)."""

    status: int
    message: str


@dataclass(frozen=True)
class UserSpec:
    """The Rancher user every token of the server belongs to."""

    username: str = "admin"
    display_name: str = "Default Admin"


@dataclass(frozen=True)
class World:
    """Everything one simulated Rancher server serves."""

    name: str
    clusters: tuple[ClusterSpec, ...]
    rancher_version: str = "v2.9.3"
    user: UserSpec = UserSpec()

    def cluster(self, cluster_id: str) -> ClusterSpec:
        """A cluster by id."""
        for cluster in self.clusters:
            if cluster.id == cluster_id:
                return cluster
        raise KeyError(cluster_id)


def _default_driver(cluster_id: str, provider: str) -> str:
    if cluster_id == "local":
        return "imported" if provider == "rke2" else provider
    if cluster_id.startswith("c-m-"):
        return provider
    return "imported"


def _objects(raw: Any, where: str) -> list[Obj]:
    """Flatten `kind: List` wrappers and check that every object is one the simulator serves."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise WorldError(f"{where}: objects must be a list")
    flat: list[Obj] = []
    for index, obj in enumerate(raw):
        here = f"{where}[{index}]"
        if not isinstance(obj, Mapping):
            raise WorldError(f"{here}: an object must be a mapping")
        if str(obj.get("kind", "")).endswith("List"):  # `kind: List`, or a DeploymentList pasted whole
            flat.extend(_objects(obj.get("items"), f"{here}.items"))
            continue
        kind = obj.get("kind")
        if kind not in BY_KIND or kind in (PODS.kind, REPLICASETS.kind, NODES.kind):  # made by the simulator
            raise WorldError(f"{here}: kind {kind!r} is not served (use Namespace, Deployment, StatefulSet, "
                             "DaemonSet, CronJob, Secret or ServiceAccount)")
        rt = BY_KIND[kind]
        metadata = obj.get("metadata")
        if not isinstance(metadata, Mapping) or not metadata.get("name"):
            raise WorldError(f"{here}: metadata.name is required")
        copy = deep_copy(dict(obj))
        copy.setdefault("apiVersion", rt.api_version)
        if copy["apiVersion"] != rt.api_version:
            raise WorldError(f"{here}: {kind} is served as {rt.api_version}, not {copy['apiVersion']}")
        if rt.namespaced:
            copy["metadata"].setdefault("namespace", "default")
        _check_types(copy, here)
        flat.append(copy)
    return flat


# The fields the simulator reads from an object, with the type each must have (a path, one per line).
_TYPED_FIELDS: tuple[tuple[tuple[str, ...], type | tuple[type, ...], str], ...] = (
    (("metadata", "name"), str, "a string"),
    (("metadata", "namespace"), str, "a string"),
    (("metadata", "labels"), Mapping, "a mapping"),
    (("metadata", "annotations"), Mapping, "a mapping"),
    (("spec",), Mapping, "a mapping"),
    (("spec", "replicas"), int, "a whole number"),
    (("spec", "paused"), bool, "true or false"),
    (("spec", "template"), Mapping, "a mapping"),
    (("spec", "template", "spec"), Mapping, "a mapping"),
    (("spec", "template", "spec", "containers"), list, "a list"),
    (("spec", "template", "spec", "initContainers"), list, "a list"),
    (("status",), Mapping, "a mapping"),
)


def _check_types(obj: Obj, where: str) -> None:
    """Refuse a field of the wrong type here, naming it, rather than failing later while serving."""
    for path, kind, words in _TYPED_FIELDS:
        value: Any = obj
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        # bool is an int in Python: a replica count of `true` is still wrong.
        wrong = value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool)))
        if wrong:
            raise WorldError(f"{where}.{'.'.join(path)}: must be {words}, not {type(value).__name__} {value!r}")
    pod_spec = obj.get("spec", {}).get("template", {}).get("spec", {}) if isinstance(obj.get("spec"), Mapping) else {}
    for field in ("initContainers", "containers"):
        for index, container in enumerate(pod_spec.get(field) or []):
            here = f"{where}.spec.template.spec.{field}[{index}]"
            if not isinstance(container, Mapping):
                raise WorldError(f"{here}: a container must be a mapping {{name, image}}")
            for key in ("name", "image"):
                if not isinstance(container.get(key), str) or not container.get(key):
                    raise WorldError(f"{here}.{key}: must be a non-empty string")


def _whole(raw: Any, default: int, where: str) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise WorldError(f"{where}: must be a whole number, not {type(raw).__name__} {raw!r}")
    return raw


def parse_world(data: Any, name: str = "world") -> World:
    """Build a World from parsed YAML/JSON: `{clusters: [{id, name, objects: [...]}, ...]}`."""
    if not isinstance(data, Mapping) or not isinstance(data.get("clusters"), list):
        raise WorldError(f"{name}: a world needs a `clusters` list")
    clusters = []
    seen: set[str] = set()
    for index, raw in enumerate(data["clusters"]):
        where = f"{name}: clusters[{index}]"
        if not isinstance(raw, Mapping) or not raw.get("id"):
            raise WorldError(f"{where}: a cluster needs an id")
        cluster_id = str(raw["id"])
        if cluster_id in seen:
            raise WorldError(f"{where}: duplicate cluster id {cluster_id}")
        seen.add(cluster_id)
        state = str(raw.get("state", "active"))
        if state not in _CLUSTER_STATES:
            raise WorldError(f"{where}: state must be one of {', '.join(_CLUSTER_STATES)}")
        provider = str(raw.get("provider", "rke2"))
        clusters.append(ClusterSpec(
            id=cluster_id,
            name=str(raw.get("name") or cluster_id),
            objects=tuple(_objects(raw.get("objects"), f"{where}.objects")),
            version=str(raw.get("version", ClusterSpec.version)),
            provider=provider,
            driver=str(raw.get("driver") or _default_driver(cluster_id, provider)),
            state=state,
            nodes=_whole(raw.get("nodes"), 3, f"{where}.nodes"),
            system_namespaces=bool(raw.get("systemNamespaces", True)),
            error=_cluster_error(raw.get("error"), f"{where}.error"),
            namespaced_access=bool(raw.get("namespacedAccess", False)),
            repushed=_repushed(raw.get("repushed"), f"{where}.repushed"),
            architectures=_architectures(raw.get("architecture"), f"{where}.architecture"),
        ))
    return World(name=str(data.get("name") or name), clusters=tuple(clusters),
                 rancher_version=str(data.get("rancherVersion", World.rancher_version)),
                 user=_user(data.get("user"), f"{name}: user"))


def _cluster_error(raw: Any, where: str) -> ClusterError | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or raw.get("status") not in _ERROR_STATUSES or not raw.get("message"):
        raise WorldError(f"{where}: an error needs a status ({' or '.join(map(str, _ERROR_STATUSES))}) and a message")
    return ClusterError(int(raw["status"]), str(raw["message"]))


_ARCHITECTURES = ("amd64", "arm64", "arm", "ppc64le", "s390x", "riscv64", "386")


def _architectures(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ClusterSpec.architectures
    listed = raw if isinstance(raw, list) else [raw]
    if not listed or any(a not in _ARCHITECTURES for a in listed):
        raise WorldError(f"{where}: an architecture is one of {', '.join(_ARCHITECTURES)} (or a list of them)")
    return tuple(str(a) for a in listed)


def _repushed(raw: Any, where: str) -> tuple[tuple[str, int | None], ...]:
    if raw is None:
        return ()
    entries = []
    for index, entry in enumerate(raw if isinstance(raw, list) else [None]):
        pods = entry.get("pods") if isinstance(entry, Mapping) else None
        if not isinstance(entry, Mapping) or not entry.get("image") or not (pods is None or isinstance(pods, int)):
            raise WorldError(f"{where}[{index}]: a re-pushed tag needs an image (and optionally a number of pods)")
        entries.append((str(entry["image"]), pods))
    return tuple(entries)


def _user(raw: Any, where: str) -> UserSpec:
    if raw is None:
        return UserSpec()
    if not isinstance(raw, Mapping):
        raise WorldError(f"{where}: the user must be a mapping {{username, displayName}}")
    return UserSpec(username=str(raw.get("username") or UserSpec.username),
                    display_name=str(raw.get("displayName") or UserSpec.display_name))


def load_world(path: str | Path) -> World:
    """Read a world file; `.json` is parsed as JSON, anything else as YAML (a superset of JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise WorldError(f"{path}: {exc}") from exc
    return parse_world(data, path.stem)


def load_demo_world(name: str = DEMO_WORLD_NAMES[0]) -> World:
    """One of the built-in demo worlds (`rancher-eu` or `rancher-us`)."""
    if name not in DEMO_WORLD_NAMES:
        raise WorldError(f"no demo world {name!r}; the demo worlds are {', '.join(DEMO_WORLD_NAMES)}")
    text = resources.files(__package__).joinpath("worlds", f"{name}.yaml").read_text(encoding="utf-8")
    return parse_world(yaml.safe_load(text), name)


def load_demo_worlds() -> dict[str, World]:
    """Both demo Rancher servers, by name, the first one being the default demo."""
    return {name: load_demo_world(name) for name in DEMO_WORLD_NAMES}
