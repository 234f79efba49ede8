"""Errors as problem details (RFC 9457, `application/problem+json`): the error model's kind, title, message and hint,
with the HTTP status DESIGN.md gives each (401, 403, 404, 409 busy, 422 bad input, 423 frozen, locked or
quarantined…). The status is chosen from the error's class and kind here, once; a handler never picks one."""

from __future__ import annotations

from typing import Final, NotRequired, TypedDict

from ranchersync.kernel.errors import (
    BadInput,
    DatabaseUnavailable,
    NotFoundError,
    OperationFailed,
    PermissionDenied,
    RancherNotFound,
    RancherSyncError,
    RefusedByPolicy,
)

__all__ = ["PROBLEM_TYPE", "MEDIA_TYPE", "Problem", "exit_code_of", "problem", "problem_of", "status_of"]

MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_TYPE: Final = "https://ranchersync.dev/problems/"  # + kind; documentation, not fetched

# Failures that are the caller's to fix (the default of the family is 502: upstream failed).
_FAILED_STATUS: Final = {
    "nothing_to_sync": 422,
}
# Refusals by policy or state whose status is not 409 (the default of the family).
_REFUSED_STATUS: Final = {
    "unauthenticated": 401,
    "frozen": 423,
    "environment_locked": 423,
    "image_quarantined": 423,
}


class Problem(TypedDict):
    """A problem detail: `type` names the error kind, `title` the headline, `detail` what happened, `hint` what to do
    (RFC 9457 with the error model's `kind` and `hint`); `exitCode` is the CLI's exit status for the same error (2 bad
    input, 3 refused by policy or state, 1 failed), so a remote CLI exits as the local one does."""

    type: str
    title: str
    status: int
    detail: str
    kind: str
    hint: str
    exitCode: int
    errors: NotRequired[list[str]]  # bad input: every field that is wrong
    retryAfterSeconds: NotRequired[int]  # 429


def status_of(error: RancherSyncError) -> int:
    """The HTTP status of an error of the model."""
    if isinstance(error, RancherNotFound):  # Rancher's 404 is a failure upstream, not an unknown object here
        return 502
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, BadInput):
        return 400 if error.kind == "not_json" else 422
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, RefusedByPolicy):
        return _REFUSED_STATUS.get(error.kind, 409)
    if isinstance(error, DatabaseUnavailable):
        return 503
    if isinstance(error, OperationFailed):
        return _FAILED_STATUS.get(error.kind, 502)  # Rancher, a registry, an unreadable app instance: upstream
    return 500


def exit_code_of(status: int) -> int:
    """The CLI's exit status for a problem made here, not by an error of the model (400, 401, 404, 429, 500…)."""
    if status >= 500:
        return OperationFailed.exit_code
    return BadInput.exit_code if status in (400, 404, 405, 422) else RefusedByPolicy.exit_code


def problem(status: int, kind: str, title: str, detail: str, hint: str = "",
            errors: list[str] | None = None, exit_code: int | None = None) -> Problem:
    """A problem detail from its parts."""
    body: Problem = {"type": PROBLEM_TYPE + kind, "title": title, "status": status, "detail": detail, "kind": kind,
                     "hint": hint, "exitCode": exit_code if exit_code is not None else exit_code_of(status)}
    if errors:
        body["errors"] = errors
    return body


def problem_of(error: RancherSyncError) -> Problem:
    """The problem detail of an error of the model (its message is written for the user: it never holds a secret)."""
    return problem(status_of(error), error.kind, error.title, str(error), error.hint, exit_code=error.exit_code)
