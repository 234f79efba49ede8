"""Promote service versions between environments: plan → confirm → apply → verify → record → roll back."""

from ranchersync.sync.execute import ProgressEvent, SyncOptions, new_request_id
from ranchersync.sync.operations import (
    apply_plan,
    check_confirmation,
    get_operation,
    plan_environments,
    resume_operation,
    rollback_operation,
)
from ranchersync.sync.plan import ContainerChange, ServicePlan, SyncPlan, TargetChoice, gitops_warnings, plan_sync
from ranchersync.sync.records import SyncBusy, mark_interrupted

__all__ = [
    "ContainerChange",
    "ProgressEvent",
    "ServicePlan",
    "SyncBusy",
    "SyncOptions",
    "SyncPlan",
    "TargetChoice",
    "apply_plan",
    "check_confirmation",
    "get_operation",
    "gitops_warnings",
    "mark_interrupted",
    "new_request_id",
    "plan_environments",
    "plan_sync",
    "resume_operation",
    "rollback_operation",
]
