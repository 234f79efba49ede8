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
    allowed_hosts: tuple[str, ...] = ()  # RANCHERSYNC_ALLOWED_HOSTS globs; empty: any host that is not denied

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
            allowed_hosts=parse_allowed_hosts(env.get("RANCHERSYNC_ALLOWED_HOSTS", "")),
        )


def parse_allowed_hosts(value: str) -> tuple[str, ...]:
    """RANCHERSYNC_ALLOWED_HOSTS: host globs separated by commas or spaces (`*.corp.example, 10.0.*`), lower-cased."""
    return tuple(p.strip().lower().strip("[]") for p in value.replace(",", " ").split() if p.strip())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary uid in a container
        return "unknown"
