"""The audit log: append and read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.integration.accounts import ensure_account, get_account_by_username
from visioregul.integration.audit import ACTOR_SYSTEM, cad_actor, recent, record
from visioregul.integration.store.models import Centre, Position, Role


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


async def test_given_actors_then_each_entry_belongs_to_the_actors_centre(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        guyane = Centre(code="samu-973", name="SAMU 973")
        session.add(guyane)
        await session.flush()
        session.add(Position(centre_id=guyane.id, endpoint="PJSIP/1973"))
        await ensure_account(
            session, "arm.cayenne", "correct horse battery", display_name="ARM", role=Role.REGULATOR
        )
        account = await get_account_by_username(session, "arm.cayenne")
        assert account is not None
        account.centre_id = guyane.id

    async with sessionmaker.begin() as session:
        by_account = await record(session, actor="arm.cayenne", action="console.login")
        by_desk = await record(session, actor="position:PJSIP/1973", action="feature_code.sent")
        by_service = await record(session, actor=ACTOR_SYSTEM, action="service.started")
        by_key = await record(session, actor=cad_actor("k1"), action="invitation.requested")
        named = await record(session, actor="arm.cayenne", action="account.saved", centre_id=1)

    assert (by_account.centre_id, by_desk.centre_id) == (guyane.id, guyane.id)
    assert (by_service.centre_id, by_key.centre_id, named.centre_id) == (None, None, 1)
