"""The one way in for a sync (the dashboard, the CLI and the HTTP API call it): apply a confirmed plan now, or, when
the target needs approvals from someone else, make it an approval request. Either is an outcome, not an error."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ranchersync.access.identity import Actor, require
from ranchersync.approvals.requests import request_sync
from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.governance.four_eyes import approvals_needed, approvals_text
from ranchersync.governance.freeze import check_sync_allowed
from ranchersync.governance.locks import check_unlocked
from ranchersync.models import ApprovalRequest, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.sync import (
    UNCONFIRMED,
    Confirmation,
    ProgressListener,
    SyncOptions,
    SyncPlan,
    apply_plan,
    check_confirmation,
    check_source_health,
)


@dataclass(frozen=True)
class Applied:
    """The sync ran: its operation (which may still have failed or been rolled back: read its status)."""

    operation_id: int


@dataclass(frozen=True)
class Requested:
    """The sync became an approval request; nothing was changed."""

    request_id: int
    target: str
    required: int
    expires_at: dt.datetime

    @classmethod
    def of(cls, request: ApprovalRequest) -> Requested:
        return cls(request.id, request.target_environment_name, request.required, request.expires_at)

    @property
    def message(self) -> str:
        return (f"the sync into {self.target} needs {approvals_text(self.required)} by someone else: request "
                f"#{self.request_id} waits for them until {self.expires_at:%Y-%m-%d %H:%M} UTC")

    @property
    def hint(self) -> str:
        return (f"A releaser approves it on the Approvals page or with `approvals approve {self.request_id}`; "
                "`sync --wait-approval` waits for the decision.")


Promotion = Applied | Requested


def promote(
    ctx: AppContext,
    actor: Actor,
    plan: SyncPlan,
    *,
    request_id: str,
    confirmed: Confirmation = UNCONFIRMED,
    options: SyncOptions | None = None,
    progress: ProgressListener | None = None,
    factory: ClientFactory = RancherClient,
) -> Promotion:
    """Apply `plan` now (Applied), or request it when the target needs approvals by someone else (Requested).

    A source that is not healthy refuses either (SourceUnhealthy, exit 3) unless a releaser gives
    `confirmed.override_policy`, a reason (audited). A request is checked like a sync before anything is stored:
    the role (operator), the typed name of a protected target, a freeze window.
    Raises what apply_plan and request_sync raise.
    """
    with ctx.session() as session:
        target = get_environment(session, plan.target.id)
        check_source_health(session, actor, plan, confirmed.override_policy)
        needed = approvals_needed(target, actor)
        if needed:
            require(actor, "request_sync", environment=target.name)
            check_confirmation(plan.target, target.protected, confirmed.confirm_env)
            check_sync_allowed(session, actor, target, utcnow(), confirmed.override_freeze)
            check_unlocked(session, target, {i.name for i in plan.to_apply})  # release trains: locks
    if needed:
        return Requested.of(request_sync(ctx, actor, plan, options=options, factory=factory))
    return Applied(apply_plan(ctx, plan, actor=actor, request_id=request_id, confirmed=confirmed, options=options,
                              progress=progress, factory=factory))
