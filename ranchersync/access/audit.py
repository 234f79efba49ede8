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

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from ranchersync.access.identity import Actor
from ranchersync.models import AuditEvent, AuditHead, utcnow

__all__ = [
    "AuditEvent", "AuditFilter", "AuditPage", "AuditRow", "ChainReport", "canonical", "digest", "iter_csv",
    "iter_events", "list_events", "list_restores", "record", "verify", "without_secrets", "Restore",
]

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


CHECKPOINT_EVERY = 100  # events between two signed checkpoints in the log stream (security/checkpoint.py)
CHECKPOINT_HOOK = "audit_checkpoint"  # session.info key: a callable(event id, hash) that signs and publishes


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
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction (the caller commits). `at` is for history written
    after the fact (the demo's): the chain's order is still the order of appending."""
    head = _lock_head(session)
    # The time is truncated to microseconds and made UTC here, so the stored value hashes the same when read back.
    event = AuditEvent(
        id=head.last_id + 1, at=at or utcnow(), actor=actor.email, role=actor.role, channel=actor.channel,
        client_address=actor.address, action=action, object_type=object_type, object_id=str(object_id or ""),
        object_name=object_name, before=without_secrets(before), after=without_secrets(after), detail=detail,
        prev_hash=head.last_hash,
    )
    event.hash = digest(event)
    session.add(event)
    head.last_id, head.last_hash = event.id, event.hash
    session.flush()
    publish = session.info.get(CHECKPOINT_HOOK)
    if publish is not None and event.id % CHECKPOINT_EVERY == 0:
        # Published once committed: a checkpoint of an event that was rolled back would never verify.
        event_id, event_hash = event.id, event.hash
        sa_event.listen(session, "after_commit", lambda _: publish(event_id, event_hash), once=True)
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


@dataclass(frozen=True)
class Restore:
    """A `db.restore` event: the log before it is the backup's, rolled back to the backup's chain head."""

    event_id: int
    at: str
    actor: str
    file: str
    head_id: int | None
    head_hash: str | None

    def payload(self) -> dict[str, Any]:
        """The `--json` shape."""
        return {"eventId": self.event_id, "at": self.at, "actor": self.actor, "file": self.file,
                "chainHeadId": self.head_id, "chainHeadHash": self.head_hash}


def list_restores(session: Session) -> list[Restore]:
    """Every restore from a backup recorded in the log, oldest first."""
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "db.restore").order_by(AuditEvent.id))
    return [Restore(e.id, _iso(e.at), e.actor, str((e.after or {}).get("file", e.object_name)),
                    (e.after or {}).get("chainHeadId"), (e.after or {}).get("chainHeadHash")) for e in events]


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


# --- reading the log -----------------------------------------------------------------------------------------------

MAX_PAGE_SIZE: Final = 500
CSV_HEADER: Final = ("id", "at", "actor", "role", "channel", "client_address", "action", "object_type", "object_id",
                     "object_name", "before", "after", "detail")


@dataclass(frozen=True)
class AuditFilter:
    """Events to show: in [since, until), by an actor, of an action (or a family: "freeze" is every freeze.*), about
    an object ("environment", "environment:3" or an object's name). Blank text means no filter."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None
    action: str | None = None
    object: str | None = None

    def __post_init__(self) -> None:
        from ranchersync.kernel.errors import ValidationError

        for name in ("actor", "action", "object"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value.strip() or None)
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValidationError(f"'{name}' needs a time zone (the audit log stores UTC)")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValidationError("'since' must come before 'until'")

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clause: each part can use an index (at; actor, at; action, at) or the primary key."""
        e = AuditEvent
        where: list[ColumnElement[bool]] = []
        if self.since is not None:
            where.append(e.at >= self.since)
        if self.until is not None:
            where.append(e.at < self.until)
        if self.actor is not None:
            where.append(e.actor == self.actor)
        if self.action is not None:
            family = self.action.removesuffix(".*").removesuffix(".")
            where.append(or_(e.action == self.action, e.action.startswith(family + ".", autoescape=True)))
        if self.object is not None:
            kind, sep, ident = self.object.partition(":")
            if sep:
                where.append(and_(e.object_type == kind.strip(), e.object_id == ident.strip()))
            else:
                where.append(or_(e.object_type == self.object, e.object_name == self.object))
        return where


@dataclass(frozen=True)
class AuditRow:
    """One event as the log shows it (detached from the session)."""

    id: int
    at: dt.datetime
    actor: str
    role: str
    channel: str
    client_address: str | None
    action: str
    object_type: str
    object_id: str
    object_name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditRow:
        """A detached copy of a stored event (its hashes stay behind: `audit verify` is their reader)."""
        return cls(event.id, event.at, event.actor, event.role, event.channel, event.client_address, event.action,
                   event.object_type, event.object_id, event.object_name, event.before, event.after, event.detail)

    @property
    def object_label(self) -> str:
        """"freeze window #3 · Prod", or what of it is known."""
        what = " ".join(p for p in (self.object_type.replace("_", " "), f"#{self.object_id}" if self.object_id
                                    else "") if p)
        return " · ".join(p for p in (what, self.object_name) if p)

    @property
    def change(self) -> str:
        """What changed, on one line: "url: a → b" for an update, the values for a creation, "was …" for a
        removal."""
        before, after = self.before or {}, self.after or {}
        if not after:
            return ("was " + "; ".join(f"{k}: {v}" for k, v in before.items())) if before else ""
        return "; ".join(f"{k}: {before[k]} → {v}" if k in before else f"{k}: {v}"
                         for k, v in after.items() if k not in before or before[k] != v)

    def payload(self) -> dict[str, Any]:
        """The event as `audit --json` prints it (camelCase keys)."""
        return {"id": self.id, "at": _iso(self.at), "actor": self.actor, "role": self.role, "channel": self.channel,
                "clientAddress": self.client_address, "action": self.action, "objectType": self.object_type,
                "objectId": self.object_id, "objectName": self.object_name, "before": self.before,
                "after": self.after, "detail": self.detail}


@dataclass(frozen=True)
class AuditPage:
    """One page of the filtered log, newest first, and the size of the whole."""

    items: tuple[AuditRow, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# Newest first by id: ids follow the chain, so this is the order events were written, read off the primary key.
_NEWEST_FIRST = AuditEvent.id.desc()


def list_events(session: Session, filters: AuditFilter | None = None, page: int = 1, page_size: int = 50
                ) -> AuditPage:
    """Events matching `filters`, newest first, page by page (from 1), with the total count."""
    from ranchersync.kernel.errors import ValidationError

    if page < 1:
        raise ValidationError("pages are numbered from 1")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError(f"a page holds 1 to {MAX_PAGE_SIZE} events")
    where = (filters or AuditFilter()).conditions()
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    rows = session.scalars(select(AuditEvent).where(*where).order_by(_NEWEST_FIRST).limit(page_size)
                           .offset((page - 1) * page_size))
    return AuditPage(tuple(AuditRow.of(e) for e in rows), total, page, page_size)


def iter_events(session: Session, filters: AuditFilter | None = None, batch: int = 1000) -> Iterator[AuditRow]:
    """Every matching event, newest first, read in batches by id (keyset: a long log costs no deep OFFSET)."""
    where = (filters or AuditFilter()).conditions()
    last: int | None = None
    while True:
        stmt = select(AuditEvent).where(*where).order_by(_NEWEST_FIRST).limit(batch)
        if last is not None:
            stmt = stmt.where(AuditEvent.id < last)
        rows = [AuditRow.of(e) for e in session.scalars(stmt)]
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].id
        session.expunge_all()


def iter_csv(session: Session, filters: AuditFilter | None = None) -> Iterator[str]:
    """The filtered log as CSV lines, newest first, streamed (consume it while the session is open); before and
    after as JSON, every cell defused for spreadsheets."""
    from ranchersync.kernel.csvexport import csv_lines

    def line(row: AuditRow) -> list[Any]:
        return [row.id, _iso(row.at), row.actor, row.role, row.channel, row.client_address or "", row.action,
                row.object_type, row.object_id, row.object_name, _json(row.before), _json(row.after), row.detail]

    return csv_lines(CSV_HEADER, map(line, iter_events(session, filters)))


def _json(value: Mapping[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def list_actions(session: Session) -> list[str]:
    """The actions the log holds, for a filter's choices."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def list_actors(session: Session) -> list[str]:
    """The actors the log holds, for a filter's choices."""
    return list(session.scalars(select(AuditEvent.actor).distinct().order_by(AuditEvent.actor)))
