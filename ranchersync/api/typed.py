"""Python types → JSON Schema, and the check of a request body against its type: one source for the OpenAPI document,
the payloads (TypedDicts the payload functions return, checked by mypy) and the validation of what callers send.

Covers what the payloads use: TypedDict (total or not, NotRequired), list, dict[str, X], Literal, X | None, int,
float, str, bool and Any (no constraint).
"""

from __future__ import annotations

import types
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints, is_typeddict

__all__ = ["body_errors", "json_schema", "required_keys"]


def _hints(typed_dict: Any) -> dict[str, Any]:
    return get_type_hints(typed_dict, include_extras=True)


def required_keys(typed_dict: Any) -> frozenset[str]:
    # Read from the evaluated hints, not __required_keys__: under `from __future__ import annotations` Python 3.11
    # cannot see NotRequired[...] in a string annotation when it builds the class.
    total = getattr(typed_dict, "__total__", True)
    required = set()
    for key, hint in _hints(typed_dict).items():
        origin = get_origin(hint)
        if origin is Required or (origin is not NotRequired and total):
            required.add(key)
    return frozenset(required)


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) in (NotRequired, Required):
        tp = get_args(tp)[0]
    return tp


def json_schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of `tp`; TypedDicts go into `components` (by name) and are referenced."""
    tp = _unwrap(tp)
    if tp is Any or tp is object:
        return {}
    if is_typeddict(tp):
        name = tp.__name__
        if name not in components:
            components[name] = {}  # a placeholder first: a recursive type refers to itself
            hints = _hints(tp)
            schema: dict[str, Any] = {
                "type": "object",
                "properties": {key: json_schema(value, components) for key, value in hints.items()},
                "additionalProperties": False,
            }
            required = sorted(required_keys(tp))
            if required:
                schema["required"] = required
            if tp.__doc__ and not tp.__doc__.startswith(f"{name}("):
                schema["description"] = " ".join(tp.__doc__.split())
            components[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        inner = [json_schema(a, components) for a in options]
        schema = inner[0] if len(inner) == 1 else {"anyOf": inner}
        if len(options) < len(args):  # Optional
            if set(schema) == {"type"} and isinstance(schema["type"], str):
                return {"type": [schema["type"], "null"]}
            return {"anyOf": [schema, {"type": "null"}]}
        return schema
    if origin in (list, tuple) or tp in (list, tuple):
        return {"type": "array", "items": json_schema(args[0], components) if args else {}}
    if origin is dict or tp is dict:
        return {"type": "object", "additionalProperties": json_schema(args[1], components) if args else {}}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"no JSON Schema for {tp!r}")


def body_errors(value: Any, tp: Any, where: str = "body") -> list[str]:
    """What is wrong with `value` as a `tp` (a JSON value against a Python type), in words; empty when it conforms.

    Extra keys of a TypedDict are errors (a misspelt `dryrun` must not be ignored)."""
    tp = _unwrap(tp)
    if tp is Any or tp is object:
        return []
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{where} must be a JSON object"]
        hints, required = _hints(tp), required_keys(tp)
        errors = [f"{where}.{key} is required" for key in sorted(required) if key not in value]
        errors += [f"{where}.{key} is not a known field (known: {', '.join(hints)})" for key in value
                   if key not in hints]
        for key, item in value.items():
            if key in hints:
                errors += body_errors(item, hints[key], f"{where}.{key}")
        return errors
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return [] if value in args else [f"{where} must be one of {', '.join(map(repr, args))}"]
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return []
        options = [a for a in args if a is not type(None)]
        results = [body_errors(value, a, where) for a in options]
        return [] if any(not r for r in results) else results[0]
    if origin in (list, tuple):
        if not isinstance(value, list):
            return [f"{where} must be a JSON array"]
        return [e for i, item in enumerate(value) for e in body_errors(item, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where} must be a JSON object"]
        return [e for k, item in value.items() for e in body_errors(item, args[1], f"{where}.{k}")]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{where} must be true or false"]
    if tp is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where} must be an integer"]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where} must be a number"]
    if tp is str:
        return [] if isinstance(value, str) else [f"{where} must be a string"]
    raise TypeError(f"cannot check {tp!r}")
