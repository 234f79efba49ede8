"""Settings from environment variables (DESIGN.md, "Configuration")."""

from __future__ import annotations

import getpass
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.roles import RolePolicy

AUTH_MODES = ("none", "oidc", "proxy")

DEFAULT_DATABASE_URL = "sqlite:///data/ranchersync.db"
MAIL_URL_ENV = "RANCHERSYNC_MAIL_URL"  # Apprise mailto://… of the outgoing server: a secret, never stored or shown
KEY_FILE_NAME = "secret.key"
OUTAGE_ENV = "RANCHERSYNC_DB_OUTAGE_SECONDS"


@dataclass(frozen=True)
class Settings:
    """What the core needs to know about its surroundings."""

    database_url: str
    secret_keys: tuple[str, ...]  # from RANCHERSYNC_SECRET_KEY, newest first; empty means "use the key file"
    key_file: Path
    user: str
    allowed_hosts: tuple[str, ...] = ()  # RANCHERSYNC_ALLOWED_HOSTS globs; empty: any host that is not denied
    approval_ttl_hours: float = 24.0  # RANCHERSYNC_APPROVAL_TTL_HOURS: how long an approval request waits
    # Sign-in (DESIGN.md "Configuration"): "" means unset — `none` on a loopback address, refused elsewhere.
    auth: str = ""  # RANCHERSYNC_AUTH: none | oidc | proxy
    role_claim: str = "groups"  # RANCHERSYNC_ROLE_CLAIM: the ID-token claim holding the groups
    role_policy: RolePolicy = RolePolicy()  # RANCHERSYNC_ADMINS, RANCHERSYNC_ROLE_MAP, RANCHERSYNC_DEFAULT_ROLE
    user_header: str = "X-Forwarded-Email"  # RANCHERSYNC_USER_HEADER (proxy mode)
    groups_header: str = "X-Forwarded-Groups"  # RANCHERSYNC_GROUPS_HEADER (proxy mode)
    allow_anonymous: bool = False  # RANCHERSYNC_ALLOW_ANONYMOUS=1: `none` on a non-loopback address
    # RANCHERSYNC_TRUSTED_PROXIES (proxy mode): the networks whose identity headers are believed; empty: loopback only
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # RANCHERSYNC_OIDC_ALLOW_UNVERIFIED_EMAIL=1: for a provider that never sends `email_verified` (and verifies anyway)
    allow_unverified_email: bool = False
    os_user: str = ""  # who runs this process, whatever RANCHERSYNC_USER claims: the CLI's audit events carry both
    # RANCHERSYNC_DB_OUTAGE_SECONDS: how long a running sync retries its database writes (a PostgreSQL failover takes
    # 10–30 s) before it stops as interrupted, naming what it changed.
    db_outage_seconds: float = 60.0
    # RANCHERSYNC_DB_APP_ROLE (PostgreSQL): the role the app runs as, granted its rights by `db upgrade` run as the
    # owner: everything but UPDATE, DELETE and TRUNCATE on the audit log, so the app cannot rewrite it.
    db_app_role: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read the RANCHERSYNC_* variables, with the documented defaults."""
        env = os.environ if environ is None else environ
        keys = tuple(k.strip() for k in env.get("RANCHERSYNC_SECRET_KEY", "").split(",") if k.strip())
        database_url = env.get("RANCHERSYNC_DATABASE_URL") or DEFAULT_DATABASE_URL
        return cls(
            database_url=database_url,
            secret_keys=keys,
            key_file=key_file_path(env.get("RANCHERSYNC_KEY_FILE"), database_url),
            user=env.get("RANCHERSYNC_USER") or _os_user(),
            os_user=_os_user(),
            allowed_hosts=parse_allowed_hosts(env.get("RANCHERSYNC_ALLOWED_HOSTS", "")),
            approval_ttl_hours=parse_hours(env.get("RANCHERSYNC_APPROVAL_TTL_HOURS", ""), 24.0),
            auth=parse_auth(env.get("RANCHERSYNC_AUTH", "")),
            role_claim=env.get("RANCHERSYNC_ROLE_CLAIM", "").strip() or "groups",
            role_policy=RolePolicy.parse(env.get("RANCHERSYNC_ADMINS", ""), env.get("RANCHERSYNC_ROLE_MAP", ""),
                                         env.get("RANCHERSYNC_DEFAULT_ROLE", "")),
            user_header=_header(env, "RANCHERSYNC_USER_HEADER", "X-Forwarded-Email"),
            groups_header=_header(env, "RANCHERSYNC_GROUPS_HEADER", "X-Forwarded-Groups"),
            allow_anonymous=parse_flag(env.get("RANCHERSYNC_ALLOW_ANONYMOUS", ""), "RANCHERSYNC_ALLOW_ANONYMOUS"),
            trusted_proxies=parse_networks(env.get("RANCHERSYNC_TRUSTED_PROXIES", ""), "RANCHERSYNC_TRUSTED_PROXIES"),
            allow_unverified_email=parse_flag(env.get("RANCHERSYNC_OIDC_ALLOW_UNVERIFIED_EMAIL", ""),
                                              "RANCHERSYNC_OIDC_ALLOW_UNVERIFIED_EMAIL"),
            db_outage_seconds=parse_seconds(env.get(OUTAGE_ENV, ""), 60.0, OUTAGE_ENV),
            db_app_role=parse_role_name(env.get(APP_ROLE_ENV, ""), APP_ROLE_ENV),
        )


APP_ROLE_ENV = "RANCHERSYNC_DB_APP_ROLE"
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def parse_role_name(value: str, variable: str) -> str:
    """A PostgreSQL role name (lower-case letters, digits, underscores: it is written into GRANT statements)."""
    value = value.strip()
    if value and not _ROLE_NAME.fullmatch(value):
        raise ValidationError(f"{variable} must be a PostgreSQL role name of lower-case letters, digits and "
                              "underscores")
    return value


def mail_url(environ: dict[str, str] | None = None) -> str:
    """RANCHERSYNC_MAIL_URL, read when needed (never kept in Settings, the database or a log); "" when unset."""
    return (os.environ if environ is None else environ).get(MAIL_URL_ENV, "").strip()


def parse_auth(value: str) -> str:
    """RANCHERSYNC_AUTH: one of none, oidc, proxy; empty means unset (the start-up rule decides)."""
    mode = value.strip().lower()
    if mode and mode not in AUTH_MODES:
        raise ValidationError(f"RANCHERSYNC_AUTH must be one of {', '.join(AUTH_MODES)}, not {value!r}")
    return mode


def parse_flag(value: str, name: str) -> bool:
    """A yes/no variable: 1/true/yes or 0/false/no (empty: no)."""
    text = value.strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ValidationError(f"{name} must be 1 or 0, not {value!r}")


def parse_networks(value: str, name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses or CIDRs separated by commas or spaces (`10.0.0.0/8, 127.0.0.1`); a wrong one names the variable."""
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            raise ValidationError(f"{name} must list IP addresses or CIDRs (10.0.0.0/8, 127.0.0.1), not {item!r}") \
                from None
    return tuple(networks)


