"""What an endpoint declares (its path, parameters, body type and answers) and the OpenAPI 3.1 document made from
those declarations: the same types the handlers answer with and check request bodies against, never a second copy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ranchersync.api.problems import MEDIA_TYPE, Problem
from ranchersync.api.typed import json_schema, required_keys

__all__ = ["Endpoint", "Param", "document", "PROBLEM_STATUSES"]

ParamType = Literal["string", "integer", "boolean", "array"]

# Every operation may answer these as problem details (documented once for all of them).
PROBLEM_STATUSES: Final = {
    400: "The body is not JSON",
    401: "No token, or an unknown, expired or revoked one",
    403: "The token's role or environments do not allow it",
    404: "No such object",
    405: "Method not allowed",
    409: "Refused by the state: another operation holds the target, the request is decided already…",
    422: "Bad input: every wrong field is listed",
    423: "The target is frozen, locked, or the image is quarantined",
    429: "Too many calls with this token: wait Retry-After seconds",
    502: "Rancher or a registry failed or could not be reached",
    503: "The database cannot be used now",
}


@dataclass(frozen=True)
class Param:
    """A query or path parameter."""

    name: str
    type: ParamType = "string"
    where: Literal["query", "path"] = "query"
    required: bool = False
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None
    min_items: int | None = None

    def schema(self) -> dict[str, Any]:
        """Its JSON Schema (an array is of strings)."""
        if self.type == "array":
            items: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
            if self.min_items is not None:
                items["minItems"] = self.min_items
            return items
        schema: dict[str, Any] = {"type": self.type}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API: `answers` maps each success status to the type of its JSON body (or, for a
    stream, to its media type and the type of each event)."""

    method: Literal["GET", "POST", "PATCH", "DELETE"]
    path: str  # OpenAPI style: /operations/{id}
    name: str  # operationId
    summary: str
    handler: Handler
    answers: dict[int, Any]
    params: Sequence[Param] = ()
    body: Any = None  # a TypedDict, or None
    public: bool = False  # no token needed (healthz, openapi.json)
    tags: tuple[str, ...] = field(default=())


def document(endpoints: Sequence[Endpoint], *, version: str, base: str = "/api/v1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of `endpoints`."""
    components: dict[str, Any] = {}
    problem_ref = json_schema(Problem, components)
    paths: dict[str, Any] = {}
    for ep in endpoints:
        operation: dict[str, Any] = {"operationId": ep.name, "summary": ep.summary, "responses": {}}
        if ep.tags:
            operation["tags"] = list(ep.tags)
        if ep.params:
            operation["parameters"] = [
                {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                 "schema": p.schema(), **({"description": p.description} if p.description else {}),
                 **({"style": "form", "explode": True} if p.type == "array" else {})}
                for p in ep.params
            ]
        if ep.body is not None:
            operation["requestBody"] = {"required": False if ep.method == "POST" and _all_optional(ep.body)
                                        else True,
                                        "content": {"application/json": {"schema": json_schema(ep.body, components)}}}
        if ep.method != "GET" and not ep.public:
            operation["parameters"] = [*operation.get("parameters", []), {
                "name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"},
                "description": "A retried call with the same key (per token, for a day) gets the first answer",
            }]
        for status, answer in ep.answers.items():
            if isinstance(answer, tuple):  # a stream: its media type, and the type of each event
                media, event = answer
                operation["responses"][str(status)] = {"description": f"A stream ({media})",
                                                       "content": {media: {"schema": json_schema(event, components)}}}
            else:
                operation["responses"][str(status)] = {
                    "description": {200: "OK", 201: "Created", 202: "Accepted"}.get(status, str(status)),
                    "content": {"application/json": {"schema": json_schema(answer, components)}}}
        for status, text in PROBLEM_STATUSES.items():
            if ep.public and status in (401, 403, 404, 409, 422, 423, 429):
                continue
            operation["responses"].setdefault(str(status), {"description": text,
                                                            "content": {MEDIA_TYPE: {"schema": problem_ref}}})
        if not ep.public:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(base + ep.path, {})[ep.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Rancher Sync Manager API", "version": version,
                 "description": "Promote workload versions between Rancher environments from pipelines. Payloads "
                                "are the CLI's --json shapes; errors are RFC 9457 problem details."},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "an API token (`tokens create`)"}}},
    }


def _all_optional(typed_dict: Any) -> bool:
    return not required_keys(typed_dict)
