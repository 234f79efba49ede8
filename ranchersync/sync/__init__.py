"""Promote service versions between environments: plan → confirm → apply → verify → record → roll back."""

from ranchersync.sync.events import (
    STAGES,
    ProgressEvent,
    ProgressListener,
    Stage,
    progress_line,
    stage_words,
)
from ranchersync.sync.execute import SyncOptions, new_request_id
from ranchersync.sync.operations import (
    UNCONFIRMED,
    Confirmation,
    ConfirmationRequired,
    SyncSides,
    UnreadableInstances,
    apply_plan,
    check_confirmation,
    check_plan,
    get_operation,
    plan_environments,
    read_sides,
)
from ranchersync.sync.plan import PlannedContainer, ServicePlan, SyncPlan, TargetChoice, gitops_warnings, plan_sync
from ranchersync.sync.records import SyncBusy, mark_interrupted
from ranchersync.sync.snapshot_plan import plan_snapshot
from ranchersync.sync.source_health import (
    SourceProblem,
    SourceUnhealthy,
    check_source_health,
    health_lines,
    healthy_since,
    source_problems,
)
from ranchersync.sync.source_soak import (
    Readiness,
    SoakShortfall,
    SourceNotSoaked,
    add_readiness,
    check_source_soak,
    promotion_readiness,
    soak_shortfalls,
)
from ranchersync.sync.undo import resume_operation, rollback_candidates, rollback_operation, rollback_refusal

__all__ = [
    "STAGES",
    "SourceProblem",
    "SourceUnhealthy",
    "check_source_health",
    "SoakShortfall",
    "SourceNotSoaked",
    "check_source_soak",
    "soak_shortfalls",
    "Readiness",
    "promotion_readiness",
    "add_readiness",
    "health_lines",
    "healthy_since",
    "source_problems",
    "ConfirmationRequired",
    "PlannedContainer",
    "ProgressEvent",
    "ProgressListener",
    "ServicePlan",
    "SyncBusy",
    "SyncOptions",
    "SyncPlan",
    "Stage",
    "SyncSides",
    "TargetChoice",
    "UnreadableInstances",
    "UNCONFIRMED",
    "Confirmation",
    "apply_plan",
    "check_confirmation",
    "check_plan",
    "get_operation",
    "gitops_warnings",
    "mark_interrupted",
    "new_request_id",
    "plan_environments",
    "plan_snapshot",
    "plan_sync",
    "progress_line",
    "read_sides",
    "resume_operation",
    "rollback_candidates",
    "rollback_operation",
    "rollback_refusal",
    "stage_words",
]
