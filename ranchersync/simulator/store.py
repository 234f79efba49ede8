"""A cluster's object store: objects by resource, resourceVersions, and the event history watches read."""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass

from .objects import Obj

# Enough history for any watch a test or kubectl opens; older resourceVersions answer 410 as after a compaction.
_HISTORY = 20_000


class RevisionClock:
    """The server-wide resourceVersion counter (etcd's revision), shared by all clusters of one server."""

    def __init__(self, start: int) -> None:
        self._lock = threading.Lock()
        self._value = start

    def next(self) -> int:
        """Advance and return the new revision."""
        with self._lock:
            self._value += 1
            return self._value

    @property
    def current(self) -> int:
        """The latest revision handed out."""
        with self._lock:
            return self._value


@dataclass(frozen=True)
class WatchEvent:
    """One change: the object after it (its last state for DELETED) and before it."""

    revision: int
    type: str
    plural: str
    obj: Obj
    old: Obj | None


class ObjectStore:
    """Objects keyed by (resource, namespace, name); stored dicts are never mutated, only replaced."""

    def __init__(self, clock: RevisionClock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._events: list[WatchEvent] = []
        self._revisions: list[int] = []
        self.compacted = 0

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        """The stored object, or None."""
        with self.lock:
            return self._objects.get(plural, {}).get((namespace, name))

    def list_objects(self, plural: str, namespace: str | None = None) -> list[Obj]:
        """Objects of a resource in key order (namespace, name), as etcd returns them."""
        with self.lock:
            items = self._objects.get(plural, {})
            keys = sorted(k for k in items if namespace is None or k[0] == namespace)
            return [items[k] for k in keys]

    def write(self, plural: str, obj: Obj, event: str) -> Obj:
        """Store an object under a new resourceVersion and record the event; returns what was stored.

        The caller must not change the object's nested dicts afterwards: readers share them without copying.
        """
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        with self.lock:
            revision = self.clock.next()
            # A fresh metadata dict, so an earlier version that shares the caller's dict keeps its resourceVersion.
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(revision)}}
            old = self._objects.setdefault(plural, {}).get(key)
            self._objects[plural][key] = obj
            self._record(WatchEvent(revision, event, plural, obj, old))
            return obj

    def remove(self, plural: str, namespace: str, name: str) -> Obj | None:
        """Delete an object; its DELETED event carries the last state under a new resourceVersion."""
        with self.lock:
            old = self._objects.get(plural, {}).pop((namespace, name), None)
            if old is None:
                return None
            revision = self.clock.next()
            last = {**old, "metadata": {**old["metadata"], "resourceVersion": str(revision)}}
            self._record(WatchEvent(revision, "DELETED", plural, last, old))
            return last

    def _record(self, event: WatchEvent) -> None:
        self._events.append(event)
        self._revisions.append(event.revision)
        if len(self._events) > _HISTORY:
            drop = _HISTORY // 2
            self.compacted = max(self.compacted, self._revisions[drop - 1])
            del self._events[:drop]
            del self._revisions[:drop]
        self.changed.notify_all()

    def events_after(self, revision: int) -> list[WatchEvent]:
        """Events newer than a revision; the caller checks `is_expired` first."""
        with self.lock:
            start = bisect.bisect_right(self._revisions, revision)
            return self._events[start:]

    def is_expired(self, revision: int) -> bool:
        """True when history no longer reaches back to that revision."""
        with self.lock:
            return revision < self.compacted

    def compact(self, revision: int | None = None) -> None:
        """Forget history before a revision (default: now), as etcd's compaction does; older ones then get 410."""
        with self.lock:
            # Compacting "now" advances the clock, so a continue token issued at the current revision expires too.
            target = self.clock.next() if revision is None else revision
            self.compacted = max(self.compacted, target)
            start = bisect.bisect_left(self._revisions, self.compacted)
            del self._events[:start]
            del self._revisions[:start]
