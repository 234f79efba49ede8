"""The `scale` subresource of Deployments and StatefulSets: an autoscaling/v1 Scale, read and written as
`kubectl scale` and autoscalers do (`/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale`)."""

from __future__ import annotations

import json
from typing import Any

from . import apierrors
from .apierrors import KubeError
from .objects import Obj
from .selectors import selector_string

API_VERSION = "autoscaling/v1"


def scale_of(obj: Obj) -> Obj:
    """The Scale view of a workload: its desired replicas, the replicas it runs and its pod selector as text."""
    metadata = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": API_VERSION,
        "metadata": {k: metadata[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in metadata},
        "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
        "status": {"replicas": int((obj.get("status") or {}).get("replicas", 0)),
                   "selector": selector_string((obj.get("spec") or {}).get("selector"))},
    }


def decode(body: bytes) -> Obj:
    """A Scale sent with PUT."""
    try:
        scale: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise apierrors.bad_request(f"error decoding body: {exc}") from None
    if not isinstance(scale, dict) or not isinstance(scale.get("metadata", {}), dict):
        raise apierrors.bad_request("the body must be a Scale object")
    if scale.get("kind") not in (None, "Scale") or scale.get("apiVersion") not in (None, API_VERSION):
        raise apierrors.bad_request(
            f"the API version in the data ({scale.get('apiVersion')}) does not match the expected API version "
            f"({API_VERSION})")
    return scale


def desired_replicas(scale: Obj, name: str) -> int:
    """`spec.replicas` of a Scale sent by a client, validated as kube-apiserver validates it."""
    metadata = scale.get("metadata") or {}
    if metadata.get("name") not in (None, "", name):
        raise apierrors.bad_request(f"the name of the object ({metadata.get('name')}) does not match the name on "
                                    f"the URL ({name})")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        cause = ("FieldValueInvalid", "spec.replicas", f"Invalid value: {json.dumps(replicas)}: must be greater than "
                                                       "or equal to 0")
        raise KubeError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: {cause[1]}: {cause[2]}',
                        {"name": name, "group": "autoscaling", "kind": "Scale",
                         "causes": [{"reason": cause[0], "message": cause[2], "field": cause[1]}]})
    return replicas
