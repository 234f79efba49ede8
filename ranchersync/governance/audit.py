"""The audit log: append-only events chained by SHA-256, so an edited, inserted or deleted row is detected.

Each event stores the hash of the event before it and its own hash over its canonical form (sorted-key JSON of every
field but the hash). Appending locks the one-row chain head (an UPDATE: a row lock on PostgreSQL, the write lock on
SQLite) before reading it, so two writers never both extend the same event; `verify` walks the chain and compares
its end with the head, so removing the newest events is detected too. Events are written in the caller's
transaction: a change and its audit event commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ranchersync.governance.identity import Actor
from ranchersync.models import AuditEvent, AuditHead, utcnow

__all__ = ["AuditEvent", "ChainReport", "canonical", "digest", "record", "verify", "without_secrets"]

GENESIS: Final = "0" * 64
# Keys whose values never enter an event, whatever a caller passes (tokens, Apprise URLs, keys).
_SECRET_KEYS: Final = frozenset({"token", "token_encrypted", "secret", "password", "url_encrypted", "apprise_url"})


def canonical(event: AuditEvent) -> str:
    """The text an event's hash covers: every field but the hash, as sorted-key JSON, times in ISO UTC."""
    fields = {
        "id": event.id,
        "at": event.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": event.actor,
        "role": event.role,
        "channel": event.channel,
        "client_address": event.client_address,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_name": event.object_name,
        "before": event.before,
        "after": event.after,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def digest(event: AuditEvent) -> str:
    """The SHA-256 of the event's canonical form."""
    return hashlib.sha256(canonical(event).encode()).hexdigest()


def without_secrets(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A before/after snapshot with secret fields replaced by a marker (a replaced token shows as "(replaced)")."""
    if values is None:
        return None
    return {k: ("(secret)" if k in _SECRET_KEYS else v) for k, v in values.items()}


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    object_type: str = "",
    object_id: object = "",
    object_name: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str = "",
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction (the caller commits)."""
    head = _lock_head(session)
    # The time is truncated to microseconds and made UTC here, so the stored value hashes the same when read back.
    event = AuditEvent(
        id=head.last_id + 1, at=utcnow(), actor=actor.email, role=actor.role, channel=actor.channel,
        client_address=actor.address, action=action, object_type=object_type, object_id=str(object_id or ""),
        object_name=object_name, before=without_secrets(before), after=without_secrets(after), detail=detail,
        prev_hash=head.last_hash,
    )
    event.hash = digest(event)
    session.add(event)
    head.last_id, head.last_hash = event.id, event.hash
    session.flush()
    return event


def _lock_head(session: Session) -> AuditHead:
    # A no-op UPDATE takes the lock before the head is read; the first event creates the head.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=AuditHead.last_id))
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
        session.flush()  # two first writers: one gets an IntegrityError here and its transaction is retried
    return head


@dataclass(frozen=True)
class ChainReport:
    """What `audit verify` found: how many events were checked and the first broken link, if any."""

    checked: int
    broken_at: int | None = None  # the id of the first event that does not fit
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Whether the chain is intact."""
        return self.broken_at is None


def verify(session: Session, batch: int = 1000) -> ChainReport:
    """Walk the chain from the first event: each hash must match its content and link to the one before."""
    expected_prev, expected_id, checked = GENESIS, 1, 0
    for event in _walk(session, batch):
        if event.id != expected_id:
            return ChainReport(checked, expected_id, f"event #{expected_id} is missing (the next one is #{event.id})")
        if event.prev_hash != expected_prev:
            return ChainReport(checked, event.id, f"event #{event.id} does not link to the event before it")
        if digest(event) != event.hash:
            return ChainReport(checked, event.id, f"event #{event.id} was changed after it was written")
        expected_prev, expected_id, checked = event.hash, event.id + 1, checked + 1
    head = session.get(AuditHead, 1)
    last_id, last_hash = (head.last_id, head.last_hash) if head else (0, GENESIS)
    if (last_id, last_hash) != (expected_id - 1, expected_prev):
        return ChainReport(checked, expected_id, f"the newest events after #{expected_id - 1} are missing "
                                                 f"(the chain head says #{last_id})")
    return ChainReport(checked)


def _walk(session: Session, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.id > last).order_by(AuditEvent.id)
                                    .limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].id
        session.expunge_all()  # a long history must not pile up in the identity map
