"""Rate limits every instance counts together, in the store (several instances on PostgreSQL).

Behind a load balancer, each instance counting for itself would let a client make N times the
limit. Here each key counts its hits per window of ``period`` seconds in ``rate_limit_hits``;
the limit applies to a sliding estimate (this window's hits plus the previous window's, weighted
by how much of it is still within ``period``), the usual sliding-window counter: one row per key
and window, one statement per hit. A refused hit is not counted, as in memory.

On SQLite (one instance) the limits stay in memory (:class:`LocalLimiter`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import BigInteger, Integer, String, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from .ratelimit import RateLimiter, RateLimitExceeded
from .store.models import Base

__all__ = ["Limiter", "LocalLimiter", "RateLimitHits", "StoreLimiter", "purge_hits"]

_KEEP_SECONDS = 2 * 86400
"""Windows older than this are purged (longer than any limit's period)."""


class Limiter(Protocol):
    """Counts hits per key; raises ``RateLimitExceeded`` over the limit."""

    async def hit(self, key: str) -> None:
        """Count one hit for ``key``."""


@dataclass
class LocalLimiter:
    """A limit counted in this process's memory (one instance)."""

    limiter: RateLimiter

    async def hit(self, key: str) -> None:
        """Count one hit for ``key``."""
        self.limiter.hit(key)


class RateLimitHits(Base):
    """Hits of one key in one window."""

    __tablename__ = "rate_limit_hits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """The limit's name and the key (a client's address, an account)."""
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """The window's start, in seconds since the epoch (a multiple of the period)."""
    hits: Mapped[int] = mapped_column(Integer)


@dataclass
class StoreLimiter:
    """At most ``limit`` hits per ``period`` seconds for each key, across every instance."""

    name: str
    limit: int
    period: int
    db: Callable[[], async_sessionmaker[AsyncSession]]
    """The store (read when a hit comes: the application opens it after building this)."""
    clock: Callable[[], float] = time.time

    async def hit(self, key: str) -> None:
        """Count one hit for ``key``; raise ``RateLimitExceeded`` when over the limit."""
        now = self.clock()
        window = int(now // self.period) * self.period
        row_key = f"{self.name}:{key}"[:200]
        async with self.db().begin() as db:
            counted = await db.scalar(
                insert(RateLimitHits)
                .values(key=row_key, window_start=window, hits=1)
                .on_conflict_do_update(
                    index_elements=["key", "window_start"],
                    set_={"hits": RateLimitHits.hits + 1},
                )
                .returning(RateLimitHits.hits)
            )
            previous = await db.scalar(
                select(RateLimitHits.hits).where(
                    RateLimitHits.key == row_key,
                    RateLimitHits.window_start == window - self.period,
                )
            )
            still_in = 1 - (now - window) / self.period
            estimate = (counted or 0) + (previous or 0) * still_in
            if estimate > self.limit:
                # Raised inside the transaction: the refused hit is rolled back, not counted.
                raise RateLimitExceeded(retry_after=max(1, math.ceil(window + self.period - now)))


async def purge_hits(db: AsyncSession, now: float | None = None) -> int:
    """Forget windows older than two days; return how many rows."""
    limit = int((now if now is not None else time.time()) - _KEEP_SECONDS)
    result = await db.execute(delete(RateLimitHits).where(RateLimitHits.window_start < limit))
    return int(getattr(result, "rowcount", 0) or 0)
