"""One small exception tree; every message is written for the user who will read it."""

from __future__ import annotations


class RancherSyncError(Exception):
    """Root of every error the UI and the CLI turn into a message."""


class ValidationError(RancherSyncError):
    """Bad input from a user: nothing was changed."""


class NotFoundError(RancherSyncError):
    """A stored object or a Rancher resource does not exist."""


class RancherAPIError(RancherSyncError):
    """Rancher (or the Kubernetes API behind it) answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class RancherAuthError(RancherAPIError):
    """The token was refused (401) or lacks a permission (403)."""


class RancherNotFound(RancherAPIError, NotFoundError):
    """Rancher answered 404 for a cluster, namespace or workload."""


class ConflictError(RancherAPIError):
    """The object changed since it was read (409): re-read it, never overwrite blindly."""


class RancherUnavailable(RancherAPIError):
    """Rancher could not be reached: connection refused, DNS, TLS or a timeout."""


class MalformedResponse(RancherAPIError):
    """Rancher answered something that is not the JSON we expected (often a proxy in the way)."""
