"""Label and field selectors as the `labelSelector` and `fieldSelector` query parameters spell them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .apierrors import bad_request

Requirement = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9._/-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQUALITY = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside a `( … )` value set."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def _requirement(term: str) -> Requirement:
    equality = _EQUALITY.match(term)
    if equality:
        key, op, value = equality.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _SET.match(term)
    if not match:
        raise bad_request(f"unable to parse requirement: {term.strip()!r}")
    negate, key, op, values = match.groups()
    if op:
        members = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in members
        return lambda labels: labels.get(key) not in members
    if negate:
        return lambda labels: key not in labels
    return lambda labels: key in labels


@dataclass(frozen=True)
class LabelSelector:
    """A parsed `labelSelector`; matches when every requirement holds."""

    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """Parse `app=web,tier in (a,b),!legacy`; an empty text matches everything."""
        return cls(tuple(_requirement(t) for t in _split_terms(text or "")))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True when the labels satisfy every requirement."""
        labels = labels or {}
        return all(req(labels) for req in self.requirements)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else str(value)


@dataclass(frozen=True)
class FieldSelector:
    """A parsed `fieldSelector` over the few fields kube-apiserver indexes."""

    terms: tuple[tuple[str, bool, str], ...]

    @classmethod
    def parse(cls, text: str | None, allowed: tuple[str, ...]) -> FieldSelector:
        """Parse `metadata.name=web,metadata.namespace!=x`; unknown fields are a 400 as in kube-apiserver."""
        terms = []
        for term in _split_terms(text or ""):
            match = _EQUALITY.match(term)
            if not match:
                raise bad_request(f"invalid selector: '{text}'; can't understand '{term.strip()}'")
            field, op, value = match.groups()
            if field not in allowed:
                raise bad_request(f"field label not supported: {field}")
            terms.append((field, op != "!=", value))
        return cls(tuple(terms))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """True when the object satisfies every term."""
        return all((_field_value(obj, f) == v) == equal for f, equal, v in self.terms)


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A workload's `spec.selector` written the way `kubectl get -o wide` shows it."""
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        values = ",".join(sorted(expression.get("values") or []))
        operator = str(expression.get("operator", "")).lower()
        key = expression.get("key", "")
        if operator == "exists":
            parts.append(key)
        elif operator == "doesnotexist":
            parts.append(f"!{key}")
        else:
            parts.append(f"{key} {operator} ({values})")
    return ",".join(parts) or "<none>"

