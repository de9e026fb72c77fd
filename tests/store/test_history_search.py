"""The history's search, in the domain, on SQLite and on the real PostgreSQL: each filter alone
and together, a centre's sessions only, newest first, pages that neither skip nor repeat, and the
indexes the searches rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from visioregul.integration.sessions.history import SessionFilter, find_sessions
from visioregul.integration.sessions.models import Invitation, VisioSession
from visioregul.integration.store.models import Centre

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


async def _fill(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Two centres: centre 1 has 12 sessions an hour apart, centre 2 mirrors them."""
    sessions, invitations = [], []
    for centre in (1, 2):
        for index in range(12):
            session_id = f"{centre}{index:031x}"
            sessions.append(
                {
                    "id": session_id,
                    "centre_id": centre,
                    "state": "ended" if index % 3 else "video_live",
                    "created_at": NOW - timedelta(hours=index),
                    "updated_at": NOW - timedelta(hours=index),
                    "created_by": "martin" if index % 2 else "durand",
                    "position": "PJSIP/1001",
                    "call_id": f"call-{index}",
                    "caller_number": "+33612345678" if index == 4 else None,
                    # How the ended ones ended (a running session has no outcome yet).
                    "outcome": None
                    if index % 3 == 0
                    else ("video_established" if index % 2 else "link_not_opened"),
                }
            )
            invitations.append(
                {
                    "id": f"{centre}{index:030x}i",
                    "session_id": session_id,
                    "role": "patient",
                    "channel": "sms",
                    "destination": "+33698765432" if index == 7 else f"+3361100000{index:02d}",
                    "token_hash": f"{centre}{index:063x}",
                    "created_at": NOW - timedelta(hours=index),
                    "created_by": "martin",
                    "expires_at": NOW,
                }
            )
    async with sessionmaker.begin() as db:
        await db.execute(insert(Centre), [{"id": 2, "code": "b", "name": "SAMU B"}])
        await db.execute(insert(VisioSession), sessions)
        await db.execute(insert(Invitation), invitations)


async def _ids(
    sessionmaker: async_sessionmaker[AsyncSession], **fields: object
) -> tuple[list[int], int]:
    filters = SessionFilter(centre_id=1, **fields)  # type: ignore[arg-type]
    rows, total = await find_sessions(sessionmaker, filters)
    assert all(session.centre_id == 1 for session, _ in rows)
    return [int(session.id[1:], 16) for session, _ in rows], total


async def test_given_two_centres_when_searching_then_each_filter_finds_its_sessions_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _fill(sessionmaker)

    assert await _ids(sessionmaker) == (list(range(12)), 12)
    assert await _ids(sessionmaker, since=NOW - timedelta(hours=3)) == ([0, 1, 2, 3], 4)
    assert await _ids(
        sessionmaker, since=NOW - timedelta(hours=6), until=NOW - timedelta(hours=2)
    ) == ([3, 4, 5, 6], 4)
    assert await _ids(sessionmaker, states=("video_live",)) == ([0, 3, 6, 9], 4)
    assert await _ids(sessionmaker, regulator="durand") == ([0, 2, 4, 6, 8, 10], 6)
    assert await _ids(sessionmaker, call_id="call-5") == ([5], 1)
    # The caller's number, or the number the patient's link went to.
    assert await _ids(sessionmaker, number="+33612345678") == ([4], 1)
    assert await _ids(sessionmaker, number="+33698765432") == ([7], 1)
    assert await _ids(
        sessionmaker, regulator="martin", states=("ended",), since=NOW - timedelta(hours=8)
    ) == ([1, 5, 7], 3)
    assert await _ids(sessionmaker, regulator="nobody") == ([], 0)
    assert await _ids(sessionmaker, outcomes=("video_established",)) == ([1, 5, 7, 11], 4)
    assert await _ids(sessionmaker, outcomes=("link_not_opened", "photos_only")) == (
        [2, 4, 8, 10],
        4,
    )
    assert await _ids(
        sessionmaker, outcomes=("video_established",), regulator="martin", limit=2
    ) == ([1, 5], 4)


async def test_given_pages_when_walking_the_history_then_nothing_is_skipped_or_repeated(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _fill(sessionmaker)
    seen: list[int] = []
    for offset in range(0, 12, 5):
        page, total = await _ids(sessionmaker, limit=5, offset=offset)
        assert total == 12
        seen += page
    assert seen == list(range(12))
    assert await _ids(sessionmaker, limit=5, offset=50) == ([], 12)


async def test_the_history_indexes_exist(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        indexes = await connection.run_sync(
            lambda sync: {
                index["name"]: index["column_names"]
                for index in inspect(sync).get_indexes("visio_sessions")
            }
        )
    assert indexes["ix_visio_sessions_centre_created"] == ["centre_id", "created_at"]
    assert indexes["ix_visio_sessions_centre_state_created"] == [
        "centre_id",
        "state",
        "created_at",
    ]
    assert indexes["ix_visio_sessions_centre_creator_created"] == [
        "centre_id",
        "created_by",
        "created_at",
    ]
    assert indexes["ix_visio_sessions_centre_caller_created"] == [
        "centre_id",
        "caller_number",
        "created_at",
    ]
    assert indexes["ix_visio_sessions_centre_call_created"] == [
        "centre_id",
        "call_id",
        "created_at",
    ]
    assert indexes["ix_visio_sessions_centre_outcome_created"] == [
        "centre_id",
        "outcome",
        "created_at",
    ]
