"""Strategic-merge patch bodies that change container images (pure; rancher-api.md §5.1).

``containers`` and ``initContainers`` merge by their ``name`` key, so only the named containers change and every
other field (ports, env, ...) stays. ``metadata.resourceVersion`` turns the patch into a conditional one: the
API server answers 409 if the object changed since it was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ranchersync.kernel.errors import ValidationError
from ranchersync.rancher.paths import check_container_name, normalize_kind

STRATEGIC_MERGE: Final = "application/strategic-merge-patch+json"


def check_image(image: str) -> str:
    """Return ``image`` if Kubernetes would accept it (non-empty, no whitespace), else raise ValidationError."""
    if not isinstance(image, str) or not image or any(ch.isspace() for ch in image):
        raise ValidationError(f"{image!r} is not a usable image reference.")
    return image


def _entries(images: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": check_container_name(name), "image": check_image(image)} for name, image in images.items()]


@dataclass(frozen=True)
class ImageChange:
    """What an image patch sets: images by container name (init containers apart), annotations on the workload,
    and annotations on its pod template (which start a rollout even when no image changes)."""

    containers: Mapping[str, str] = field(default_factory=dict)
    init_containers: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    template_annotations: Mapping[str, str] = field(default_factory=dict)


def image_patch(kind: str, change: ImageChange, *, resource_version: str | None) -> dict[str, Any]:
    """Build the patch body; ``annotations`` go on the workload, ``template_annotations`` on its pod template.

    A pod-template annotation (e.g. ``cattle.io/timestamp``) starts a rollout even when the image is unchanged;
    a workload annotation does not.
    """
    kind_name = normalize_kind(kind)
    containers, init_containers = change.containers, change.init_containers
    annotations, template_annotations = change.annotations, change.template_annotations
    if not containers and not init_containers and not annotations and not template_annotations:
        raise ValidationError("Nothing to change: no container image and no annotation given.")
    pod_spec: dict[str, Any] = {}
    if containers:
        pod_spec["containers"] = _entries(containers)
    if init_containers:
        pod_spec["initContainers"] = _entries(init_containers)
    template: dict[str, Any] = {}
    if template_annotations:
        template["metadata"] = {"annotations": dict(template_annotations)}
    if pod_spec:
        template["spec"] = pod_spec
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if annotations:
        metadata["annotations"] = dict(annotations)
    body: dict[str, Any] = {}
    if metadata:
        body["metadata"] = metadata
    if template:
        # A CronJob keeps its pod template one level deeper, inside the Job template.
        body["spec"] = (
            {"jobTemplate": {"spec": {"template": template}}} if kind_name == "CronJob" else {"template": template}
        )
    return body
