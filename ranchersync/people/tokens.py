"""API tokens (issue 21): what a pipeline calls the HTTP API with, instead of holding the database and the key.

An admin creates a token with a name, a role and optionally the environments it is limited to, and an expiry; the
secret is shown once. A token acts as `token:NAME` on the `api` channel with its role, limited to its environments
(`Actor.environments`: a change elsewhere is refused, 403), and is audited like a person.

How the secret is kept
    The secret is `rsm_<lookup>_<random>`: `lookup` (16 hex characters, stored in clear) finds the row, the whole
    secret (256 random bits after the lookup) is stored only as a salted PBKDF2-HMAC-SHA256 hash and compared with
    `hmac.compare_digest`. Nothing that is stored lets anyone call the API. A verified secret is remembered in this
    process (keyed by the SHA-256 of the secret and the stored hash) so a pipeline's calls do not each pay the slow
    hash; revoking, expiring or replacing the row still takes effect at the next call, because the row is read every
    time.

`keys check` and `keys rotate` do not cover tokens: they are hashed, not encrypted with the key, so rotating the key
leaves every token valid and a lost key loses none of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.kernel.errors import NotFoundError, RefusedByPolicy, ValidationError
from ranchersync.kernel.roles import check_role
from ranchersync.kernel.timefmt import iso
from ranchersync.models import ApiToken, Environment, IdempotentAnswer, Role, utcnow
from ranchersync.storage.lookup import get_by_ref

__all__ = [
    "TOKEN_PREFIX", "IssuedToken", "TokenRefused", "TokenSummary", "authenticate", "create_token", "list_tokens",
    "revoke_token", "summary_payload",
]

TOKEN_PREFIX: Final = "rsm_"
NAME_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
MAX_EXPIRES_DAYS: Final = 3650
PBKDF2_ITERATIONS: Final = 120_000
_SECRET_SHAPE: Final = re.compile(r"rsm_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
LAST_USE_PRECISION: Final = dt.timedelta(seconds=30)  # last_used_at is written at most this often per token


class TokenRefused(RefusedByPolicy):
    """No token, or one that is unknown, expired or revoked (the API answers 401)."""

    kind = "unauthenticated"
    default_title = "A valid API token is required"
    default_hint = ("Send `Authorization: Bearer <token>` with a token an admin created (`tokens create`); an "
                    "expired or revoked token needs a new one.")


@dataclass(frozen=True)
class TokenSummary:
    """A token as lists show it: never the secret, nor its hash."""

    name: str
    role: Role
    environments: tuple[str, ...] | None  # None: every environment
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_address: str | None = None
    revoked_by: str | None = None

    def state(self, now: dt.datetime | None = None) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: `secret` is shown once and never stored."""

    secret: str
    summary: TokenSummary

    def __repr__(self) -> str:  # a log line or a traceback never carries the secret
        return f"IssuedToken(name={self.summary.name!r}, secret='(hidden)')"


def summary_payload(summary: TokenSummary, now: dt.datetime | None = None) -> dict[str, Any]:
    """A token as `tokens list --json` and the People page show it (camelCase, like every payload)."""
    return {
        "name": summary.name, "role": summary.role,
        "environments": list(summary.environments) if summary.environments is not None else None,
        "createdBy": summary.created_by, "createdAt": iso(summary.created_at), "expiresAt": iso(summary.expires_at),
        "lastUsedAt": iso(summary.last_used_at), "lastUsedAddress": summary.last_used_address,
        "revokedAt": iso(summary.revoked_at), "revokedBy": summary.revoked_by, "state": summary.state(now),
    }


# ---- hashing ------------------------------------------------------------------------------------------------------


def _hash(secret: str, salt: bytes, iterations: int = PBKDF2_ITERATIONS) -> str:
    derived = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${derived.hex()}"


