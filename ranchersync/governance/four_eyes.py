"""The four-eyes rule (DESIGN.md, "Approval"): how many approvals a sync by someone into an environment needs, and
whether an approval request may run. Sync asks it before applying anything; `ranchersync.approvals` keeps the
requests themselves."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ranchersync.access.identity import Actor
from ranchersync.kernel.errors import ApprovalRequired, RefusedByPolicy
from ranchersync.models import ApprovalRequest, Environment


class RequestClosed(RefusedByPolicy):
    """The request is no longer waiting for decisions (executed, rejected, stale, expired, or running)."""

    kind = "request_closed"
    default_title = "This request is decided already"
    default_hint = "Request the sync again to have the current plan approved."


class NeedsApprovalRequest(ApprovalRequired):
    """A sync that needs approvals was asked to apply directly: it must be requested (the promote use-case)."""

    default_hint = "Request the sync instead: the dashboard's review and `sync` on the command line do it for you."


def approvals_needed(environment: Environment, actor: Actor) -> int:
    """How many approvals a sync by `actor` into `environment` needs before it runs (0: it runs at once).

    A protected environment without required approvals still needs one when the actor is below releaser:
    operators *request* syncs there (DESIGN.md, "Identity and roles").
    """
    needed = environment.required_approvals or 0
    if needed == 0 and environment.protected and not actor.at_least("releaser"):
        return 1
    return needed


def approvals_text(count: int) -> str:
    """`1 approval`, `2 approvals`."""
    return f"{count} approval{'s' if count != 1 else ''}"


def check_may_apply(session: Session, environment: Environment, actor: Actor, approval: int | None) -> str | None:
    """Refuse to apply a sync that still needs approvals; with `approval`, the approved request it runs for, whose
    requester is returned (the operation's `initiatedBy`). Raises NeedsApprovalRequest or RequestClosed."""
    if approval is None:
        needed = approvals_needed(environment, actor)
        if needed:
            raise NeedsApprovalRequest(
                f"a sync into {environment.name} by {actor.email} needs {approvals_text(needed)} by someone else")
        return None
    request = session.get(ApprovalRequest, approval)
    if request is None or request.status != "approved" or request.target_environment_id != environment.id:
        raise RequestClosed(f"request #{approval} is not an approved request for {environment.name}")
    return request.requested_by
