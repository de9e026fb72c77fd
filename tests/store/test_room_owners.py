"""Who holds each live room among several instances: the first claim wins, the others are sent to
it; a holder that is gone loses its rooms to the next claim; an ended session's room is nobody's;
a holder that stops hands its rooms over."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.integration.room_ownership import (
    InstanceUnreachable,
    RoomHere,
    RoomOwnership,
    RoomThere,
)
from visioregul.integration.sessions.models import VisioSession

S1 = "a" * 32
S2 = "b" * 32

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def _session(db: async_sessionmaker[AsyncSession], session_id: str, state: str) -> None:
    async with db.begin() as session:
        session.add(VisioSession(id=session_id, state=state, created_by="regulateur"))


async def test_given_two_instances_claiming_the_same_rooms_then_one_holds_each(
    sessionmaker: async_sessionmaker[AsyncSession],
    other_instance: async_sessionmaker[AsyncSession],
) -> None:
    a = RoomOwnership(sessionmaker, "visio-a", "http://10.0.0.1:8015")
    b = RoomOwnership(other_instance, "visio-b", "http://10.0.0.2:8015")
    for number in range(10):
        session_id = f"{number:032x}"
        await _session(sessionmaker, session_id, "invited")
        first, second = await asyncio.gather(a.claim(session_id), b.claim(session_id))
        places = sorted([type(first).__name__, type(second).__name__])
        assert places == ["RoomHere", "RoomThere"]
        there = first if isinstance(first, RoomThere) else second
        assert isinstance(there, RoomThere)
        holder, other = (a, b) if there.instance == "visio-a" else (b, a)
        assert session_id in holder.held
        assert session_id not in other.held
        # Asking again answers the same, and the holder's own claim renews it.
        assert await other.find(session_id) == there
        assert await holder.find(session_id) is None
        assert isinstance(await holder.claim(session_id), RoomHere)


async def test_given_a_holder_gone_then_the_next_claim_takes_its_rooms_and_says_from_whom(
    sessionmaker: async_sessionmaker[AsyncSession],
    other_instance: async_sessionmaker[AsyncSession],
) -> None:
    a = RoomOwnership(sessionmaker, "visio-a", "http://10.0.0.1:8015")
    b = RoomOwnership(other_instance, "visio-b", "http://10.0.0.2:8015")
    taken: list[tuple[str, str]] = []
    b.on_taken.append(lambda session_id, previous: taken.append((session_id, previous)))
    await _session(sessionmaker, S1, "video_live")
    assert isinstance(await a.claim(S1), RoomHere)
    there = await b.claim(S1)
    assert there == RoomThere("visio-a", "http://10.0.0.1:8015")

    await b.holder_gone(there)  # nothing listened at A's direct URL
    assert await b.find(S1) is None
    assert await b.claim(S1) == RoomHere(previous="visio-a")
    assert taken == [(S1, "visio-a")]
    assert S1 in b.held


async def test_given_an_ended_session_then_nobody_holds_its_room(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    a = RoomOwnership(sessionmaker, "visio-a", "http://10.0.0.1:8015")
    await _session(sessionmaker, S1, "ended")
    assert await a.claim(S1) == RoomHere()
    assert await a.claim("f" * 32) == RoomHere()  # no such session
    assert await a.claim("s1\x00") == RoomHere()  # not a session's id: never asked of the store
    assert await a.find("s1\x00") is None
    assert a.held == frozenset()
    async with sessionmaker() as db:
        assert await db.scalar(text("SELECT count(*) FROM room_owners")) == 0


async def test_given_a_holder_stopping_then_its_rooms_are_free_and_it_claims_no_more(
    sessionmaker: async_sessionmaker[AsyncSession],
    other_instance: async_sessionmaker[AsyncSession],
) -> None:
    a = RoomOwnership(sessionmaker, "visio-a", "http://10.0.0.1:8015")
    b = RoomOwnership(other_instance, "visio-b", "http://10.0.0.2:8015")
    await a.start()
    for session_id in (S1, S2):
        await _session(sessionmaker, session_id, "video_live")
        assert isinstance(await a.claim(session_id), RoomHere)
    await a.close()
    with pytest.raises(InstanceUnreachable):
        await a.claim(S1)
    assert await b.claim(S1) == RoomHere()  # handed over: nobody's lease ran out
    assert await b.find(S2) is None


async def test_given_an_instance_starting_again_then_its_previous_rooms_are_free(
    sessionmaker: async_sessionmaker[AsyncSession],
    other_instance: async_sessionmaker[AsyncSession],
) -> None:
    # Killed, then started again at once: the new process holds no room of the old one.
    before = RoomOwnership(sessionmaker, "visio-a", "http://10.0.0.1:8015")
    await _session(sessionmaker, S1, "video_live")
    assert isinstance(await before.claim(S1), RoomHere)
    again = RoomOwnership(sessionmaker, "visio-a", "http://10.0.0.1:8015")
    await again.start()
    try:
        b = RoomOwnership(other_instance, "visio-b", "http://10.0.0.2:8015")
        assert await b.claim(S1) == RoomHere()
    finally:
        await again.close()