def _matches(secret: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, _ = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        candidate = _hash(secret, bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(candidate.encode(), stored.encode())


class _Verified:
    """Secrets this process verified already, keyed by SHA-256(secret) and the stored hash (bounded)."""

    def __init__(self, limit: int = 1024) -> None:
        self._seen: dict[tuple[str, str], None] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def check(self, secret: str, stored: str) -> bool:
        key = (hashlib.sha256(secret.encode()).hexdigest(), stored)
        with self._lock:
            if key in self._seen:
                return True
        if not _matches(secret, stored):
            return False
        with self._lock:
            if len(self._seen) >= self._limit:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = None
        return True


_VERIFIED: Final = _Verified()


# ---- use-cases ----------------------------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    text = (name or "").strip().lower()
    if not NAME_PATTERN.fullmatch(text):
        raise ValidationError(f"'{name[:80]}' is not a token name: use 1 to 63 lower-case letters, digits, '.', '_' "
                              "or '-', starting with a letter or digit")
    return text


def _environment_names(session: Session, ids: Sequence[int] | None) -> tuple[str, ...] | None:
    if ids is None:
        return None
    rows = session.scalars(select(Environment).where(Environment.id.in_(list(ids))))
    return tuple(sorted(env.name for env in rows))  # a removed environment drops out: the token may do less


def _summary(session: Session, token: ApiToken) -> TokenSummary:
    return TokenSummary(token.name, token.role, _environment_names(session, token.environment_ids),  # type: ignore[arg-type]
                        token.created_by, token.created_at, token.expires_at, token.last_used_at, token.revoked_at,
                        token.last_used_address, token.revoked_by)


def create_token(session: Session, actor: Actor, *, name: str, role: Role, environments: Sequence[str] = (),
                 expires_days: int | None = None) -> IssuedToken:
    """Create a token (admin only; audited as `token.create`); the caller commits. The secret is returned once.

    `environments` (names or ids) limits what the token may change to those environments; empty: every one.
    """
    require(actor, "manage_roles")
    text = _clean_name(name)
    checked_role = check_role(role)
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise ValidationError(f"--expires-days must be between 1 and {MAX_EXPIRES_DAYS}")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == text)) is not None:
        raise ValidationError(f"a token named '{text}' exists already (revoked ones keep their name)")
    envs = [get_by_ref(session, Environment, ref) for ref in dict.fromkeys(environments)]
    lookup = secrets.token_hex(8)
    secret = f"{TOKEN_PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    token = ApiToken(
        name=text, role=checked_role, environment_ids=sorted({e.id for e in envs}) if envs else None, lookup=lookup,
        secret_hash=_hash(secret, secrets.token_bytes(16)), created_by=actor.email, created_at=now,
        expires_at=now + dt.timedelta(days=expires_days) if expires_days is not None else None,
    )
    session.add(token)
    session.flush()
    summary = _summary(session, token)
    audit.record(session, actor, "token.create", object_type="api_token", object_id=token.id, object_name=text,
                 after={k: v for k, v in summary_payload(summary, now).items()
                        if k in ("role", "environments", "expiresAt")})
    return IssuedToken(secret, summary)


def list_tokens(session: Session) -> list[TokenSummary]:
    """Every token, revoked and expired ones too, by name."""
    return [_summary(session, t) for t in session.scalars(select(ApiToken).order_by(ApiToken.name))]


def revoke_token(session: Session, actor: Actor, name: str) -> TokenSummary:
    """Revoke a token at once (admin only; audited as `token.revoke`); the caller commits. Its replayable answers
    go with it."""
    require(actor, "manage_roles")
    token = session.scalar(select(ApiToken).where(ApiToken.name == (name or "").strip().lower()))
    if token is None:
        raise NotFoundError(f"no token '{name[:80]}'", hint="`tokens list` shows the tokens.")
    if token.revoked_at is not None:
        raise ValidationError(f"the token '{token.name}' is revoked already")
    token.revoked_at, token.revoked_by = utcnow(), actor.email
    session.execute(delete(IdempotentAnswer).where(IdempotentAnswer.token_id == token.id))
    session.flush()
    audit.record(session, actor, "token.revoke", object_type="api_token", object_id=token.id, object_name=token.name)
    return _summary(session, token)


def find_token(session: Session, secret: str) -> ApiToken:
    """The active token whose secret this is; TokenRefused (401) otherwise, saying no more than needed."""
    match = _SECRET_SHAPE.fullmatch((secret or "").strip())
    if match is None:
        raise TokenRefused("the API token is missing or malformed")
    token = session.scalar(select(ApiToken).where(ApiToken.lookup == match.group(1)))
    if token is None or not _VERIFIED.check(match.group(0), token.secret_hash):
        raise TokenRefused("the API token is not valid")
    now = utcnow()
    if token.revoked_at is not None:
        raise TokenRefused(f"the API token '{token.name}' was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused(f"the API token '{token.name}' expired at {iso(token.expires_at)}")
    return token


def authenticate(session: Session, secret: str, *, address: str = "") -> Actor:
    """The actor an API call acts as: `token:NAME`, channel `api`, the token's role and environments.

    Unknown, malformed, expired or revoked: TokenRefused (401). Notes the last use (at most every 30 s per token);
    the caller commits.
    """
    token = find_token(session, secret)
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_PRECISION \
            or token.last_used_address != (address or None):
        token.last_used_at, token.last_used_address = now, (address or None)
        session.flush()
    names = _environment_names(session, token.environment_ids)
    return Actor(f"token:{token.name}", token.role, "api", name=token.name,  # type: ignore[arg-type]
                 address=(address or None), environments=frozenset(names) if names is not None else None)
