"""One simulated downstream cluster: its objects, the Kubernetes API semantics on them, and its controllers."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import apierrors
from .kinds import (
    DEPLOYMENTS,
    NAMESPACES,
    NODES,
    PODS,
    REPLICASETS,
    SECRETS,
    SERVICEACCOUNTS,
    WORKLOAD_TYPES,
    ResourceType,
)
from .objects import (
    Obj,
    apply_defaults,
    deep_copy,
    fill_world_labels,
    pod_template,
    random_name_suffix,
    rfc3339,
    stable_random,
    stable_uid,
    template_hash,
    utc_now,
)
from .patch import PATCH_TYPES, apply_patch
from .pods import node_names, node_object, pods_for
from .replicasets import HASH_LABEL, replica_sets, revision_of
from .rollout import REVISION_ANNOTATION, Evaluation, RolloutState, evaluate, initial_status, slots_from_status
from .scale import decode as decode_scale
from .scale import desired_replicas, scale_of
from .selectors import FieldSelector, LabelSelector
from .store import ObjectStore, RevisionClock, WatchEvent
from .world import ClusterSpec

PROJECT_ID = "field.cattle.io/projectId"
# What a world (or a test's put_object) may hold besides namespaces, stored as given apart from defaults.
_STORED_AS_GIVEN = (SECRETS, SERVICEACCOUNTS, *WORKLOAD_TYPES)
_SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system", "cattle-system")
_FIELDS = ("metadata.name", "metadata.namespace")
_POD_FIELDS = (*_FIELDS, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
               "status.phase", "status.podIP", "status.nominatedNodeName")
_INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)
Key = tuple[str, str, str]


@dataclass(frozen=True)
class ListQuery:
    """The query parameters of a list or watch request."""

    label_selector: str | None = None
    field_selector: str | None = None
    limit: int = 0
    continue_token: str | None = None
    resource_version: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ListQuery:
        """Read `labelSelector`, `fieldSelector`, `limit`, `continue` and `resourceVersion`."""
        limit_text = params.get("limit") or "0"
        if not limit_text.lstrip("-").isdecimal():
            raise apierrors.bad_request(f'limit: Invalid value: "{limit_text}": must be an integer')
        return cls(params.get("labelSelector"), params.get("fieldSelector"), max(0, int(limit_text)),
                   params.get("continue") or None, params.get("resourceVersion"))


@dataclass(frozen=True)
class ControllerSettings:
    """How fast simulated rollouts go and which images never start."""

    rollout_seconds: float = 5.0
    fail_images: re.Pattern[str] | None = None
    # Images that start, then crash and restart every `crash_seconds` (a crash loop): restartCount goes up.
    crash_images: re.Pattern[str] | None = None
    crash_seconds: float = 2.0
    # The registry's tags that were pushed again: image reference → the digest it points at now (pods report it).
    repushed: dict[str, str] = dataclasses.field(default_factory=dict)


def _encode_continue(revision: int, namespace: str, name: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": f"{namespace}/{name}\u0000"})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, _, name = str(raw["start"]).rstrip("\u0000").partition("/")
        if raw.get("v") != "meta.k8s.io/v1":
            raise ValueError("unknown version")
        return int(raw["rv"]), (namespace, name)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise apierrors.bad_request(f"invalid continue token: {exc}") from None


def _parse_revision(text: str) -> int:
    if not text.isdecimal():
        raise apierrors.bad_request(f'invalid resource version: strconv.ParseUint: parsing "{text}": invalid syntax')
    return int(text)


class _Bookmarks:
    """When a watch that asked for bookmarks sends the next one: every `every` seconds, and once in its last
    second (kube-apiserver bookmarks a watch just before its timeout ends it)."""

    def __init__(self, every: float | None, deadline: float) -> None:
        self.every = every
        self.deadline = deadline
        self.next = time.monotonic() + every if every else float("inf")
        self.final_sent = every is None

    def due(self) -> bool:
        now = time.monotonic()
        if not self.final_sent and self.deadline - now <= 1.0:
            self.final_sent = True
            return True
        if now >= self.next:
            self.next = now + (self.every or 0)
            return True
        return False


def default_service_account(namespace: str) -> Obj:
    """The `default` ServiceAccount Kubernetes makes in every namespace (since 1.24 without a token secret)."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}}


