"""Promote service versions between environments: plan → confirm → apply → verify → record → roll back."""

from ranchersync.sync.plan import (
    ContainerChange,
    ServicePlan,
    SyncPlan,
    TargetChoice,
    gitops_warnings,
    plan_sync,
)

__all__ = ["ContainerChange", "ServicePlan", "SyncPlan", "TargetChoice", "gitops_warnings", "plan_sync"]
