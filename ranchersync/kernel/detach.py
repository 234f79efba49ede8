"""Processes by pid: whether one is alive, stopping one, and starting one detached.

`python -m ranchersync.kernel.detach LOG COMMAND…` starts COMMAND in a new session, prints its pid, and exits. The
command outlives whoever asked for it (a dashboard rerun, a test) and, once this launcher has exited, is
re-parented to init, which reaps it: no zombie and no "still running" warning in the process that wanted it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it is just not ours
        return True
    return True


def command_line(pid: int) -> list[str]:
    """The arguments a process was started with (empty when it is gone or not readable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def terminate(pid: int) -> bool:
    """Ask a process to stop (SIGTERM); False when there was none to ask."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def main(argv: list[str]) -> int:
    """Launch argv[1:] detached, its standard error appended to the file argv[0]."""
    log, command = argv[0], argv[1:]
    with open(log, "ab") as log_handle:
        process = subprocess.Popen(  # noqa: S603 - the caller's own command
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_handle, start_new_session=True
        )
    print(process.pid, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
