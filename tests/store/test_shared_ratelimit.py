"""Rate limits counted in PostgreSQL: every instance counts against the same limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.integration.ratelimit import RateLimitExceeded
from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.shared_ratelimit import RateLimitHits, StoreLimiter, purge_hits
from visioregul.integration.store.db import create_engine, make_sessionmaker

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

START = 1_800_000_000.0
"""A clock reading at the start of a window (a multiple of 60)."""


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def other_instance(migrated_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(DatabaseSettings(url=migrated_url))
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def test_given_two_instances_then_their_hits_count_against_one_limit(
    sessionmaker: async_sessionmaker[AsyncSession],
    other_instance: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    first = StoreLimiter("link", 5, 60, lambda: sessionmaker, clock)
    second = StoreLimiter("link", 5, 60, lambda: other_instance, clock)
    for limiter in (first, second, first, second, first):
        await limiter.hit("203.0.113.9")

    for limiter in (first, second):
        with pytest.raises(RateLimitExceeded) as refused:
            await limiter.hit("203.0.113.9")
        assert 1 <= refused.value.retry_after <= 60
    await first.hit("198.51.100.7")  # another client has its own count
    # Another limit with the same key counts apart.
    await StoreLimiter("psc", 5, 60, lambda: sessionmaker, clock).hit("203.0.113.9")


async def test_given_a_full_window_then_half_a_window_later_half_of_it_still_counts(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    limiter = StoreLimiter("link", 4, 60, lambda: sessionmaker, clock)
    for _ in range(4):
        await limiter.hit("k")
    with pytest.raises(RateLimitExceeded):
        await limiter.hit("k")  # refused: not counted

    clock.now = START + 90  # half of the next window: 4 x 0.5 = 2 of the last still count
    await limiter.hit("k")
    await limiter.hit("k")
    with pytest.raises(RateLimitExceeded):
        await limiter.hit("k")


async def test_given_old_windows_when_purging_then_they_go(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    limiter = StoreLimiter("link", 4, 60, lambda: sessionmaker, clock)
    await limiter.hit("old")
    clock.now = START + 3 * 86400
    await limiter.hit("recent")

    async with sessionmaker.begin() as db:
        assert await purge_hits(db, now=clock.now) == 1
    async with sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(RateLimitHits)) == 1
