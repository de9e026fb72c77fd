"""Migration 0019: the visios that ended before it get how they ended from their log; those
still running get nothing (they have no result yet); every row survives."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from visioregul.integration.store.db import alembic_config, upgrade

_SESSION = (
    "INSERT INTO visio_sessions (id, centre_id, state, created_at, updated_at, created_by)"
    " VALUES (:id, 1, :state, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'regulateur')"
)
_EVENT = (
    "INSERT INTO session_events (session_id, at, actor, type, details)"
    " VALUES (:session, CURRENT_TIMESTAMP, 'system', :type, :details)"
)
LOGS = {
    "seen": ("ended", ["invitation.created", "link.opened", "video.live", "session.ended"]),
    "unopened": ("expired", ["invitation.created", "invitation.sent", "session.expired"]),
    "nothing": ("ended", ["session.ended"]),
    "running": ("video_live", ["invitation.created", "video.live"]),
}


async def test_given_sessions_of_0018_when_upgrading_then_ended_ones_get_their_outcome(
    empty_url: str,
) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(empty_url), "0018_early_statuses")
    engine = create_async_engine(empty_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            for session_id, (state, kinds) in LOGS.items():
                await connection.execute(text(_SESSION), {"id": session_id, "state": state})
                for kind in kinds:
                    details = '{"invitation_id": "i1"}' if kind.startswith("invitation") else "{}"
                    await connection.execute(
                        text(_EVENT), {"session": session_id, "type": kind, "details": details}
                    )

        await upgrade(empty_url)

        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT id, outcome FROM visio_sessions"))
            rows: dict[str, str | None] = {row[0]: row[1] for row in result}
            events = await connection.scalar(text("SELECT count(*) FROM session_events"))
    finally:
        await engine.dispose()
    assert rows == {
        "seen": "video_established",
        "unopened": "link_not_opened",
        "nothing": "waiting",
        "running": None,
    }
    assert events == sum(len(kinds) for _state, kinds in LOGS.values())
