"""The error bodies Rancher and Kubernetes answer with: four shapes, kept apart as the real servers keep them."""

from __future__ import annotations

from typing import Any

from .kinds import ResourceType

# Rancher's auth filter: `status` is a string here, unlike every other Rancher error (rancher-api.md §1.4).
UNAUTHORIZED_BODY = {"type": "error", "status": "401", "message": "Unauthorized 401: must authenticate"}

_CONFLICT_SUFFIX = "the object has been modified; please apply your changes to the latest version and try again"
_PATCH_TYPES = "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"


class KubeError(Exception):
    """A Kubernetes API error, answered as a `Status` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.metadata = metadata or {}

    def status(self) -> dict[str, Any]:
        """The `Status` body, fields in kube-apiserver's order."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.metadata,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rt: ResourceType, name: str = "", kind: str | None = None) -> dict[str, Any]:
    """Status details: the name, the API group (omitted for the core group) and the resource (or the kind)."""
    details: dict[str, Any] = {"name": name} if name else {}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = kind or rt.plural
    return details


def not_found(rt: ResourceType, name: str) -> KubeError:
    """`deployments.apps "web" not found`."""
    return KubeError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def forbidden_at_cluster_scope(rt: ResourceType, verb: str, user: str) -> KubeError:
    """RBAC's refusal of a cluster-wide request to a user whose roles are bound in namespaces only:
    `deployments.apps is forbidden: User "u-x" cannot list resource "deployments" in API group "apps" at the
    cluster scope` (kubernetes `pkg/registry/rbac/validation` wording, as kube-apiserver's authorizer answers)."""
    group = f'"{rt.group}"' if rt.group else '""'
    message = (f'{rt.qualified} is forbidden: User "{user}" cannot {verb} resource "{rt.plural}" in API group '
               f"{group} at the cluster scope")
    return KubeError(403, "Forbidden", message, _details(rt))


def path_not_found() -> KubeError:
    """What kube-apiserver answers for a path it does not serve."""
    return KubeError(404, "NotFound", "the server could not find the requested resource", {})


def conflict(rt: ResourceType, name: str) -> KubeError:
    """The optimistic-lock conflict: the object changed since the client read it."""
    message = f'Operation cannot be fulfilled on {rt.qualified} "{name}": {_CONFLICT_SUFFIX}'
    return KubeError(409, "Conflict", message, _details(rt, name))


def invalid(rt: ResourceType, name: str, causes: list[tuple[str, str, str]]) -> KubeError:
    """422 Invalid with field causes given as (reason, field, message)."""
    group_kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    text = ", ".join(f"{field}: {message}" for _, field, message in causes)
    if len(causes) > 1:
        text = f"[{text}]"
    details = _details(rt, name, rt.kind)
    details["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    return KubeError(422, "Invalid", f'{group_kind} "{name}" is invalid: {text}', details)


def patch_rejected() -> KubeError:
    """A JSON patch that failed to apply (a failed `test`, a missing path): kube-apiserver's generic 422."""
    return KubeError(422, "Invalid", "the server rejected our request due to an error in our request", {})


def bad_request(message: str) -> KubeError:
    """400 BadRequest, e.g. an undecodable body or selector."""
    return KubeError(400, "BadRequest", message)


def internal_error(message: str) -> KubeError:
    """500 InternalError, as kube-apiserver wraps unexpected failures."""
    return KubeError(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})


def method_not_allowed(verb: str, rt: ResourceType | None) -> KubeError:
    """405 for a verb the resource does not support."""
    if rt is None:
        return KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
    details = _details(rt)
    return KubeError(405, "MethodNotAllowed", f'{verb} is not supported on resources of kind "{rt.qualified}"', details)


def unsupported_media_type(*, patch: bool) -> KubeError:
    """415 for a body type the verb does not accept."""
    accepted = _PATCH_TYPES if patch else "application/json"
    message = f"the body of the request was in an unknown format - accepted media types include: {accepted}"
    return KubeError(415, "UnsupportedMediaType", message)


def expired(message: str, continue_token: str | None = None) -> KubeError:
    """410 Gone / Expired: a continue token or a resourceVersion older than the last compaction."""
    metadata = {"continue": continue_token} if continue_token else None
    return KubeError(410, "Expired", message, metadata=metadata)


def norman_error(status: int, code: str, message: str) -> dict[str, Any]:
    """A Norman (`/v3`) error body: `status` is a number here."""
    return {"baseType": "error", "code": code, "message": message, "status": status, "type": "error"}


def steve_error(status: int, code: str, message: str) -> dict[str, Any]:
    """A Steve (`/v1`) error body."""
    return {"type": "error", "links": {}, "code": code, "message": message, "status": status}


def cluster_router_error(code: str, status: int, message: str) -> dict[str, Any]:
    """Rancher's cluster router error: a Go struct encoded without JSON tags (rancher-api.md §1.4)."""
    return {"Code": {"Code": code, "Status": status}, "Message": message, "Cause": None, "FieldName": ""}
