"""Small frozen dataclasses parsed from Rancher JSON (clusters, namespaces, the user, the token, a connection
test), and the lenient readers every parser uses; unknown fields are ignored. The workloads and pods are in
``ranchersync.rancher.workloads``.

Parsers are lenient about missing numbers (Kubernetes omits zero counts from ``status``) and strict only about
what identifies an object (its name): a missing name raises ``ValueError``, which the client reports as a
``MalformedResponse``. Mapping fields are plain dicts so the objects pickle (``st.cache_data``); do not mutate them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

# A token's expiry is announced from this many days before: in a connection test's notes (here) and by the
# catalogue's token states, which read it from here.
TOKEN_WARNING_DAYS: Final = 14

PROJECT_KEY = "field.cattle.io/projectId"


# ---- lenient readers -------------------------------------------------------------------------------------------


def _d(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _i(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _oi(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _s(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _str_map(value: Any) -> dict[str, str]:
    return {k: v for k, v in _d(value).items() if isinstance(k, str) and isinstance(v, str)}


def _name(meta: Mapping[str, Any], what: str) -> str:
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what} without metadata.name")
    return name


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp into an aware UTC datetime; ``""``, None or garbage give None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# ---- Rancher objects -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """A downstream cluster as Rancher's Norman API lists it."""

    id: str
    name: str
    state: str = "unknown"
    kubernetes_version: str = ""
    provider: str = ""

    @classmethod
    def from_norman(cls, item: Mapping[str, Any]) -> Cluster:
        """Parse one item of ``GET /v3/clusters``; ``name`` is the display name."""
        cid = _s(item.get("id"))
        if not cid:
            raise ValueError("cluster without id")
        return cls(
            id=cid,
            name=_s(item.get("name")) or cid,
            state=_s(item.get("state")) or "unknown",
            kubernetes_version=_s(_d(item.get("version")).get("gitVersion")),
            provider=_s(item.get("provider")) or _s(item.get("driver")),
        )


@dataclass(frozen=True)
class Node:
    """A node's platform, as the kubelet reports it (``status.nodeInfo``: GOOS and GOARCH names), and whether it
    takes pods (an unschedulable or not-Ready node does not decide what an image must run on)."""

    name: str
    os: str
    architecture: str
    ready: bool = True
    schedulable: bool = True
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_k8s(cls, obj: Mapping[str, Any]) -> Node:
        """Parse a Kubernetes ``Node`` object (``/api/v1/nodes`` list item)."""
        meta, status = _d(obj.get("metadata")), _d(obj.get("status"))
        info = _d(status.get("nodeInfo"))
        labels = _str_map(meta.get("labels"))
        ready = next((c for c in map(_d, status.get("conditions") or []) if c.get("type") == "Ready"), {})
        return cls(
            name=_name(meta, "node"),
            os=_s(info.get("operatingSystem")) or labels.get("kubernetes.io/os", ""),
            architecture=_s(info.get("architecture")) or labels.get("kubernetes.io/arch", ""),
            ready=ready.get("status", "True") == "True",
            schedulable=_d(obj.get("spec")).get("unschedulable") is not True,
            labels=labels,
        )


@dataclass(frozen=True)
class ServiceAccount:
    """A ServiceAccount's pull-secret names: the ServiceAccount admission gives them to every pod of the account
    whose template names no ``imagePullSecrets`` of its own."""

    name: str
    namespace: str = ""
    image_pull_secrets: tuple[str, ...] = ()

    @classmethod
    def from_k8s(cls, obj: Mapping[str, Any]) -> ServiceAccount:
        """Parse a Kubernetes ``ServiceAccount`` object (``imagePullSecrets`` is a top-level field, not in a spec)."""
        meta = _d(obj.get("metadata"))
        names = (_s(_d(ref).get("name")) for ref in _l(obj.get("imagePullSecrets")))
        return cls(name=_name(meta, "service account"), namespace=_s(meta.get("namespace")),
                   image_pull_secrets=tuple(dict.fromkeys(n for n in names if n)))


