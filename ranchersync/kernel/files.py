"""Files that may hold secrets or what only operators should read (the SQLite database, its backups, reports):
created readable by their owner only, whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist (an existing file is left as it is)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, PRIVATE_MODE)  # the umask may have taken bits away, never added: this only states the intent


def write_private_text(path: Path, text: str) -> None:
    """Write `text` to a new or truncated file that is created 0600."""
    create_private(path)
    path.write_text(text, encoding="utf-8")