def _typed(rt: ResourceType, obj: Obj) -> Obj:
    """The object as a single GET or a watch event carries it: kind and apiVersion first."""
    body = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    return {"kind": rt.kind, "apiVersion": rt.api_version, **body}


def _without_revision(obj: Obj) -> Obj:
    return {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}}


class SimCluster:
    """A downstream cluster: the Kubernetes API behind `/k8s/clusters/<id>`."""

    def __init__(self, spec: ClusterSpec, clock: RevisionClock, settings: ControllerSettings,
                 started: datetime) -> None:
        self.id = spec.id
        self.name = spec.name
        self.version = spec.version
        self.provider = spec.provider
        self.driver = spec.driver
        self.state = spec.state
        self.error = spec.error
        # Only namespace-scoped roles: cluster-wide lists and watches of namespaced resources are refused (403).
        self.namespaced_access = spec.namespaced_access
        self.created = started - timedelta(days=200 + stable_random(spec.id).randint(0, 300))
        self.settings = settings
        self.store = ObjectStore(clock)
        self.nodes = node_names(spec.name, spec.nodes)
        # The world's re-pushed tags: image -> (its new digest, how many pods per workload pulled it again).
        self.repushed = {image: ("sha256:" + hashlib.sha256(f"repushed/{spec.id}/{image}".encode()).hexdigest(), pods)
                         for image, pods in spec.repushed}
        self._rollouts: dict[Key, RolloutState] = {}
        self._active: set[Key] = set()
        # What each workload's controller made: (resource, name) of its ReplicaSets and pods.
        self._owned: dict[Key, set[tuple[str, str]]] = {}
        # Crash loops (settings.crash_images): restarts so far per (namespace, pod, container), and the last crash.
        self._restarts: dict[tuple[str, str, str], int] = {}
        self._last_crash = time.monotonic()
        self._load(spec, started)

    # --- loading -------------------------------------------------------------------------------------------------

    def _load(self, spec: ClusterSpec, started: datetime) -> None:
        namespaces = {o["metadata"]["name"]: o for o in spec.objects if o["kind"] == NAMESPACES.kind}
        wanted = list(_SYSTEM_NAMESPACES) if spec.system_namespaces else []
        wanted += [o["metadata"]["namespace"] for o in spec.objects if o["kind"] != NAMESPACES.kind]
        for name in wanted:
            if name not in namespaces:
                namespaces[name] = self._new_namespace(name)
        for name in sorted(namespaces):
            self._create(NAMESPACES, namespaces[name], started)
        for index, node in enumerate(self.nodes):
            arch = spec.architectures[index % len(spec.architectures)]
            self._create(NODES, node_object(node, index, arch, spec.version, self.created), started)
        given = {o["metadata"]["namespace"] for o in spec.objects
                 if o["kind"] == SERVICEACCOUNTS.kind and o["metadata"]["name"] == "default"}
        for name in sorted(set(namespaces) - given):
            self._create(SERVICEACCOUNTS, default_service_account(name), started)
        for obj in spec.objects:
            if obj["kind"] != NAMESPACES.kind:
                self._create(next(t for t in _STORED_AS_GIVEN if t.kind == obj["kind"]), obj, started)

    def _new_namespace(self, name: str) -> Obj:
        """A namespace Rancher has put into a project: system ones into System, `shop-dev` into `shop`."""
        project = {"default": "Default"}.get(name, "System" if name.startswith(("kube-", "cattle-")) else
                                              name.split("-")[0])
        project_id = f"p-{random_name_suffix(f'{self.id}/project/{project}')}"
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "annotations": {PROJECT_ID: f"{self.id}:{project_id}"},
                "labels": {PROJECT_ID: project_id},
                "name": name,
            },
        }

    def _create(self, rt: ResourceType, source: Obj, started: datetime) -> Obj:
        obj = deep_copy(source)
        metadata = obj["metadata"]
        namespace = metadata.get("namespace", "")
        metadata.setdefault("uid", stable_uid(self.id, rt.plural, namespace, metadata["name"]))
        if not metadata.get("creationTimestamp"):
            # Stable, plausible ages: namespaces are older than the workloads inside them.
            days = stable_random(f"{self.id}/{namespace}/{metadata['name']}").randint(3, 90)
            base = self.created if rt is NAMESPACES else started - timedelta(days=days)
            metadata["creationTimestamp"] = rfc3339(base)
        if rt is NAMESPACES:
            metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = metadata["name"]
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj.setdefault("status", {"phase": "Active"})
        elif rt in (NODES, SECRETS, SERVICEACCOUNTS):
            if rt is SECRETS:
                obj.setdefault("type", "Opaque")
            return self.store.write(rt.plural, obj, "ADDED")
        else:
            metadata.setdefault("generation", 1)
            apply_defaults(fill_world_labels(obj))
            if rt is DEPLOYMENTS:
                metadata.setdefault("annotations", {}).setdefault(REVISION_ANNOTATION, "1")
            if not obj.get("status"):
                obj["status"] = initial_status(obj, len(self.nodes), utc_now())
        stored = self.store.write(rt.plural, obj, "ADDED")
        if rt is not NAMESPACES:
            self._sync_owned((rt.plural, metadata["namespace"], metadata["name"]))
        return stored

    # --- reads ---------------------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """One object, with kind and apiVersion, or a 404 Status."""
        with self.store.lock:
            self.reconcile()
            found = self.store.get(rt.plural, namespace, name)
            if found is None:
                raise apierrors.not_found(rt, name)
            return _typed(rt, found)

    def list_objects(self, rt: ResourceType, namespace: str | None, query: ListQuery) -> tuple[list[Obj], Obj]:
        """A page of objects matching the selectors, and the list metadata (resourceVersion, continue)."""
        labels = LabelSelector.parse(query.label_selector)
        fields = FieldSelector.parse(query.field_selector, _POD_FIELDS if rt is PODS else _FIELDS)
        start: tuple[str, str] | None = None
        if query.continue_token:
            if query.resource_version not in (None, "", "0"):
                raise apierrors.bad_request("specifying resource version is not allowed when using continue")
            token_revision, start = _decode_continue(query.continue_token)
            # -1 is the "inconsistent" token a 410 hands back: continue from the latest state.
            if token_revision >= 0 and self.store.is_expired(token_revision):
                raise apierrors.expired(_INCONSISTENT_CONTINUE, _encode_continue(-1, *start))
        with self.store.lock:
            self.reconcile()
            items = self.store.list_objects(rt.plural, namespace)
            revision = self.store.clock.current
        matching = [o for o in items if labels.matches(o["metadata"].get("labels")) and fields.matches(o)]
        if start is not None:
            matching = [o for o in matching if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start]
        metadata: Obj = {"resourceVersion": str(revision)}
        if query.limit and len(matching) > query.limit:
            last = matching[query.limit - 1]["metadata"]
            metadata["continue"] = _encode_continue(revision, last.get("namespace", ""), last["name"])
            if not (query.label_selector or query.field_selector):
                # kube-apiserver only knows the remaining count when it does not filter.
                metadata["remainingItemCount"] = len(matching) - query.limit
            matching = matching[: query.limit]
        return matching, metadata

    def watch(self, rt: ResourceType, namespace: str | None, query: ListQuery, *, send_initial: bool,
              deadline: float, stopping: threading.Event, bookmarks: float | None = None,
              dropped: Callable[[], bool] = lambda: False) -> Iterator[Obj]:
        """Watch events as kube-apiserver streams them; ends at the deadline or when the server stops.

        `bookmarks`: with `allowWatchBookmarks`, a BOOKMARK event carrying the latest resourceVersion this often
        (seconds) and once just before the deadline, so a quiet watch can be resumed from a recent version.
        `dropped`: when it turns true the stream raises ConnectionAbortedError (the connection is cut, no end).

        Selectors and the resourceVersion are checked here, before the first event, so they fail as plain errors.
        """
        labels = LabelSelector.parse(query.label_selector)
        fields = FieldSelector.parse(query.field_selector, _POD_FIELDS if rt is PODS else _FIELDS)

        def matches(obj: Obj | None) -> bool:
            return obj is not None and (namespace is None or obj["metadata"].get("namespace") == namespace) and \
                labels.matches(obj["metadata"].get("labels")) and fields.matches(obj)

        since = query.resource_version
        from_now = since in (None, "", "0") or send_initial
        with self.store.lock:
            self.reconcile()
            initial = [o for o in self.store.list_objects(rt.plural, namespace) if matches(o)] if from_now else []
            last = self.store.clock.current if from_now else _parse_revision(str(since))
            too_old = not from_now and self.store.is_expired(last)
        return self._stream(rt, matches, initial, last, too_old, send_initial, deadline, stopping,
                            _Bookmarks(bookmarks, deadline), dropped)

    def _stream(self, rt: ResourceType, matches: Callable[[Obj | None], bool], initial: list[Obj], last: int,
                too_old: bool, send_initial: bool, deadline: float, stopping: threading.Event,
                bookmarks: _Bookmarks, dropped: Callable[[], bool]) -> Iterator[Obj]:
        if too_old:
            # kube-apiserver accepts such a watch, then ends it with a 410 ERROR event.
            message = f"too old resource version: {last} ({self.store.compacted})"
            yield {"type": "ERROR", "object": apierrors.expired(message).status()}
            return
        for obj in initial:
            yield {"type": "ADDED", "object": _typed(rt, obj)}
        if send_initial:
            bookmark = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {
                "resourceVersion": str(last), "annotations": {"k8s.io/initial-events-end": "true"}}}
            yield {"type": "BOOKMARK", "object": bookmark}
        while not stopping.is_set():
            if dropped():
                raise ConnectionAbortedError("watch connection dropped")
            remaining = deadline - time.monotonic()
            if bookmarks.due():
                # The latest revision, not only this kind's: nothing of this kind changed up to it.
                with self.store.lock:
                    if not self.store.events_after(last):
                        last = self.store.clock.current
                yield {"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version,
                                                      "metadata": {"resourceVersion": str(last)}}}
            if remaining <= 0:
                return
            with self.store.lock:
                events = self.store.events_after(last)
                if not events:
                    # Short waits keep the stream responsive to its deadline and to the server stopping.
                    self.store.changed.wait(min(remaining, 0.25))
                    continue
            for event in events:
                last = event.revision
                translated = self._translate(event, rt, matches)
                if translated is not None:
                    yield translated

    @staticmethod
    def _translate(event: WatchEvent, rt: ResourceType, matches: Callable[[Obj | None], bool]) -> Obj | None:
        """An event as one watcher sees it: leaving its selector reads as DELETED, entering it as ADDED."""
        if event.plural != rt.plural:
            return None
        now, before = matches(event.obj), matches(event.old)
        if event.type == "DELETED":
            kind = "DELETED" if before else None
        elif now and before:
            kind = "MODIFIED"
        elif now:
            kind = "ADDED"
        elif before:
            kind = "DELETED"
        else:
            kind = None
        return {"type": kind, "object": _typed(rt, event.obj)} if kind else None

    # --- writes --------------------------------------------------------------------------------------------------

    def patch(self, rt: ResourceType, namespace: str, name: str, body: bytes, content_type: str, *,
              dry_run: bool = False) -> Obj:
        """PATCH with one of the three patch media types; a stale `metadata.resourceVersion` is a 409."""
        media = content_type.split(";")[0].strip().lower()
        if media not in PATCH_TYPES:
            raise apierrors.unsupported_media_type(patch=True)
        if not rt.is_workload:
            raise apierrors.method_not_allowed("patch", rt)
        with self.store.lock:
            self.reconcile()
            current = self.store.get(rt.plural, namespace, name)
            if current is None:
                raise apierrors.not_found(rt, name)
            patched = apply_patch(_typed(rt, current), body, media)
            return self._update(rt, current, patched, dry_run=dry_run)

    def replace(self, rt: ResourceType, namespace: str, name: str, body: bytes, content_type: str, *,
                dry_run: bool = False) -> Obj:
        """PUT a whole object; without a resourceVersion it overwrites, with a stale one it is a 409."""
        if content_type.split(";")[0].strip().lower() not in ("application/json", ""):
            raise apierrors.unsupported_media_type(patch=False)
        if not rt.is_workload:
            raise apierrors.method_not_allowed("update", rt)
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise apierrors.bad_request(f"error decoding body: {exc}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
            raise apierrors.bad_request("the body must be a JSON object with metadata")
        if obj.get("kind") not in (None, rt.kind) or obj.get("apiVersion") not in (None, rt.api_version):
            raise apierrors.bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) does not match the expected API version "
                f"({rt.api_version})")
        with self.store.lock:
            self.reconcile()
            current = self.store.get(rt.plural, namespace, name)
            if current is None:
                raise apierrors.not_found(rt, name)
            return self._update(rt, current, obj, dry_run=dry_run)

    def get_scale(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """The `scale` subresource of a Deployment or StatefulSet: an autoscaling/v1 Scale."""
        return scale_of(self.get(rt, namespace, name))

    def update_scale(self, rt: ResourceType, namespace: str, name: str, body: bytes, content_type: str, *,
                     patch: bool, dry_run: bool = False) -> Obj:
        """PATCH or PUT a Scale: only `spec.replicas` reaches the workload; a stale resourceVersion is a 409."""
        media = content_type.split(";")[0].strip().lower()
        if media not in (PATCH_TYPES if patch else ("application/json", "")):
            raise apierrors.unsupported_media_type(patch=patch)
        with self.store.lock:
            self.reconcile()
            current = self.store.get(rt.plural, namespace, name)
            if current is None:
                raise apierrors.not_found(rt, name)
            sent = apply_patch(scale_of(current), body, media) if patch else decode_scale(body)
            replicas = desired_replicas(sent, name)
            new = _typed(rt, deep_copy(current))
            new["spec"]["replicas"] = replicas
            new["metadata"]["resourceVersion"] = (sent.get("metadata") or {}).get("resourceVersion")
            return scale_of(self._update(rt, current, new, dry_run=dry_run))

    def _update(self, rt: ResourceType, current: Obj, new: Obj, *, dry_run: bool) -> Obj:
        """The update path shared by PATCH and PUT: preconditions, server-owned fields, generation, rollout."""
        name = current["metadata"]["name"]
        metadata = new.get("metadata")
        if not isinstance(metadata, dict):
            raise apierrors.bad_request("metadata must be an object")
        revision = metadata.get("resourceVersion")
        if revision not in (None, "") and str(revision) != current["metadata"]["resourceVersion"]:
            raise apierrors.conflict(rt, name)
        if metadata.get("uid") not in (None, "", current["metadata"]["uid"]):
            raise apierrors.conflict(rt, name)
        if metadata.get("name") != name:
            raise apierrors.bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on the URL ({name})")
        if metadata.get("namespace", current["metadata"]["namespace"]) != current["metadata"]["namespace"]:
            raise apierrors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request")
        obj = _typed(rt, deep_copy(new))
        for field in ("uid", "creationTimestamp", "generation"):
            obj["metadata"][field] = current["metadata"][field]
        obj["metadata"].pop("resourceVersion", None)
        obj["metadata"]["namespace"] = current["metadata"]["namespace"]
        # Writes to the main resource never change status: that belongs to the status subresource.
        obj["status"] = current.get("status", {})
        apply_defaults(obj)
        self._validate(rt, current, obj)
        spec_changed = obj.get("spec") != current.get("spec")
        annotations_changed = obj["metadata"].get("annotations") != current["metadata"].get("annotations")
        if spec_changed or (rt is DEPLOYMENTS and annotations_changed):
            obj["metadata"]["generation"] = current["metadata"]["generation"] + 1
        if obj == _without_revision(current):
            return _typed(rt, current)  # a no-op write: no new resourceVersion, no event, no rollout
        if dry_run:
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return obj
        stored = self.store.write(rt.plural, obj, "MODIFIED")
        if spec_changed:
            self._spec_changed(rt, current, stored)  # the controller catches up in reconcile()
        else:
            self._sync_owned((rt.plural, stored["metadata"]["namespace"], name))
        return _typed(rt, stored)

    def _validate(self, rt: ResourceType, current: Obj, obj: Obj) -> None:
        """The validation errors a sync tool can provoke: missing images, bad names, negative replicas."""
        name = obj["metadata"]["name"]
        prefix = "spec.jobTemplate.spec.template.spec" if rt.kind == "CronJob" else "spec.template.spec"
        pod_spec = pod_template(obj).get("spec") or {}
        causes: list[tuple[str, str, str]] = []
        if not pod_spec.get("containers"):
            causes.append(("FieldValueRequired", f"{prefix}.containers", "Required value"))
        for field in ("initContainers", "containers"):
            seen: set[str] = set()
            for index, container in enumerate(pod_spec.get(field) or []):
                path = f"{prefix}.{field}[{index}]"
                if not isinstance(container, dict):
                    causes.append(("FieldValueInvalid", path, "Invalid value: must be an object"))
                    continue
                if not container.get("name"):
                    causes.append(("FieldValueRequired", f"{path}.name", "Required value"))
                elif container["name"] in seen:
                    causes.append(("FieldValueDuplicate", f"{path}.name", f'Duplicate value: "{container["name"]}"'))
                seen.add(str(container.get("name")))
                image = container.get("image")
                if not isinstance(image, str) or not image.strip():
                    causes.append(("FieldValueRequired", f"{path}.image", "Required value"))
                elif image != image.strip():
                    causes.append(("FieldValueInvalid", f"{path}.image",
                                   f'Invalid value: "{image}": must not have leading or trailing whitespace'))
        replicas = (obj.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            causes.append(("FieldValueInvalid", "spec.replicas",
                           f"Invalid value: {replicas}: must be greater than or equal to 0"))
        if rt.kind != "CronJob" and (obj.get("spec") or {}).get("selector") != (current.get("spec") or {}).get(
                "selector"):
            causes.append(("FieldValueInvalid", "spec.selector", "Invalid value: field is immutable"))
        if causes:
            raise apierrors.invalid(rt, name, causes)

    # --- the controllers -----------------------------------------------------------------------------------------

    def _fails(self, template: Obj) -> bool:
        pattern = self.settings.fail_images
        spec = template.get("spec") or {}
        images = [str(c.get("image", "")) for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]
        return pattern is not None and any(pattern.search(image) for image in images)

    def _spec_changed(self, rt: ResourceType, before: Obj, after: Obj) -> None:
        """Start, restart or resume a rollout after a spec change, the way the workload controllers react."""
        if rt.kind == "CronJob":
            return  # a CronJob's template only applies to its next Job
        key = (rt.plural, after["metadata"]["namespace"], after["metadata"]["name"])
        revision = int((before["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, 0) or 0)
        state = self._rollouts.get(key) or RolloutState.steady(pod_template(before), revision or None)
        new_template = pod_template(after)
        if template_hash(new_template) != state.new_hash:
            running = state.running_template
            state = RolloutState(running, new_template, failing=self._fails(new_template), finished=False)
        paused = rt is DEPLOYMENTS and bool(after["spec"].get("paused"))
        if not state.finished and state.started is None and not paused:
            state.started, state.started_at = time.monotonic(), rfc3339(utc_now())
        self._rollouts[key] = state
        self._active.add(key)

    def _evaluate(self, obj: Obj, state: RolloutState) -> Evaluation:
        return evaluate(obj, state, now=time.monotonic(), seconds=self.settings.rollout_seconds,
                        nodes=len(self.nodes), wall=utc_now())

    def reconcile(self) -> None:
        """Advance every rollout in flight to the present; each status change is a MODIFIED event."""
        with self.store.lock:
            for key in sorted(self._active):
                obj = self.store.get(*key)
                state = self._rollouts.get(key)
                if obj is None or state is None:
                    self._active.discard(key)
                    continue
                evaluation = self._evaluate(obj, state)
                metadata = obj["metadata"]
                annotations = metadata.get("annotations") or {}
                if obj["kind"] == "Deployment" and state.started is not None and state.revision is None:
                    # A new ReplicaSet gets the next revision number as soon as the controller creates it.
                    state.revision = max(revision_of(obj), self._last_revision(key)) + 1
                    annotations = {**annotations, REVISION_ANNOTATION: str(state.revision)}
                if evaluation.status != obj.get("status") or annotations != (metadata.get("annotations") or {}):
                    updated = {**obj, "metadata": {**metadata, "annotations": annotations}, "status": evaluation.status}
                    if not annotations:
                        updated["metadata"].pop("annotations")
                    self.store.write(key[0], updated, "MODIFIED")
                    # Pods and ReplicaSets change only with the counts the status reports.
                    self._sync_owned(key, evaluation)
                if evaluation.finished:
                    state.finished = True
                    self._active.discard(key)

    def _last_revision(self, key: Key) -> int:
        """The highest revision among a Deployment's ReplicaSets."""
        revisions = [revision_of(rs) for rs in self._owned_objects(key, REPLICASETS.plural).values()]
        return max(revisions, default=0)

    def _owned_objects(self, key: Key, plural: str) -> dict[str, Obj]:
        """The stored objects of one resource a workload's controller made, by name."""
        found = (self.store.get(plural, key[1], name) for p, name in self._owned.get(key, ()) if p == plural)
        return {o["metadata"]["name"]: o for o in found if o is not None}

    def _sync_owned(self, key: Key, evaluation: Evaluation | None = None) -> None:
        """Write the ReplicaSets and pods a workload's controller keeps for it as the rollout stands: each change is
        an ADDED, MODIFIED or DELETED event, so they can be watched; a deleted workload's go with it."""
        workload = self.store.get(*key)
        desired: dict[tuple[str, str], Obj] = {}
        if workload is not None:
            state = self._rollouts.get(key)
            if state is None:
                slots, rolled_out = slots_from_status(workload, len(self.nodes)), None
            else:
                slots = (evaluation or self._evaluate(workload, state)).slots
                rolled_out = (state.new_hash, state.started_at) if state.started_at else None
            pods = pods_for(workload, slots, self.nodes, rolled_out=rolled_out, fail_images=self.settings.fail_images,
                            repushed=self.settings.repushed, repushed_pods=self.repushed)
            for pod in pods:
                pod["metadata"].pop("resourceVersion", None)
                self._apply_restarts(pod)
                desired[(PODS.plural, pod["metadata"]["name"])] = pod
            if workload["kind"] == DEPLOYMENTS.kind:
                counts: dict[str, tuple[int, int]] = {}
                for slot in slots:
                    total, ready = counts.get(slot.template_hash, (0, 0))
                    counts[slot.template_hash] = (total + 1, ready + slot.ready)
                if state is None or (state.started is None and not state.finished):
                    # No rollout, or a paused one that has not begun: the running template is the current one.
                    template = pod_template(workload) if state is None else state.old_template
                else:
                    template = state.new_template
                existing = {rs["metadata"]["labels"].get(HASH_LABEL, ""): rs
                            for rs in self._owned_objects(key, REPLICASETS.plural).values()}
                # The first ReplicaSet is as old as its Deployment; a rollout's is as old as the rollout.
                created = (workload["metadata"]["creationTimestamp"] if state is None else
                           state.started_at or rfc3339(utc_now()))
                for name, rs in replica_sets(workload, existing, template_hash(template), template, counts,
                                             created).items():
                    desired[(REPLICASETS.plural, name)] = rs
        namespace = key[1]
        for (plural, name), obj in desired.items():
            stored = self.store.get(plural, namespace, name)
            if stored is None:
                self.store.write(plural, obj, "ADDED")
            elif _without_revision(stored) != obj:
                self.store.write(plural, obj, "MODIFIED")
        for plural, name in sorted(self._owned.get(key, set()) - desired.keys()):
            self.store.remove(plural, namespace, name)
        if desired:
            self._owned[key] = set(desired)
        else:
            self._owned.pop(key, None)

    def _crashes(self, image: str) -> bool:
        pattern = self.settings.crash_images
        return pattern is not None and bool(pattern.search(image))

    def _apply_restarts(self, pod: Obj) -> None:
        """A crash-looping container reports its restarts so far and how it last ended, as the kubelet does."""
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        for status in pod["status"].get("containerStatuses") or []:
            count = self._restarts.get((namespace, name, str(status.get("name"))), 0)
            if count:
                status["restartCount"] = count
                status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error",
                                                      "containerID": status.get("containerID", "")}}

    @property
    def crash_looping(self) -> bool:
        """True when some images crash (the background ticker then makes their containers restart)."""
        return self.settings.crash_images is not None

    def crash(self) -> None:
        """Every `crash_seconds`, each running container of a crash-looping image restarts once (MODIFIED events)."""
        now = time.monotonic()
        if now - self._last_crash < self.settings.crash_seconds:
            return
        self._last_crash = now
        with self.store.lock:
            for key, owned in list(self._owned.items()):
                crashed = False
                for plural, name in owned:
                    pod = self.store.get(plural, key[1], name) if plural == PODS.plural else None
                    for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
                        if status.get("ready") and self._crashes(str(status.get("image") or "")):
                            restart_key = (key[1], name, str(status.get("name")))
                            self._restarts[restart_key] = self._restarts.get(restart_key, 0) + 1
                            crashed = True
                if crashed:
                    self._sync_owned(key)

    def refresh_pods(self) -> None:
        """Bring every workload's pods up to date after a change outside the API (a re-pushed image tag)."""
        with self.store.lock:
            self.reconcile()
            for key in list(self._owned):
                self._sync_owned(key)

    @property
    def busy(self) -> bool:
        """True while a rollout is in flight (the background ticker only works then)."""
        return bool(self._active)

    # --- out-of-band changes, for tests ---------------------------------------------------------------------------

    def put_object(self, obj: Obj) -> Obj:
        """Create or overwrite an object as another user would, bypassing preconditions.

        A `status` in the object is stored as given and the controller leaves it alone from then on, as it does
        for statuses that come from the world file.
        """
        rt = next((t for t in (NAMESPACES, *_STORED_AS_GIVEN) if t.kind == obj.get("kind")), None)
        if rt is None:
            raise ValueError(f"cannot store kind {obj.get('kind')!r}")
        metadata = obj.get("metadata") or {}
        namespace = metadata.get("namespace", "default") if rt.namespaced else ""
        with self.store.lock:
            current = self.store.get(rt.plural, namespace, metadata["name"])
            if current is None:
                source = deep_copy(obj)
                if rt.namespaced:
                    source["metadata"]["namespace"] = namespace
                    if self.store.get(NAMESPACES.plural, "", namespace) is None:
                        self._create(NAMESPACES, self._new_namespace(namespace), utc_now())
                        if rt is not SERVICEACCOUNTS or metadata["name"] != "default":
                            self._create(SERVICEACCOUNTS, default_service_account(namespace), utc_now())
                source["metadata"].pop("resourceVersion", None)
                created = _typed(rt, self._create(rt, source, utc_now()))
                if rt is NAMESPACES:
                    self._create(SERVICEACCOUNTS, default_service_account(metadata["name"]), utc_now())
                return created
            new = deep_copy(obj)
            new["metadata"].pop("resourceVersion", None)
            if rt in (NAMESPACES, SECRETS, SERVICEACCOUNTS):
                new["metadata"].update(uid=current["metadata"]["uid"],
                                       creationTimestamp=current["metadata"]["creationTimestamp"])
                return _typed(rt, self.store.write(rt.plural, _typed(rt, new), "MODIFIED"))
            stored = self._update(rt, current, new, dry_run=False)
            if "status" in obj and obj["status"] != stored.get("status"):
                key = (rt.plural, namespace, metadata["name"])
                self._rollouts.pop(key, None)
                self._active.discard(key)
                stored = _typed(rt, self.store.write(rt.plural, {**stored, "status": deep_copy(obj["status"])},
                                                     "MODIFIED"))
                self._sync_owned(key)
            return stored

    def delete_object(self, rt: ResourceType, namespace: str, name: str) -> bool:
        """Delete an object (a DELETED event); False when it did not exist."""
        with self.store.lock:
            key = (rt.plural, namespace if rt.namespaced else "", name)
            self._rollouts.pop(key, None)
            self._active.discard(key)
            removed = self.store.remove(*key) is not None
            if rt not in (NAMESPACES, NODES, SECRETS, SERVICEACCOUNTS):
                self._sync_owned(key)  # the garbage collector deletes what the workload owned
            return removed
