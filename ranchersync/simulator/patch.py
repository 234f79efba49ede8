"""The three PATCH flavours kube-apiserver accepts, for the fields workloads use."""

from __future__ import annotations

import copy
import json
from typing import Any

from .apierrors import bad_request, internal_error, patch_rejected

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
PATCH_TYPES = (STRATEGIC, MERGE, JSON_PATCH)

# patchMergeKey of the list fields found in workload objects (k8s.io/api struct tags).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "conditions": "type",
    "ownerReferences": "uid",
}
# Lists of scalars with patchStrategy "merge": a patch adds to them instead of replacing them.
MERGED_SCALAR_LISTS = frozenset({"finalizers"})

_DELETE = object()


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"error decoding patch: {exc}") from None


def apply_patch(original: dict[str, Any], body: bytes, content_type: str) -> dict[str, Any]:
    """Apply a PATCH body of the given media type to a copy of the object."""
    patch = _decode(body)
    if content_type == JSON_PATCH:
        return json_patch(original, patch)
    if not isinstance(patch, dict):
        raise bad_request("error decoding patch: the patch must be a JSON object")
    if content_type == MERGE:
        return merge_patch(original, patch)
    result = strategic_merge(original, patch)
    return {} if result is _DELETE else result


# --- RFC 7386 JSON merge patch -------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes a key, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge patch -----------------------------------------------------------------------------------------


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def strategic_merge(original: dict[str, Any], patch: dict[str, Any]) -> Any:
    """Kubernetes' strategic merge: lists with a merge key merge item by item; directives are honoured."""
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return _DELETE
    if directive not in (None, "merge"):
        raise bad_request(f"Unknown patch type: {directive}")
    result = dict(original)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            merged = strategic_merge(current if isinstance(current, dict) else {}, value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            current = result.get(key)
            result[key] = _merge_list(key, current if isinstance(current, list) else [], value)
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
        elif key.startswith("$setElementOrder/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = _reorder(field, result[field], value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [_strip_directives(item) for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    merge_key = MERGE_KEYS.get(field)
    if merge_key is None:
        if field in MERGED_SCALAR_LISTS:
            return list(current) + [v for v in patch if v not in current]
        return _strip_directives(patch)
    result = list(current)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            # kube-apiserver lets this error through unwrapped, so it surfaces as a 500.
            raise internal_error(f"map: {item} does not contain declared merge key: {merge_key}")
        index = next((i for i, v in enumerate(result)
                      if isinstance(v, dict) and v.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        merged = strategic_merge(result[index] if index is not None else {}, item)
        if index is None:
            result.append(merged)
        else:
            result[index] = merged
    return result


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    """Apply `$setElementOrder/<field>`: listed items first in the given order, the rest after, as they were."""
    merge_key = MERGE_KEYS.get(field)

    def identity(value: Any) -> Any:
        return value.get(merge_key) if merge_key and isinstance(value, dict) else value

    wanted = [identity(v) for v in order]
    ranked = sorted(
        enumerate(items),
        key=lambda pair: (wanted.index(identity(pair[1])) if identity(pair[1]) in wanted else len(wanted), pair[0]),
    )
    return [item for _, item in ranked]


# --- RFC 6902 JSON patch -------------------------------------------------------------------------------------------


class _PatchFailed(Exception):
    """An operation could not be applied (kube-apiserver answers a generic 422)."""


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise bad_request(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]] if path else []


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        node = _child(node, part)
    return node, parts[-1]


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise _PatchFailed(f"missing key {part}")
        return node[part]
    if isinstance(node, list):
        index = _index(node, part, allow_end=False)
        return node[index]
    raise _PatchFailed(f"cannot descend into a scalar at {part}")


def _index(node: list[Any], part: str, *, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(node)
    if not part.isdecimal():
        raise _PatchFailed(f"invalid index {part}")
    index = int(part)
    if index > len(node) or (index == len(node) and not allow_end):
        raise _PatchFailed(f"index {index} out of range")
    return index


def _get(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts:
        node = _child(node, part)
    return node


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise _PatchFailed("cannot add to a scalar")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise _PatchFailed("cannot remove the whole document")
    parent, last = _parent(doc, parts)
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchFailed(f"missing key {last}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise _PatchFailed("cannot remove from a scalar")


def _replace(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts)
    if isinstance(parent, dict) and last in parent:
        parent[last] = value
    elif isinstance(parent, list):
        parent[_index(parent, last, allow_end=False)] = value
    else:
        raise _PatchFailed(f"missing key {last}")
    return doc


def json_patch(original: dict[str, Any], operations: Any) -> dict[str, Any]:
    """RFC 6902 with `test`; an operation that cannot apply makes the whole patch a 422."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc: Any = copy.deepcopy(original)
    try:
        for op in operations:
            name = op.get("op")
            parts = _pointer(op.get("path"))
            if name in ("add", "replace", "test") and "value" not in op:
                raise _PatchFailed(f"{name} operation needs a value")
            if name == "add":
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif name == "remove":
                _remove(doc, parts)
            elif name == "replace":
                doc = _replace(doc, parts, copy.deepcopy(op["value"]))
            elif name == "move":
                value = _remove(doc, _pointer(op.get("from")))
                doc = _add(doc, parts, value)
            elif name == "copy":
                doc = _add(doc, parts, copy.deepcopy(_get(doc, _pointer(op.get("from")))))
            elif name == "test":
                if _get(doc, parts) != op["value"]:
                    raise _PatchFailed(f"testing value {op.get('path')} failed")
            else:
                raise bad_request(f"Unexpected kind: {name}")
    except _PatchFailed:
        raise patch_rejected() from None
    if not isinstance(doc, dict):
        raise patch_rejected()
    return doc

