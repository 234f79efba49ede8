"""A test-only fault hook: `RANCHERSYNC_FAULT_AT=STEP[:N]` makes this process kill itself with SIGKILL (no clean-up,
no `finally`, as the OOM killer or a lost node would) the Nth time a sync reaches STEP. The crash tests set it on
the CLI they start; never set it anywhere else.

Steps are the boundaries of a sync, each after its record was written:
`plan` (the operation is opened with its planned results, nothing sent to Rancher), `patch` (a PATCH landed and is
recorded as applied), `verify` (a rollout check starts), `record` (a service's final result is recorded; the last
one comes just before the operation's own status is written). N counts from 1 (default 1).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

__all__ = ["STEPS", "reached"]

# The step a test names → the sync's progress stage that marks it (`ranchersync.sync.events.Stage`).
STEPS = {"plan": "planned", "patch": "applied", "verify": "verifying", "record": "success"}
_VARIABLE = "RANCHERSYNC_FAULT_AT"
_lock = threading.Lock()
_seen: Counter[str] = Counter()


def _target() -> tuple[str, int] | None:
    raw = os.environ.get(_VARIABLE, "").strip()  # the one read of this variable
    if not raw:
        return None
    step, _, count = raw.partition(":")
    if step not in STEPS or not (count or "1").isdecimal():
        raise ValueError(f"{_VARIABLE}={raw!r}: expected one of {', '.join(STEPS)}, optionally :N")
    return STEPS[step], int(count or "1")


_TARGET = _target()


def reached(stage: str) -> None:
    """Called at each stage of a sync: kills the process when it is the configured one (a no-op otherwise)."""
    if _TARGET is None or stage != _TARGET[0]:
        return
    with _lock:
        _seen[stage] += 1
        if _seen[stage] == _TARGET[1]:
            os.kill(os.getpid(), signal.SIGKILL)