@dataclass(frozen=True)
class Namespace:
    """A Kubernetes namespace and the Rancher project it belongs to."""

    name: str
    phase: str = "Active"
    project_id: str | None = None  # "p-xxxxx"; None when the namespace belongs to no project
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_k8s(cls, obj: Mapping[str, Any]) -> Namespace:
        """Parse a Kubernetes ``Namespace`` object."""
        meta = _d(obj.get("metadata"))
        labels = _str_map(meta.get("labels"))
        # The annotation holds "c-xxxxx:p-xxxxx", the label (set by a controller, maybe later) just "p-xxxxx".
        project = _str_map(meta.get("annotations")).get(PROJECT_KEY) or labels.get(PROJECT_KEY) or ""
        return cls(
            name=_name(meta, "namespace"),
            phase=_s(_d(obj.get("status")).get("phase")) or "Active",
            project_id=project.rsplit(":", 1)[-1] or None,
            labels=labels,
        )


@dataclass(frozen=True)
class UserInfo:
    """The Rancher user behind a token."""

    id: str
    username: str = ""
    name: str = ""

    @property
    def display_name(self) -> str:
        """The friendliest name Rancher knows."""
        return self.name or self.username or self.id

    @classmethod
    def from_norman(cls, item: Mapping[str, Any]) -> UserInfo:
        """Parse one item of ``GET /v3/users?me=true``."""
        return cls(id=_s(item.get("id")), username=_s(item.get("username")), name=_s(item.get("name")))


@dataclass(frozen=True)
class TokenInfo:
    """An API token's metadata; ``expires_at`` None means it never expires (``expiresAt: ""``, ttl 0)."""

    name: str
    expires_at: datetime | None = None
    ttl_ms: int = 0
    expired: bool = False
    enabled: bool = True
    cluster_id: str | None = None  # set for a cluster-scoped token
    user_id: str = ""
    description: str = ""
    is_derived: bool = False

    @classmethod
    def from_norman(cls, item: Mapping[str, Any]) -> TokenInfo:
        """Parse ``GET /v3/tokens/<name>``."""
        return cls(
            name=_s(item.get("name")) or _s(item.get("id")),
            expires_at=parse_time(item.get("expiresAt")),
            ttl_ms=_i(item.get("ttl")),
            expired=item.get("expired") is True,
            enabled=item.get("enabled") is not False,
            cluster_id=_s(item.get("clusterId")) or None,
            user_id=_s(item.get("userId")),
            description=_s(item.get("description")),
            is_derived=item.get("isDerived") is True,
        )


@dataclass(frozen=True)
class ConnectionInfo:
    """What "test connection" learned about a Rancher site and its token."""

    url: str
    latency_ms: float
    user: UserInfo | None = None
    rancher_version: str | None = None
    token: TokenInfo | None = None  # None: expiry unknown (no permission to read it, or a scoped token)
    cluster_scoped: bool = False
    clusters: tuple[Cluster, ...] = ()
    kubernetes_version: str | None = None  # from the cluster probe of a scoped token
    warnings: tuple[str, ...] = ()

    @property
    def user_id(self) -> str:
        """The Rancher user id, or "" when a scoped token cannot tell."""
        return self.user.id if self.user else ""

    @property
    def user_display_name(self) -> str:
        """The user's display name, or "" when unknown."""
        return self.user.display_name if self.user else ""

    @property
    def user_name(self) -> str:
        """What to call the user in a message: the display name, or "" when a scoped token cannot tell."""
        return self.user_display_name

    @property
    def token_expiry_known(self) -> bool:
        """Whether the token's expiry could be read at all."""
        return self.token is not None

    @property
    def token_expires_at(self) -> datetime | None:
        """When the token expires; None when it never does or when that is unknown (see token_expiry_known)."""
        return self.token.expires_at if self.token else None
