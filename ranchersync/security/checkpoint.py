"""Signed checkpoints of the audit chain: its head published where the database cannot rewrite it.

Whoever can write to the database can recompute every hash of the chain and its head, so the chain alone proves
nothing against them. A checkpoint (`rsmcp1.<event id>.<event hash>.<HMAC>`) is signed with a key derived from the
encryption key, which the database does not hold, and written to the log stream (every `audit.CHECKPOINT_EVERY`
events and at each `audit verify`) and to the exporter's metrics: copies outside the database.
`audit verify --checkpoint` proves that today's log still extends one: the event it names is there with the same
hash, and the chain from the first event to the last is intact. A rewritten log fails that check even with a
perfectly recomputed chain.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.kernel.errors import BadInput
from ranchersync.models import AuditEvent, AuditHead
from ranchersync.security.crypto import TokenCipher

log = logging.getLogger(__name__)

_PURPOSE = b"ranchersync audit checkpoint v1"
PATTERN = re.compile(r"rsmcp1\.(\d+)\.([0-9a-f]{64})\.([0-9a-f]{64})")


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one event, signed."""

    event_id: int
    event_hash: str
    signature: str

    @property
    def text(self) -> str:
        return f"rsmcp1.{self.event_id}.{self.event_hash}.{self.signature}"

    def payload(self) -> dict[str, Any]:
        return {"eventId": self.event_id, "hash": self.event_hash, "checkpoint": self.text}


@dataclass(frozen=True)
class CheckpointReport:
    """Whether today's log extends a checkpoint; `problem` says why not."""

    checkpoint: Checkpoint
    ok: bool
    problem: str = ""

    def payload(self) -> dict[str, Any]:
        return {**self.checkpoint.payload(), "ok": self.ok, "problem": self.problem}


def sign(cipher: TokenCipher, event_id: int, event_hash: str) -> Checkpoint:
    """A checkpoint of this event, signed with the newest key."""
    key = cipher.derived_keys(_PURPOSE)[0]
    return Checkpoint(event_id, event_hash, _mac(key, event_id, event_hash))


def current(session: Session, cipher: TokenCipher) -> Checkpoint | None:
    """A checkpoint of the chain's head now (None while the log is empty)."""
    head = session.get(AuditHead, 1)
    if head is None or head.last_id == 0:
        return None
    return sign(cipher, head.last_id, head.last_hash)


def publish(checkpoint: Checkpoint) -> None:
    """Write it to the log stream (a copy outside the database)."""
    log.info("audit checkpoint %s", checkpoint.text,
             extra={"event": "audit.checkpoint", "checkpoint": checkpoint.text, "audit_event_id": checkpoint.event_id})


def parse(text: str) -> list[Checkpoint]:
    """Every checkpoint in a text (a value, or a log file that holds many); refused when there is none."""
    found = [Checkpoint(int(m.group(1)), m.group(2), m.group(3)) for m in PATTERN.finditer(text)]
    if not found:
        raise BadInput("no audit checkpoint found (one looks like rsmcp1.<event>.<hash>.<signature>; "
                       "`audit verify` prints one, the log stream and the exporter publish them)")
    return found


def check(session: Session, cipher: TokenCipher, checkpoint: Checkpoint) -> CheckpointReport:
    """Whether today's log extends this checkpoint: signed by one of our keys, its event present with the same
    hash, and the whole chain intact."""
    if not any(hmac.compare_digest(_mac(key, checkpoint.event_id, checkpoint.event_hash), checkpoint.signature)
               for key in cipher.derived_keys(_PURPOSE)):
        return CheckpointReport(checkpoint, False, "the checkpoint is not signed by any configured key: it was "
                                                   "altered, or made by another installation")
    stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == checkpoint.event_id))
    if stored is None:
        return CheckpointReport(checkpoint, False, f"the log no longer holds event #{checkpoint.event_id}: it was "
                                                   "cut back" + _restored_since(session, checkpoint))
    if not hmac.compare_digest(stored, checkpoint.event_hash):
        return CheckpointReport(checkpoint, False, f"event #{checkpoint.event_id} differs from the checkpoint: the "
                                                   "log was rewritten at or before it" +
                                _restored_since(session, checkpoint))
    chain = audit.verify(session)
    if not chain.ok:
        return CheckpointReport(checkpoint, False, chain.problem)
    return CheckpointReport(checkpoint, True)


def _restored_since(session: Session, checkpoint: Checkpoint) -> str:
    rolled_back = [r for r in audit.list_restores(session) if r.head_id is not None and r.head_id < checkpoint.event_id]
    if not rolled_back:
        return ""
    last = rolled_back[-1]
    return (f" (a restore from {last.file} at {last.at} rolled the log back to event #{last.head_id}: a checkpoint "
            "made after the backup cannot hold)")


def _mac(key: bytes, event_id: int, event_hash: str) -> str:
    return hmac.new(key, f"{event_id}.{event_hash}".encode(), hashlib.sha256).hexdigest()
