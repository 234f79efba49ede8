"""What one (site, cluster) runs, in memory: its workloads as the watches deliver them and its pods, and which
workloads changed since the writer last took them (a pod's change dirties the workloads that select it)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ranchersync.inventory.digests import running_images, selects
from ranchersync.rancher import Pod, Workload

Key = tuple[str, str, str]  # (kind, namespace, name)


def trimmed(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as stored: without managedFields and the last-applied copy of itself (often half its size)."""
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if "annotations" in meta:
        meta["annotations"] = annotations
    return {**obj, "metadata": meta}


@dataclass(frozen=True)
class Change:
    """A workload to write (`payload` set) or to delete (`payload` None)."""

    key: Key
    payload: dict[str, Any] | None
    running: dict[str, Any] | None = None


class ClusterState:
    """Thread-safe: the watches of one cluster write, the writer takes what changed."""

    def __init__(self, site_id: int, cluster_id: str) -> None:
        self.site_id = site_id
        self.cluster_id = cluster_id
        self._lock = threading.Lock()
        self._workloads: dict[Key, dict[str, Any]] = {}
        self._by_namespace: dict[str, set[Key]] = defaultdict(set)
        self._pods: dict[str, dict[str, Pod]] = defaultdict(dict)
        self._dirty: set[Key] = set()
        self._written: dict[Key, tuple[str, dict[str, Any] | None]] = {}  # what the database holds

    def load(self, stored: Iterable[tuple[Key, dict[str, Any], dict[str, Any] | None]]) -> None:
        """Start from what the database holds (a collector taking over): the first lists then diff against it."""
        with self._lock:
            for key, payload, running in stored:
                self._put(key, payload)
                self._written[key] = (_version(payload), running)
            self._dirty.clear()

    def replace_kind(self, kind: str, items: Iterable[Mapping[str, Any]]) -> None:
        """A fresh list of one kind: what it lacks was deleted meanwhile, what differs changed."""
        with self._lock:
            if kind == "Pod":
                old = {(ns, name) for ns, pods in self._pods.items() for name in pods}
                self._pods.clear()
                for item in items:
                    pod = Pod.from_k8s(item)
                    self._pods[pod.namespace][pod.name] = pod
                new = {(ns, name) for ns, pods in self._pods.items() for name in pods}
                # Any workload whose pods may differ: all of them in the namespaces touched.
                for ns in {ns for ns, _ in old | new}:
                    self._dirty |= self._by_namespace.get(ns, set())
                return
            seen: set[Key] = set()
            for item in items:
                key = _key(kind, item)
                seen.add(key)
                self._upsert(key, item)
            for key in [k for k in self._workloads if k[0] == kind and k not in seen]:
                self._remove(key)

    def apply(self, kind: str, event_type: str, obj: Mapping[str, Any]) -> None:
        """One watch event (ADDED, MODIFIED or DELETED)."""
        with self._lock:
            if kind == "Pod":
                pod = Pod.from_k8s(obj)
                before = self._pods[pod.namespace].pop(pod.name, None)
                if event_type != "DELETED":
                    self._pods[pod.namespace][pod.name] = pod
                for key in self._by_namespace.get(pod.namespace, set()):
                    selector = Workload.from_k8s(self._workloads[key], key[0]).selector
                    if selects(selector, pod.labels) or (before is not None and selects(selector, before.labels)):
                        self._dirty.add(key)
                return
            key = _key(kind, obj)
            if event_type == "DELETED":
                self._remove(key)
            else:
                self._upsert(key, obj)

    def take_changes(self) -> list[Change]:
        """What changed since the last call, with what each workload's pods run now; unchanged running digests of a
        workload whose object did not change are not written again."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            changes: list[Change] = []
            for key in sorted(dirty):
                payload = self._workloads.get(key)
                if payload is None:
                    if self._written.pop(key, None) is not None:
                        changes.append(Change(key, None))
                    continue
                running = self._running(key, payload)
                if self._written.get(key) != (_version(payload), running):
                    changes.append(Change(key, payload, running))
                    self._written[key] = (_version(payload), running)
            return changes

    def _running(self, key: Key, payload: dict[str, Any]) -> dict[str, Any] | None:
        if key[0] == "CronJob":
            return None
        found = running_images(Workload.from_k8s(payload, key[0]), self._pods.get(key[1], {}).values())
        return {"digests": {name: list(d) for name, d in found.digests}, "pods": found.pods}

    def _put(self, key: Key, payload: dict[str, Any]) -> None:
        self._workloads[key] = payload
        self._by_namespace[key[1]].add(key)

    def _upsert(self, key: Key, obj: Mapping[str, Any]) -> None:
        current = self._workloads.get(key)
        version = obj.get("metadata", {}).get("resourceVersion")
        if current is not None and current.get("metadata", {}).get("resourceVersion") == version:
            return
        self._put(key, trimmed(obj))
        self._dirty.add(key)

    def _remove(self, key: Key) -> None:
        if self._workloads.pop(key, None) is not None:
            self._by_namespace[key[1]].discard(key)
            self._dirty.add(key)


def _version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _key(kind: str, obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
