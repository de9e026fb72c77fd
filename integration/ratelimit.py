"""Sliding-window rate limits, in memory (one process; a shared one comes with several instances).

Knows nothing of HTTP: an exceeded limit raises ``RateLimitExceeded``, which each caller
translates (a 429, a login page message, a phone tone).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RateLimitExceeded", "RateLimiter"]


class RateLimitExceeded(Exception):
    """A key went over its limit; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit exceeded, retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class RateLimiter:
    """At most ``limit`` hits per ``period`` seconds for each key."""

    limit: int
    period: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict)
    _max_keys: int = 100_000

    def hit(self, key: str) -> None:
        """Count one hit for ``key``; raise ``RateLimitExceeded`` when over the limit."""
        now = self.clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._evict(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.period:
            hits.popleft()
        if len(hits) >= self.limit:
            raise RateLimitExceeded(retry_after=max(1, math.ceil(hits[0] + self.period - now)))
        hits.append(now)

    def reset(self, key: str) -> None:
        """Forget ``key`` (e.g. after a successful login)."""
        self._hits.pop(key, None)

    def _evict(self, now: float) -> None:
        # A flood of distinct keys must not grow memory without bound.
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.period]:
            del self._hits[key]
