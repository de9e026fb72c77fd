"""Claims: two instances racing on the same action, one wins, every time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.integration.store.claims import KEEP_CLAIMS, ActionClaim, claim, purge_claims
from visioregul.integration.store.models import utcnow


async def _claim(db: async_sessionmaker[AsyncSession], key: str, instance: str) -> bool:
    async with db.begin() as session:
        return await claim(session, key, instance)


async def test_given_two_instances_racing_on_each_action_then_exactly_one_takes_it(
    sessionmaker: async_sessionmaker[AsyncSession],
    other_instance: async_sessionmaker[AsyncSession],
) -> None:
    for press in range(20):
        key = f"feature-code:press-{press}"
        first, second = await asyncio.gather(
            _claim(sessionmaker, key, "a"), _claim(other_instance, key, "b")
        )
        assert [first, second].count(True) == 1, (press, first, second)
        # Later, the same event heard again (a reconnection replaying it): nobody acts.
        assert not await _claim(sessionmaker, key, "a")

    async with sessionmaker() as session:
        rows = list(await session.scalars(select(ActionClaim)))
    assert len(rows) == 20
    assert {row.instance for row in rows} <= {"a", "b"}


async def test_given_a_claim_rolled_back_then_the_action_is_free_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # The instance that claimed failed before it committed: another may try.
    async with sessionmaker() as session:
        assert await claim(session, "call-event:c1:ended", "a")
        await session.rollback()

    assert await _claim(sessionmaker, "call-event:c1:ended", "b")


async def test_given_old_and_recent_claims_when_purging_then_only_old_ones_go(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        assert await claim(session, "old", "a")
        assert await claim(session, "recent", "a")
    later = utcnow() + KEEP_CLAIMS + timedelta(minutes=1)
    async with sessionmaker.begin() as session:
        old = await session.get(ActionClaim, "old")
        assert old is not None
        old.claimed_at = utcnow() - KEEP_CLAIMS - timedelta(minutes=1)

    async with sessionmaker.begin() as session:
        assert await purge_claims(session) == 1
    async with sessionmaker() as session:
        assert [row.key for row in await session.scalars(select(ActionClaim))] == ["recent"]
    async with sessionmaker.begin() as session:
        assert await purge_claims(session, now=later) == 1
