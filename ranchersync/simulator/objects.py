"""Pure helpers on Kubernetes objects: timestamps, hashes, ids, API-server defaults and image digests."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import uuid
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

# The alphabet of Kubernetes' rand.SafeEncodeString (no vowels, no look-alikes); Rancher uses it for token secrets too.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_UID_NAMESPACE = uuid.UUID("5f0c2a4e-6d1b-4c55-9a7e-3b1f0e8d2c41")


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """`2024-05-01T12:00:00Z`: the second-precision form Kubernetes writes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    """Parse a Kubernetes timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration, as the AGE column prints it."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def safe_encode(text: str) -> str:
    """Kubernetes' rand.SafeEncodeString: map each byte onto the safe alphabet."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in text.encode())


def canonical_json(value: Any) -> str:
    """A stable JSON text, for hashing and comparing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def template_hash(template: Any) -> str:
    """A `pod-template-hash` like the deployment controller's: FNV-32a of the template, safely encoded."""
    digest = 0x811C9DC5
    for byte in canonical_json(template).encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return safe_encode(str(digest))


def stable_uid(*parts: str) -> str:
    """A UUID that is the same for the same inputs, so restarts and reads agree."""
    return str(uuid.uuid5(_UID_NAMESPACE, "/".join(parts)))


def stable_random(seed: str) -> random.Random:
    """A random generator seeded from text, for names that must not change between reads."""
    return random.Random(hashlib.sha256(seed.encode()).digest())


def random_name_suffix(seed: str, length: int = 5) -> str:
    """The `x2k9p` part of a generated name, deterministic for its seed."""
    rng = stable_random(seed)
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(length))


def strip_type(obj: Obj) -> Obj:
    """The object without kind/apiVersion, as kube-apiserver writes list items (a shallow copy)."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def pod_template(obj: Obj) -> Obj:
    """The pod template of a workload (a CronJob keeps it inside its job template)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return spec.get("template") or {}


# --- images -------------------------------------------------------------------------------------------------------

_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """Split an image into (repository, tag, digest), keeping a registry port out of the tag."""
    digest = None
    match = _DIGEST.search(image)
    if match:
        digest = match.group(1)
        image = image[: match.start()]
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :], digest
    return image, None, digest


def normalize_repository(repository: str) -> str:
    """Docker's normalisation: `nginx` → `docker.io/library/nginx`, `acme/app` → `docker.io/acme/app`."""
    first, _, rest = repository.partition("/")
    if first in ("docker.io", "index.docker.io"):
        repository = rest
    elif rest and ("." in first or ":" in first or first == "localhost"):
        return repository
    return f"docker.io/{repository}" if "/" in repository else f"docker.io/library/{repository}"


def normalized_image(image: str) -> str:
    """The image as a container runtime reports it in `containerStatuses[].image`."""
    repository, tag, digest = split_image(image)
    full = normalize_repository(repository)
    if digest:
        return f"{full}@{digest}"
    return f"{full}:{tag or 'latest'}"


def image_digest(image: str) -> str:
    """The digest the image resolves to: its own pinned digest, else a stable sha256 of the reference."""
    _, _, digest = split_image(image)
    return digest or "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def image_id(image: str) -> str:
    """`docker.io/library/nginx@sha256:…`: what `containerStatuses[].imageID` holds."""
    repository, _, _ = split_image(image)
    return f"{normalize_repository(repository)}@{image_digest(image)}"


# --- defaults -----------------------------------------------------------------------------------------------------


def _default_container(container: Obj) -> None:
    image = str(container.get("image") or "")
    _, tag, digest = split_image(image)
    pull_policy = "Always" if (tag in (None, "latest") and not digest) else "IfNotPresent"
    container.setdefault("imagePullPolicy", pull_policy)
    container.setdefault("resources", {})
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def _default_pod_template(template: Obj) -> None:
    metadata = template.setdefault("metadata", {})
    # kubectl prints `creationTimestamp: null` inside templates; keeping it makes outputs look familiar.
    metadata.setdefault("creationTimestamp", None)
    spec = template.setdefault("spec", {})
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if isinstance(container, dict):
            _default_container(container)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)


def fill_world_labels(obj: Obj) -> Obj:
    """World files may omit selector and labels: fill them with `app: <name>`, as `kubectl create deployment` does."""
    if obj.get("kind") not in ("Deployment", "StatefulSet", "DaemonSet"):
        return obj
    spec = obj.setdefault("spec", {})
    labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
    if not labels:
        labels.update((spec.get("selector") or {}).get("matchLabels") or {"app": obj["metadata"]["name"]})
    spec.setdefault("selector", {"matchLabels": dict(labels)})
    if not obj["metadata"].get("labels"):
        obj["metadata"]["labels"] = dict(spec["selector"].get("matchLabels") or labels)
    return obj


def apply_defaults(obj: Obj) -> Obj:
    """Fill the fields kube-apiserver defaults, in place, so outputs look like `kubectl get -o yaml`."""
    kind = obj.get("kind")
    if kind not in ("Deployment", "StatefulSet", "DaemonSet", "CronJob"):
        return obj
    spec = obj.setdefault("spec", {})
    if kind == "CronJob":
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("failedJobsHistoryLimit", 1)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("suspend", False)
        job_template = spec.setdefault("jobTemplate", {})
        job_template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        template = job_template.setdefault("spec", {}).setdefault("template", {})
        # A Job's pods may not restart Always; world files often leave the policy out.
        template.setdefault("spec", {}).setdefault("restartPolicy", "OnFailure")
        _default_pod_template(template)
        return obj
    _default_pod_template(spec.setdefault("template", {}))
    spec.setdefault("revisionHistoryLimit", 10)
    if kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {}).setdefault("maxSurge", "25%")
            strategy["rollingUpdate"].setdefault("maxUnavailable", "25%")
    elif kind == "StatefulSet":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("serviceName", obj["metadata"]["name"])
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif kind == "DaemonSet":
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {}).setdefault("maxUnavailable", 1)
            strategy["rollingUpdate"].setdefault("maxSurge", 0)
    return obj


def deep_copy(obj: Obj) -> Obj:
    """A deep copy of a JSON-like object."""
    return copy.deepcopy(obj)
