"""Calls per token: a token bucket each (RANCHERSYNC_API_RATE calls a minute, bursts of RANCHERSYNC_API_BURST), so
one runaway pipeline cannot starve the others; an empty bucket answers 429 with Retry-After."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from ranchersync.kernel.errors import ValidationError

__all__ = ["DEFAULT_BURST", "DEFAULT_RATE", "Limit", "TokenBuckets"]

DEFAULT_RATE: Final = 600.0  # calls a minute per token
DEFAULT_BURST: Final = 60


@dataclass(frozen=True)
class Limit:
    """`per_minute` calls a minute on average, `burst` at once."""

    per_minute: float = DEFAULT_RATE
    burst: int = DEFAULT_BURST

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limit:
        """RANCHERSYNC_API_RATE (calls a minute) and RANCHERSYNC_API_BURST, with the defaults."""
        env = os.environ if environ is None else environ
        try:
            rate = float(env.get("RANCHERSYNC_API_RATE", "") or DEFAULT_RATE)
            burst = int(env.get("RANCHERSYNC_API_BURST", "") or DEFAULT_BURST)
        except ValueError:
            raise ValidationError("RANCHERSYNC_API_RATE and RANCHERSYNC_API_BURST must be numbers") from None
        if rate <= 0 or burst < 1:
            raise ValidationError("RANCHERSYNC_API_RATE must be positive and RANCHERSYNC_API_BURST at least 1")
        return cls(rate, burst)


class TokenBuckets:
    """One bucket per token name, in this process (each replica counts its own calls)."""

    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit, self._clock = limit, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name → (tokens, at)
        self._lock = threading.Lock()

    def take(self, name: str) -> int:
        """Take one call for `name`: 0 when allowed, else the seconds to wait before the next one may pass."""
        per_second = self._limit.per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(name, (float(self._limit.burst), now))
            tokens = min(float(self._limit.burst), tokens + (now - at) * per_second)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return 0
            self._buckets[name] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / per_second))
