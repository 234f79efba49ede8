"""A simulated Rancher in its own process, as a real Rancher would be: the benchmark's client and the server do
not share one interpreter lock."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunningSimulator:
    """Where the simulator listens and the token it accepts."""

    url: str
    token: str


@contextmanager
def simulator_process(world: dict[str, Any], *options: str) -> Iterator[RunningSimulator]:
    """Serve `world` with `python -m ranchersync simulate OPTIONS…` until the block ends."""
    with tempfile.TemporaryDirectory() as tmp:
        world_file = Path(tmp) / "world.json"
        world_file.write_text(json.dumps(world))
        process = subprocess.Popen(
            [sys.executable, "-m", "ranchersync", "simulate", "--world", str(world_file), *options],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            assert process.stdout is not None
            found: dict[str, str] = {}
            while len(found) < 2:
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError("the simulator exited before it printed its URL")
                key, _, value = line.strip().partition("=")
                if key in ("RANCHER_URL", "RANCHER_TOKEN"):
                    found[key] = value
            yield RunningSimulator(found["RANCHER_URL"], found["RANCHER_TOKEN"])
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout:
                process.stdout.close()
