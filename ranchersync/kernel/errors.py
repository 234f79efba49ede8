"""One small exception tree; every message is written for the user who will read it.

An error shows itself (click's model): its class knows its `kind`, its family's `exit_code`, a headline (`title`) and
what the user can do about it (`hint`). Whoever classifies a failure (`rancher/failures.py`, a use-case) sets a
precise title and hint; the CLI and the dashboard only display them and never re-guess meaning from message text.

Three families, one exit code each (DESIGN.md, "Command line"):

- `BadInput` (2): the request itself is wrong (a bad value, an unknown name); nothing was changed.
- `OperationFailed` (1): the work was attempted and failed — Rancher refused or could not be reached, an app
  instance could not be read, a sync failed.
- `RefusedByPolicy` (3): not done because of a policy or a state — permission, a frozen environment, an approval
  still missing, another operation holding the target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class RancherSyncError(Exception):
    """Root of every error the UI and the CLI turn into a message, a hint and an exit code."""

    kind: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1
    default_title: ClassVar[str] = "Something went wrong"
    default_hint: ClassVar[str] = ""

    def __init__(self, message: str, *, title: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.title = title if title is not None else self.default_title
        self.hint = hint if hint is not None else self.default_hint


# ---- the three families ------------------------------------------------------------------------------------------


class BadInput(RancherSyncError):
    """The request itself is wrong; nothing was changed (exit 2)."""

    kind = "bad_input"
    exit_code = 2
    default_title = "Please check the input"


class OperationFailed(RancherSyncError):
    """The work was attempted and failed (exit 1)."""

    kind = "failed"
    exit_code = 1
    default_title = "The operation failed"


class RefusedByPolicy(RancherSyncError):
    """Not done because of a policy or a state: permission, freeze, approval, a busy target (exit 3)."""

    kind = "refused"
    exit_code = 3
    default_title = "Not allowed right now"


# ---- bad input ---------------------------------------------------------------------------------------------------


class ValidationError(BadInput):
    """Bad input from a user: nothing was changed."""

    kind = "validation"
    default_title = "Please check the form"


class InvalidFields(ValidationError):
    """Several fields of one form are wrong; `fields` maps each field's name to what is wrong with it, so a form
    shows every error at once, each under its field, and the CLI lists them."""

    def __init__(self, fields: Mapping[str, str], *, title: str | None = None, hint: str | None = None) -> None:
        self.fields = dict(fields)
        super().__init__("; ".join(self.fields.values()), title=title, hint=hint)

    def __reduce__(self) -> tuple[object, ...]:  # a worker's error crosses to the page with its fields
        return type(self), (self.fields,), {"title": self.title, "hint": self.hint}


class NotFoundError(BadInput):
    """A stored object or a Rancher resource does not exist."""

    kind = "not_found"
    default_title = "Not found"
    default_hint = "Check the name or id; it may also have been removed or renamed meanwhile."


# ---- operation failures (Rancher) --------------------------------------------------------------------------------


class RancherAPIError(OperationFailed):
    """Rancher (or the Kubernetes API behind it) answered with an error."""

    kind = "rancher_error"
    default_title = "Rancher reported an error"
    default_hint = "Try again; if it persists, check Rancher's own logs."

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        title: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, title=title, hint=hint)
        self.status = status
        self.url = url


class RancherAuthError(RancherAPIError):
    """The token was refused (401) or lacks a permission (403)."""

    kind = "rancher_auth"
    default_title = "Rancher refused the token"
    # Rancher answers the same 401 to a wrong, expired or disabled token and to a cluster-scoped one (§1.4, §1.5).
    default_hint = (
        "Check that you pasted the whole bearer token (token-xxxxx:secret) and that it is not expired or disabled "
        "(Rancher → your avatar → Account & API Keys). A key scoped to one cluster is refused too: it cannot list "
        "clusters, so create a key with the scope 'No scope'."
    )


class RancherNotFound(RancherAPIError, NotFoundError):
    """Rancher answered 404 for a cluster, namespace or workload (an operation failure, exit 1)."""

    kind = "rancher_not_found"
    exit_code = OperationFailed.exit_code  # named, not left to the method resolution order
    default_title = "Not found in Rancher"
    default_hint = "It may have been removed or renamed in Rancher meanwhile."


class ConflictError(RancherAPIError):
    """The object changed since it was read (409): re-read it, never overwrite blindly."""

    kind = "conflict"
    default_title = "The object changed meanwhile"
    default_hint = "Someone changed it since it was read; nothing was overwritten. Re-read it and plan again."


class RancherUnavailable(RancherAPIError):
    """Rancher could not be reached: connection refused, DNS, TLS or a timeout."""

    kind = "unavailable"
    default_title = "Rancher cannot be reached"
    default_hint = "Check the URL and that this machine can reach it (VPN, proxy, firewall), then try again."


class MalformedResponse(RancherAPIError):
    """Rancher answered something that is not the JSON we expected (often a proxy in the way)."""

    kind = "malformed_response"
    default_title = "This address does not answer like Rancher"
    default_hint = (
        "Use the address of the Rancher server itself, e.g. https://rancher.example.com, with no proxy or login "
        "page in front of it."
    )


# ---- refused by policy -------------------------------------------------------------------------------------------


class DatabaseUnavailable(OperationFailed):
    """The database could not be reached or refused the statement (server down, locked, disk full, no access)."""

    kind = "database"
    default_title = "The database could not be used"
    default_hint = ("Check RANCHERSYNC_DATABASE_URL, that the database server is running and reachable from here, "
                    "and that its disk is not full; nothing was changed.")


class PermissionDenied(RefusedByPolicy):
    """The user's role in this tool does not allow the action."""

    kind = "permission_denied"
    default_title = "Permission denied"
    default_hint = "Ask an administrator for a role that allows it."


class EnvironmentFrozen(RefusedByPolicy):
    """The target environment is inside a change freeze."""

    kind = "frozen"
    default_title = "The environment is frozen"
    default_hint = "Wait for the freeze to end, or override it with a reason if your role allows it."


class ApprovalRequired(RefusedByPolicy):
    """The change waits for approvals; the request id says which."""

    kind = "approval_required"
    default_title = "Approval required"
    default_hint = "The request waits for its approvals; apply it once they are given."
