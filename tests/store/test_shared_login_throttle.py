"""Failed logins counted in PostgreSQL: the rules of the in-memory throttle, by the database's
clock; keys quiet for a day are purged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.integration.ratelimit import RateLimitExceeded
from visioregul.integration.shared_login_throttle import (
    LoginFailures,
    StoreLoginThrottle,
    purge_login_failures,
    stored_key,
)
from visioregul.integration.store.models import utcnow

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def _counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Counts by key, the keys read back from their stored digests."""
    known = {stored_key(key): key for key in ("ip:192.0.2.1", "user:arm1")}
    async with sessionmaker() as db:
        rows = await db.execute(select(LoginFailures.key, LoginFailures.count))
        return {known.get(key, key): count for key, count in rows}


async def test_given_failures_then_delays_start_after_the_free_ones_and_a_success_forgets(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    throttle = StoreLoginThrottle(lambda: sessionmaker, free_failures=2, max_delay=300)
    await throttle.failed("ip:192.0.2.1", "user:arm1")
    await throttle.check("ip:192.0.2.1", "user:arm1")
    assert not await throttle.locked_out("user:arm1")
    await throttle.failed("ip:192.0.2.1", "user:arm1")
    for _ in range(6):
        await throttle.failed("user:arm1")
    assert await _counts(sessionmaker) == {"ip:192.0.2.1": 2, "user:arm1": 8}
    assert await throttle.locked_out("user:arm1")
    assert await throttle.locked_out("ip:192.0.2.1")
    with pytest.raises(RateLimitExceeded) as refused:
        await throttle.check("ip:192.0.2.9", "user:arm1")
    assert 1 <= refused.value.retry_after <= 2 ** (8 - 2)
    await throttle.check("ip:192.0.2.9", "user:other")

    await throttle.succeeded("user:arm1")
    assert not await throttle.locked_out("user:arm1")
    assert await throttle.unlock("ARM1") is False
    await throttle.failed("password:arm1")
    assert await throttle.unlock("ARM1") is True
    assert await _counts(sessionmaker) == {"ip:192.0.2.1": 2}


async def test_given_failures_further_apart_than_forget_after_then_each_starts_afresh(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Each failure's transaction starts after the previous one's: with nothing to remember,
    # every failure is the first again.
    throttle = StoreLoginThrottle(lambda: sessionmaker, free_failures=1, forget_after=0)
    for _ in range(3):
        await throttle.failed("ip:192.0.2.1")
    assert await _counts(sessionmaker) == {"ip:192.0.2.1": 1}
    assert not await throttle.locked_out("ip:192.0.2.1")
    await throttle.check("ip:192.0.2.1")


async def test_given_login_failures_quiet_for_a_day_then_purged(session: AsyncSession) -> None:
    for key in ("ip:192.0.2.1", "user:arm1"):
        session.add(LoginFailures(key=stored_key(key), count=3, last_at=utcnow()))
    await session.flush()
    await session.execute(
        update(LoginFailures)
        .where(LoginFailures.key == stored_key("ip:192.0.2.1"))
        .values(last_at=utcnow() - timedelta(days=1, seconds=1))
    )
    assert await purge_login_failures(session) == 1
    assert list(await session.scalars(select(LoginFailures.key))) == [stored_key("user:arm1")]


async def test_given_a_hostile_username_then_its_failures_count_and_nothing_is_kept_in_clear(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    throttle = StoreLoginThrottle(lambda: sessionmaker, free_failures=1)
    hostile = "user:a\x00b" + "é" * 500
    for _ in range(2):
        await throttle.failed(hostile, "ip:192.0.2.1")
    assert await throttle.locked_out(hostile)
    async with sessionmaker() as db:
        stored = set(await db.scalars(select(LoginFailures.key)))
    assert stored == {stored_key(hostile), stored_key("ip:192.0.2.1")}
    assert all(len(key) == 64 and "192.0.2.1" not in key for key in stored)
