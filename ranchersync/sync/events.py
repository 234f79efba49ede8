"""What a running operation tells its listener: one typed event per step of one service, and a last `done`.

The vocabulary is closed (`Stage`), so a screen or the CLI maps each stage to a word and an icon and never
guesses: the automatic rollback after a failure is announced by the core with its own stages (`rolling_back`,
`rolled_back`, `rollback_failed`) on the lines of the services it undoes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from ranchersync.kernel.humanize import status_word as stage_words

log = logging.getLogger("ranchersync.sync")

Stage = Literal[
    "planned",  # the service is in the operation and waits for its turn
    "applying",  # its PATCH is being sent
    "applied",  # Rancher accepted the PATCH
    "verifying",  # waiting for the rollout to finish
    "success",  # changed (and verified, unless verification is off)
    "failed",  # the change or its rollout failed; `message` says why
    "skipped",  # not changed: someone else changed or deleted it since the plan; `message` says what
    "rolling_back",  # the automatic rollback is putting its previous images back
    "rolled_back",  # the automatic rollback restored it
    "rollback_failed",  # the automatic rollback could not restore it; `message` says why
    "done",  # the operation finished: `operation_id` and, in `message`, its final status (no service)
]
STAGES: tuple[Stage, ...] = get_args(Stage)
# Stages whose message is shown next to the service: the reason it did not go as planned.
# A `verifying` message is a gate's or the soak's measurement ("gate error-rate 2/3: 0.01 ✓").
NOTED_STAGES: frozenset[Stage] = frozenset({"failed", "skipped", "rollback_failed", "verifying"})
# A service's last stage in the forward run, and in the automatic rollback.
FINAL_STAGES: frozenset[Stage] = frozenset({"success", "failed", "skipped", "rolled_back", "rollback_failed"})
# How the automatic rollback announces each step of undoing a service.
ROLLBACK_STAGES: dict[Stage, Stage] = {
    "planned": "rolling_back", "applying": "rolling_back", "applied": "rolling_back", "verifying": "rolling_back",
    "success": "rolled_back", "failed": "rollback_failed", "skipped": "rollback_failed",
}


@dataclass(frozen=True)
class ProgressEvent:
    """What just happened to one service (its result row, name and app instance), or, with `done`, to the whole
    operation."""

    result_id: int
    service: str
    target: str
    stage: Stage
    message: str = ""
    operation_id: int | None = None  # set on `done`

    @property
    def words(self) -> str:
        """The stage as a user reads it: 'rolled back', 'rollback failed'."""
        return stage_words(self.stage)

    @property
    def note(self) -> str:
        """The message worth showing beside the stage ('' when there is none or the stage needs none)."""
        return self.message if self.message and self.stage in NOTED_STAGES else ""


ProgressListener = Callable[[ProgressEvent], None]


def progress_line(event: ProgressEvent) -> str | None:
    """One plain line for a service's event — 'web @ shop-east: failed: rollout timed out' — or None for `done`,
    which is about the operation (report it from its history detail)."""
    if event.stage == "done":
        return None
    note = f": {event.note}" if event.note else ""
    return f"{event.service} @ {event.target}: {event.words}{note}"


# Stages worth a warning in the log; the rest are the normal course of a sync.
_WARNING_STAGES: frozenset[Stage] = frozenset({"failed", "rollback_failed"})


def logged(
    listener: ProgressListener | None, *, kind: str, operation_id: int, actor: str, environment: str
) -> ProgressListener:
    """A listener that logs each event as `<kind>.<stage>` (`sync.applying`, `rollback.done`…) with the operation
    id, actor and target environment, then passes it on: the one place where the sync's steps reach the log."""

    def listen(event: ProgressEvent) -> None:
        facts = {"event": f"{kind}.{event.stage}", "operation_id": operation_id, "actor": actor,
                 "environment": environment}
        if event.stage == "done":
            log.info("operation #%s finished: %s", operation_id, event.message, extra={**facts,
                                                                                       "status": event.message})
        else:
            level = logging.WARNING if event.stage in _WARNING_STAGES else logging.INFO
            log.log(level, "%s", progress_line(event), extra={**facts, "service": event.service,
                                                                 "target": event.target})
        if listener is not None:
            listener(event)

    return listen
