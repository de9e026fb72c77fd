"""The audit log: append and read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.integration.audit import ACTOR_SYSTEM, cad_actor, recent, record


async def test_given_entries_when_listing_recent_then_newest_first_with_limit_and_filter(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        await record(session, actor="alice", action="console.login")
        await record(session, actor="mallory", action="console.login_failed")
        await record(session, actor=cad_actor("k1"), action="invitation.requested", target="c-1")
        await record(session, actor="alice", action="console.logout")
        await record(session, actor="alice", action="console.login")

    async with sessionmaker() as session:
        everything = await recent(session)
        latest_two = await recent(session, limit=2)
        logins = await recent(session, action="console.login")
        none = await recent(session, action="console.nothing")

    assert [(e.actor, e.action) for e in everything] == [
        ("alice", "console.login"),
        ("alice", "console.logout"),
        ("cad:k1", "invitation.requested"),
        ("mallory", "console.login_failed"),
        ("alice", "console.login"),
    ]
    assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
    assert [e.at for e in everything] == sorted((e.at for e in everything), reverse=True)
    assert latest_two == everything[:2]
    assert [e.id for e in logins] == [everything[0].id, everything[4].id]
    assert none == []
    assert everything[2].target == "c-1"
    assert everything[0].target is None


async def test_given_nested_details_when_recorded_then_they_read_back_equal(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    details: dict[str, Any] = {
        "reason": "mot de passe erroné",
        "attempt": 3,
        "ratio": 0.25,
        "locked": False,
        "previous": None,
        "positions": ["PJSIP/1001", "PJSIP/1002"],
        "call": {"uniqueid": "1718000000.42", "number": "+33612345678"},
    }
    async with sessionmaker.begin() as session:
        entry = await record(
            session,
            actor=ACTOR_SYSTEM,
            action="console.login_failed",
            target="1718000000.42",
            details=details,
        )
        details["attempt"] = 4  # the entry keeps what was recorded

    async with sessionmaker() as session:
        [loaded] = await recent(session)

    assert loaded.id == entry.id
    assert loaded.details == {**details, "attempt": 3}
    assert loaded.actor == "system"
    assert loaded.at.tzinfo is UTC
    assert (datetime.now(UTC) - loaded.at).total_seconds() < 60


async def test_given_no_details_when_recorded_then_an_empty_object(
    session: AsyncSession,
) -> None:
    entry = await record(session, actor="alice", action="console.login")

    assert entry.details == {}
    assert entry.id is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"actor": "", "action": "console.login"}, "actor must be"),
        ({"actor": "a", "action": "login"}, "action must be a dotted slug"),
        ({"actor": "a", "action": "Console.Login"}, "action must be a dotted slug"),
        ({"actor": "a", "action": "console.login", "target": "x" * 129}, "target must be"),
        ({"actor": "a", "action": "console.login", "details": {"at": datetime.now(UTC)}}, "JSON"),
        ({"actor": "a", "action": "console.login", "details": {"x": float("nan")}}, "JSON"),
    ],
)
async def test_given_bad_arguments_when_recording_then_value_error(
    session: AsyncSession, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await record(session, **kwargs)
    assert await recent(session) == []


async def test_given_a_bad_limit_when_listing_then_value_error(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="limit must be positive"):
        await recent(session, limit=0)
