"""What every API handler gets and returns: the call (context, caller, checked query and body, path values), the
answer, and `blocking` to run the database, Rancher or a registry in a worker thread, never on the event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.kernel.errors import NotFoundError

__all__ = ["Answer", "Call", "blocking"]


@dataclass
class Call:
    """What a handler gets: the context, who calls, the checked query and body, the path's values."""

    ctx: AppContext
    actor: Actor
    request: Request
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    checkpoint: Callable[[int, Any], Awaitable[None]] | None = None  # keep an interim answer for Idempotency-Key

    async def started(self, status: int, payload: Any) -> None:
        """An operation started: a retry with the same Idempotency-Key gets this answer (its id) from now on, even
        if this call never ends (the caller went away while waiting)."""
        if self.checkpoint is not None:
            await self.checkpoint(status, payload)

    def path(self, name: str) -> str:
        """A path parameter."""
        return str(self.request.path_params[name])

    def path_id(self, name: str = "id") -> int:
        """A path parameter that is an id: an unknown or malformed one is 404."""
        text = self.path(name)
        if not text.isdecimal() or len(text) > 18:
            raise NotFoundError(f"no such id '{text[:40]}'")
        return int(text)


# A handler answers (status, JSON payload) or a ready response (a stream, extra headers).
Answer = tuple[int, Any] | Response

T = TypeVar("T")


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` in a worker thread (the database, Rancher, a registry, the slow token hash)."""
    return await run_in_threadpool(fn, *args, **kwargs)
