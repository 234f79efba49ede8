"""A snapshot put in place as one operation: into another environment (a release train) or back into its own (a
restore). The plan goes the one way in for a sync (`approvals.promote`): review, the typed name of a protected
target, freezes, locks and approvals apply to the whole; the operation is all or nothing — a service that fails, or
that changed since the plan, undoes every service the operation changed."""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from ranchersync.access.identity import Actor
from ranchersync.approvals.promote import Promotion, promote
from ranchersync.catalogue.environments import get_environment
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.inventory.reading import EnvironmentRef, list_services
from ranchersync.kernel.errors import ValidationError
from ranchersync.rancher import RancherClient
from ranchersync.security.crypto import TokenCipher
from ranchersync.snapshots.store import get_snapshot
from ranchersync.sync import (
    UNCONFIRMED,
    Confirmation,
    ProgressListener,
    SyncOptions,
    SyncPlan,
    UnreadableInstances,
    plan_snapshot,
)


def plan_snapshot_promotion(
    session: Session, cipher: TokenCipher, snapshot: int | str, target: int | str,
    factory: ClientFactory = RancherClient,
) -> SyncPlan:
    """Read the target from Rancher and plan setting it to the snapshot (every service that differs)."""
    view = get_snapshot(session, snapshot)
    if view.environment_id is None:
        raise ValidationError(f"the environment {view.environment} of snapshot {view.name} was removed: its "
                              "snapshot can no longer be put in place")
    source = get_environment(session, view.environment_id)
    env = get_environment(session, target)
    inventory = list_services(session, cipher, env.id, factory=factory)
    if inventory.failures:
        listed = "; ".join(f"{f.instance.name}: {f.message}" for f in inventory.failures)
        raise UnreadableInstances(f"cannot plan while app instances are unreadable ({listed})")
    return plan_snapshot(view.name, view.entries, EnvironmentRef.of(source), EnvironmentRef.of(env),
                         inventory.services)


def plan_restore(
    session: Session, cipher: TokenCipher, environment: int | str, snapshot: int | str,
    factory: ClientFactory = RancherClient,
) -> SyncPlan:
    """Plan putting `environment` back to one of its own snapshots (each app instance gets back what it ran)."""
    view = get_snapshot(session, snapshot)
    env = get_environment(session, environment)
    if view.environment_id != env.id:
        raise ValidationError(f"snapshot {view.name} is of {view.environment}, not of {env.name}: a restore puts an "
                              f"environment back to its own snapshot (`snapshots promote {view.name} --to "
                              f"{env.name}` sets another environment to it)")
    return plan_snapshot_promotion(session, cipher, view.id, env.id, factory)


def train_options(options: SyncOptions | None) -> SyncOptions:
    """A train's options: rolled back as a whole, always (all or nothing)."""
    return dataclasses.replace(options or SyncOptions(), auto_rollback=True, all_or_nothing=True)


def put_in_place(
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
    """Apply a snapshot's plan as one operation (Applied), or request it where the target needs approvals."""
    if plan.snapshot is None:
        raise ValidationError("this plan does not come from a snapshot")
    if not plan.to_apply:
        raise ValidationError("nothing to change: the target runs the snapshot's images already, or every "
                              "service is skipped (see the plan)")
    return promote(ctx, actor, plan, request_id=request_id, confirmed=confirmed, options=train_options(options),
                   progress=progress, factory=factory)
