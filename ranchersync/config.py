"""Settings from environment variables (DESIGN.md, "Configuration")."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///data/ranchersync.db"
DEFAULT_KEY_FILE = Path("data/secret.key")


@dataclass(frozen=True)
class Settings:
    """What the core needs to know about its surroundings."""

    database_url: str
    secret_keys: tuple[str, ...]  # from RANCHERSYNC_SECRET_KEY, newest first; empty means "use the key file"
    key_file: Path
    user: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read the RANCHERSYNC_* variables, with the documented defaults."""
        env = os.environ if environ is None else environ
        keys = tuple(k.strip() for k in env.get("RANCHERSYNC_SECRET_KEY", "").split(",") if k.strip())
        return cls(
            database_url=env.get("RANCHERSYNC_DATABASE_URL") or DEFAULT_DATABASE_URL,
            secret_keys=keys,
            key_file=Path(env.get("RANCHERSYNC_KEY_FILE") or DEFAULT_KEY_FILE),
            user=env.get("RANCHERSYNC_USER") or _os_user(),
        )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary uid in a container
        return "unknown"
