"""The request and response values the routes exchange, free of any socket handling."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One HTTP request: the path without its query, the first value of each query parameter."""

    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    base_url: str


@dataclass
class Response:
    """A complete response."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        """A JSON response."""
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), JSON, headers or {})

    @classmethod
    def text(cls, status: int, text: str, content_type: str = TEXT) -> Response:
        """A plain-text response."""
        return cls(status, text.encode(), content_type)


@dataclass
class StreamResponse:
    """A chunked response written piece by piece: a watch."""

    status: int
    chunks: Iterator[bytes]
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


class Headers(dict[str, str]):
    """Request headers, looked up case-insensitively as HTTP requires."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def get(self, key: str, default: Any = None) -> Any:
        """The header's value, whatever the case of its name."""
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())
