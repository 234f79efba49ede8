"""Promote service versions between environments: plan → confirm → apply → verify → record → roll back."""

from ranchersync.sync.execute import ProgressEvent, SyncOptions, new_request_id
from ranchersync.sync.operations import (
    ConfirmationRequired,
    SyncSides,
    UnreadableInstances,
    apply_plan,
    check_confirmation,
    get_operation,
    plan_environments,
    read_sides,
    resume_operation,
    rollback_candidates,
    rollback_operation,
    rollback_refusal,
)
from ranchersync.sync.plan import ContainerChange, ServicePlan, SyncPlan, TargetChoice, gitops_warnings, plan_sync
from ranchersync.sync.records import SyncBusy, mark_interrupted

__all__ = [
    "ConfirmationRequired",
    "ContainerChange",
    "ProgressEvent",
    "ServicePlan",
    "SyncBusy",
    "SyncOptions",
    "SyncPlan",
    "SyncSides",
    "TargetChoice",
    "UnreadableInstances",
    "apply_plan",
    "check_confirmation",
    "get_operation",
    "gitops_warnings",
    "mark_interrupted",
    "new_request_id",
    "plan_environments",
    "plan_sync",
    "read_sides",
    "resume_operation",
    "rollback_candidates",
    "rollback_operation",
    "rollback_refusal",
]
