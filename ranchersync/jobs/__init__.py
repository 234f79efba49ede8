"""Operations as server-side jobs: start a sync, a rollback or a resume in a worker owned by the process, and
terminate a running one from any process (DESIGN.md, "Operations as server-side jobs; policy refusals")."""

from ranchersync.jobs.live import LiveOperation, WorkloadProgress, elapsed_text, live_operation, running_operations
from ranchersync.jobs.runner import Started, start_resume, start_rollback, start_sync
from ranchersync.jobs.terminate import terminate_operation, wait_for_operation

__all__ = [
    "LiveOperation",
    "WorkloadProgress",
    "elapsed_text",
    "live_operation",
    "running_operations",
    "Started",
    "start_resume",
    "start_rollback",
    "start_sync",
    "terminate_operation",
    "wait_for_operation",
]
