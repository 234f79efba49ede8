"""Clicks that cost Rancher calls (Test connection, Refresh) are throttled per browser session.

A second click within a few seconds gets the previous result back and says how old it is, instead of asking Rancher
again. Pure: the store (the session state) and the clock are passed in, so it is tested without Streamlit. It lives in
ui/ because only a long-lived session has a "previous click"; each CLI command is a process of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

T = TypeVar("T")
INTERVAL: Final = 5.0  # seconds
_PREFIX: Final = "throttle_"


class Store(Protocol):
    """What the throttle keeps its memory in: Streamlit's session state, or a dict in tests."""

    def get(self, key: str, default: Any, /) -> Any: ...  # noqa: D102
    def __setitem__(self, key: str, value: Any, /) -> None: ...  # noqa: D105
    def pop(self, key: str, default: Any, /) -> Any: ...  # noqa: D102


@dataclass(frozen=True)
class Recent(Generic[T]):
    """The last accepted call of one kind: for which key, when (clock seconds), and what it gave."""

    key: Hashable
    at: float
    value: T


def reuse_or_run(
    store: Store,
    name: str,
    key: Hashable,
    work: Callable[[], T],
    *,
    interval: float = INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[T, float | None]:
    """Run `work`, unless the same `name` and `key` ran less than `interval` seconds ago.

    Returns (result, age): age is None when `work` ran now, else the seconds since the result being reused.
    """
    entry = store.get(_PREFIX + name, None)
    now = clock()
    if isinstance(entry, Recent) and entry.key == key and 0 <= now - entry.at < interval:
        return entry.value, now - entry.at
    value = work()
    store[_PREFIX + name] = Recent(key, clock(), value)
    return value, None


def forget(store: Store, name: str) -> None:
    """Drop a remembered result (the thing it was about changed, e.g. a site was edited)."""
    store.pop(_PREFIX + name, None)


def age_note(age: float, what: str = "Checked") -> str:
    """'Checked 3 s ago: …', the words that say a result was reused."""
    return f"{what} {max(1, round(age))} s ago: this is that result (a new check is possible after {INTERVAL:g} s)."
