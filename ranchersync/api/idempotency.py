"""`Idempotency-Key` on POST: the first answer is kept per token for a day, and a retry with the same key gets it back
instead of acting twice (the same operation id; the cluster sees one patch). A retry while the first call is still
being answered is told so (409); the same key with another request is refused (422)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ranchersync.context import AppContext
from ranchersync.kernel.errors import RefusedByPolicy, ValidationError
from ranchersync.models import ApiToken, IdempotentAnswer, utcnow

__all__ = ["KEEP", "Replay", "abandon", "begin", "finish", "fingerprint"]

KEEP: Final = dt.timedelta(days=1)
MAX_KEY_LENGTH: Final = 200


class KeyInUse(RefusedByPolicy):
    """The first call with this key is still being answered."""

    kind = "idempotency_key_in_use"
    default_title = "The first call with this Idempotency-Key is still running"
    default_hint = "Retry in a moment: the first call's answer is then returned."


@dataclass(frozen=True)
class Replay:
    """The first answer to a call with this key."""

    status: int
    body: str
    headers: dict[str, Any]


PURPOSE: Final = b"ranchersync idempotency fingerprint"


def fingerprint(ctx: AppContext, method: str, path: str, body: bytes) -> str:
    """What makes two calls the same call: an HMAC keyed from the newest secret key, not a bare hash, since a body
    may carry a secret (a registry's password) that a stored SHA-256 would let anyone with the database guess."""
    key = ctx.cipher.derived_keys(PURPOSE)[0]
    return hmac.new(key, method.encode() + b" " + path.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def _check_key(key: str) -> str:
    text = key.strip()
    if not text or len(text) > MAX_KEY_LENGTH or not text.isprintable():
        raise ValidationError(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
    return text


def begin(ctx: AppContext, token_name: str, key: str, print_: str) -> Replay | None:
    """Claim `key` for this token's call (None: go ahead, then `finish` or `abandon`), or the first answer."""
    text = _check_key(key)
    now = utcnow()
    with ctx.session() as session:
        session.execute(delete(IdempotentAnswer).where(IdempotentAnswer.expires_at <= now))
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == token_name))
        assert token_id is not None  # it authenticated this call
        row = session.scalar(select(IdempotentAnswer).where(IdempotentAnswer.token_id == token_id,
                                                            IdempotentAnswer.key == text))
        if row is not None:
            if row.fingerprint != print_:
                raise ValidationError("this Idempotency-Key was used with another request: use a new key for a new "
                                      "call", title="Idempotency-Key reused")
            if row.status is None:
                raise KeyInUse(f"a call with Idempotency-Key '{text}' is still being answered")
            return Replay(row.status, row.body or "", dict(row.headers or {}))
    try:
        with ctx.session() as session:
            session.add(IdempotentAnswer(token_id=token_id, key=text, fingerprint=print_, created_at=now,
                                         expires_at=now + KEEP))
    except IntegrityError:  # a concurrent retry claimed it first
        raise KeyInUse(f"a call with Idempotency-Key '{text}' is still being answered") from None
    return None


def _row(session: Any, token_name: str, key: str) -> IdempotentAnswer | None:
    return session.scalar(select(IdempotentAnswer).join(ApiToken, ApiToken.id == IdempotentAnswer.token_id)
                          .where(ApiToken.name == token_name, IdempotentAnswer.key == key.strip()))


def finish(ctx: AppContext, token_name: str, key: str, status: int, body: str, headers: dict[str, Any]) -> None:
    """Keep the answer for the retries."""
    with ctx.session() as session:
        row = _row(session, token_name, key)
        if row is not None:
            row.status, row.body, row.headers = status, body, headers


def abandon(ctx: AppContext, token_name: str, key: str) -> None:
    """The call failed on our side (5xx): forget the key so a retry acts."""
    with ctx.session() as session:
        row = _row(session, token_name, key)
        if row is not None:
            session.delete(row)
