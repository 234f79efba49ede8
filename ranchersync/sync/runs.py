"""The work of an operation and how it went: the options it runs with, each target workload's moves, and each
one's run (its status, whether its PATCH landed), with the one place a run's outcome is recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ranchersync.context import AppContext
from ranchersync.inventory.reading import InstanceRef
from ranchersync.sync import records
from ranchersync.sync.events import ProgressEvent, ProgressListener

if TYPE_CHECKING:
    from ranchersync.verification import run as verification


@dataclass(frozen=True)
class SyncOptions:
    """How an operation runs."""

    verify: bool = True  # wait for each rollout to finish
    timeout_seconds: float = 300.0  # per rollout
    poll_seconds: float = 1.0
    auto_rollback: bool = True  # undo what was changed when any service fails
    concurrency: int = 16
    all_or_nothing: bool = False  # a service skipped while applying (changed since the plan) undoes the rest too


@dataclass(frozen=True)
class Move:
    """One container's expected image and the image to set."""

    name: str
    init: bool
    expected: str
    new: str


@dataclass(frozen=True)
class WorkItem:
    """One target workload to change, tied to its result row."""

    result_id: int
    target: InstanceRef
    kind: str
    name: str
    moves: tuple[Move, ...]
    resource_version: str | None = None  # the planned one: a PATCH conditioned on it answers 409 when it changed
    # The planned metadata.generation: Kubernetes moves it only when the spec changes (a Deployment's annotations
    # too), so a 409 with the same generation was a status update (a rollout going on), not another edit.
    generation: int | None = None


RunStatus = Literal["pending", "success", "failed", "skipped"]


@dataclass
class ServiceRun:
    """How the work on one item went: its final status, why, and whether its PATCH landed."""

    item: WorkItem
    status: RunStatus = "pending"
    message: str = ""
    applied: bool = False
    uncertain: bool = False  # a PATCH was sent and whether it landed could not be read back
    stopped: bool = False  # its rollout was not waited for to the end: the operation was asked to terminate
    generation: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    # Rolled out, its gates and soak still to run (with every other service's, together): the checks, the
    # digests its pods run and the rollout's message for its success.
    awaiting: tuple[verification.Job, dict[str, str] | None, str] | None = None

    @property
    def touched(self) -> bool:
        """Whether this run changed, or may have changed, its workload."""
        return self.applied or self.uncertain

    def describe(self) -> str:
        """What this run did on Rancher, for a message: service, site, cluster, namespace and images."""
        ref = self.item.target
        images = ", ".join(f"{m.name} {m.expected} → {m.new}" for m in self.item.moves)
        verb = "may have been changed" if self.uncertain and not self.applied else "changed"
        return (f"{self.item.kind} {self.item.name} {verb} on site {ref.site_name}, cluster {ref.cluster_id}, "
                f"namespace {ref.namespace} ({images})")


def finish(
    ctx: AppContext, run: ServiceRun, status: Literal["success", "failed", "skipped"], message: str,
    say: ProgressListener, digests: dict[str, str] | None = None,
) -> ServiceRun:
    """Settle a run: its status and message, recorded (durably, before anyone is told), then said."""
    run.status, run.message = status, message
    item = run.item
    extra = {"verified_digests": digests} if digests else {}
    records.update_result(ctx, item.result_id, status=status, error=message if status != "success" else None,
                          **extra)
    say(ProgressEvent(item.result_id, item.name, item.target.name, status, message))
    return run


def succeed_all(ctx: AppContext, outcomes: Sequence[tuple[ServiceRun, str, dict[str, str] | None]],
                say: ProgressListener) -> None:
    """Settle several runs as succeeded (message, digests its pods run) in one transaction, then say each."""
    records.update_results(ctx, [(run.item.result_id, {"status": "success", "error": None,
                                                        **({"verified_digests": found} if found else {})})
                                 for run, _, found in outcomes])
    for run, message, _ in outcomes:
        run.status, run.message = "success", message
        item = run.item
        say(ProgressEvent(item.result_id, item.name, item.target.name, "success", message))
