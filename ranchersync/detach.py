"""`python -m ranchersync.detach LOG COMMAND…`: start COMMAND in a new session, print its pid, and exit.

The command outlives whoever asked for it (a dashboard rerun, a test) and, once this launcher has exited, is
re-parented to init, which reaps it: no zombie and no "still running" warning in the process that wanted it.
"""

from __future__ import annotations

import subprocess
import sys


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