def _header(env: os._Environ[str] | dict[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not all(c.isalnum() or c == "-" for c in value):
        raise ValidationError(f"{name} must be an HTTP header name (letters, digits and '-'), not {value!r}")
    return value


def key_file_path(configured: str | None, database_url: str) -> Path:
    """RANCHERSYNC_KEY_FILE made absolute; by default `secret.key` beside the SQLite database file (the key and the
    database it opens belong together), else `data/secret.key` under the working folder.

    Absolute at start-up, so messages name the real file and a later change of folder cannot move it.
    """
    if configured:
        return Path(os.path.abspath(Path(configured).expanduser()))  # lexically: a symlink stays a symlink
    try:
        url = make_url(database_url)
    except ArgumentError:
        url = None
    if url is not None and url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:"):
        return Path(os.path.abspath(url.database)).parent / KEY_FILE_NAME
    return Path(os.path.abspath(Path("data", KEY_FILE_NAME)))


def parse_allowed_hosts(value: str) -> tuple[str, ...]:
    """RANCHERSYNC_ALLOWED_HOSTS: host globs separated by commas or spaces (`*.corp.example, 10.0.*`), lower-cased."""
    return tuple(p.strip().lower().strip("[]") for p in value.replace(",", " ").split() if p.strip())


def parse_seconds(value: str, default: float, name: str) -> float:
    """A number of seconds from 0 to an hour; empty means the default."""
    if not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise ValidationError(f"{name} must be a number of seconds between 0 and 3600, not {value!r}")
    return seconds


def parse_hours(value: str, default: float) -> float:
    """A positive number of hours (RANCHERSYNC_APPROVAL_TTL_HOURS); empty means the default."""
    if not value.strip():
        return default
    try:
        hours = float(value)
    except ValueError:
        hours = 0.0
    if not 0 < hours <= 24 * 366:
        raise ValidationError(f"RANCHERSYNC_APPROVAL_TTL_HOURS must be a number of hours above 0, not {value!r}")
    return hours


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary uid in a container
        return "unknown"
