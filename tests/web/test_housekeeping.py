"""Housekeeping: idle sessions expire, old ended sessions are purged with all their rows.

The service runs from ``create_app`` on the local outbox; time is moved by writing older
timestamps in the database (``sessions.idle_expiry`` is 5 minutes at least).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select, update

from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.sessions.models import Invitation, SessionEvent, VisioSession
from visioregul.integration.store.models import utcnow

from .conftest import login, make_settings, public_origin
from .helpers import (
    LINK,
    Client,
    add_regulator,
    detail,
    event_types,
    has_event,
    open_session,
    wait_detail,
)

SERVICE_LOG = "visioregul.integration.sessions.housekeeping"


async def link_of(client: Client, session: dict[str, Any]) -> str:
    """The token of the session's patient link, read from the outbox."""
    await wait_detail(client, session["id"], has_event("invitation.simulated"), "the outbox")
    messages = (await (await client.get("/console/api/outbox")).json())["messages"]
    destination = session["invitations"][0]["destination"]
    link = LINK.search(next(m["text"] for m in messages if m["to"] == destination))
    assert link is not None
    return link.group(1)


async def age(client: Client, session_id: str, **changes: Any) -> None:
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(
            update(VisioSession).where(VisioSession.id == session_id).values(**changes)
        )


async def rows(client: Client, session_id: str) -> tuple[int, int, int]:
    """How many session, invitation and event rows the session has."""
    counts = []
    async with client.app[appkeys.DB]() as db:
        for column in (VisioSession.id, Invitation.session_id, SessionEvent.session_id):
            counts.append(await db.scalar(select(func.count()).where(column == session_id)) or 0)
    return counts[0], counts[1], counts[2]


async def test_given_a_session_idle_too_long_when_expiring_then_expired_and_its_link_refused(
    client: Client,
) -> None:
    csrf = await login(client)
    idle = await open_session(client, csrf)
    busy = await open_session(client, csrf, "06 11 11 11 11")
    token = await link_of(client, idle)
    idle_expiry = client.app[appkeys.SETTINGS].sessions.idle_expiry
    await age(client, idle["id"], updated_at=utcnow() - timedelta(seconds=idle_expiry + 1))
    await age(client, busy["id"], updated_at=utcnow() - timedelta(seconds=idle_expiry - 60))

    expired = await client.app[appkeys.SESSION_SERVICE].expire_idle()

    assert expired == 1
    body = await detail(client, idle["id"])
    assert (body["state"], body["ended_by"], body["end_reason"]) == ("expired", "system", "expired")
    assert body["ended_at"] is not None
    last = body["timeline"][-1]
    assert (last["type"], last["actor"]) == ("session.expired", "system")
    assert last["details"] == {"state": "expired", "previous_state": "invited"}
    assert (await client.get(f"/p/{token}")).status == 404
    # A page opened before still tries its socket: refused, and the timeline says why.
    async with client.ws_connect(f"/p/{token}/ws", origin=public_origin(client)) as ws:
        assert (await ws.receive(timeout=5)).data == 4401
    refused = await detail(client, idle["id"])
    assert refused["timeline"][-1]["details"]["reason"] == "session_closed"
    response = await client.post(
        f"/console/api/sessions/{idle['id']}/invitations",
        json={"destination": "0612345678"},
        headers={"X-CSRF-Token": csrf},
    )
    assert (response.status, (await response.json())["error_id"]) == (409, "session_closed")
    assert (await detail(client, busy["id"]))["state"] == "invited"
    # Nothing more to do the second time.
    assert await client.app[appkeys.SESSION_SERVICE].expire_idle() == 0


async def test_given_old_and_recent_sessions_when_purging_then_only_old_ended_ones_go_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    csrf = await login(client)
    old = await open_session(client, csrf, "06 11 11 11 11")
    recent = await open_session(client, csrf, "06 22 22 22 22")
    open_old = await open_session(client, csrf, "06 33 33 33 33")
    old_token = await link_of(client, old)
    for session in (old, recent):
        response = await client.post(
            f"/console/api/sessions/{session['id']}/end", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status == 200
    retention = timedelta(days=client.app[appkeys.SETTINGS].sessions.retention_days)
    long_ago = utcnow() - retention - timedelta(hours=1)
    await age(client, old["id"], ended_at=long_ago, created_at=long_ago, updated_at=long_ago)
    await age(client, recent["id"], ended_at=utcnow() - retention + timedelta(hours=1))
    await age(client, open_old["id"], created_at=long_ago, updated_at=long_ago)
    before = await rows(client, old["id"])
    assert before[0] == 1 and before[1] == 1 and before[2] >= 4

    with caplog.at_level(logging.INFO, logger=SERVICE_LOG):
        purged = await client.app[appkeys.SESSION_SERVICE].purge()

    assert purged == 1
    assert await rows(client, old["id"]) == (0, 0, 0)
    assert (await client.get(f"/console/api/sessions/{old['id']}")).status == 404
    assert (await client.get(f"/p/{old_token}")).status == 404
    for kept in (recent, open_old):
        count = await rows(client, kept["id"])
        assert count[0] == 1 and count[1] == 1 and count[2] >= 3, kept
    history = await (await client.get("/console/api/sessions")).json()
    assert {s["id"] for s in history["sessions"]} == {recent["id"], open_old["id"]}
    (record,) = [r for r in caplog.records if r.name == SERVICE_LOG and "purged" in r.message]
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith("retention: purged 1 sessions ended before ")
    # Nothing more to do the second time, and nothing logged.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=SERVICE_LOG):
        assert await client.app[appkeys.SESSION_SERVICE].purge() == 0
    assert not [r for r in caplog.records if "purged" in r.message]


async def test_given_idle_and_old_sessions_when_the_service_starts_then_housekept_at_once(
    aiohttp_client: AiohttpClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = await aiohttp_client(create_app(make_settings(tmp_path)))
    await add_regulator(first.app)
    csrf = await login(first)
    idle = await open_session(first, csrf)
    old = await open_session(first, csrf, "06 11 11 11 11")
    await wait_detail(first, old["id"], has_event("invitation.simulated"), "the outbox")
    response = await first.post(
        f"/console/api/sessions/{old['id']}/end", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 200
    settings = first.app[appkeys.SETTINGS].sessions
    await age(first, idle["id"], updated_at=utcnow() - timedelta(seconds=settings.idle_expiry + 1))
    await age(first, old["id"], ended_at=utcnow() - timedelta(days=settings.retention_days + 1))
    await first.close()

    with caplog.at_level(logging.INFO, logger=SERVICE_LOG):
        second = await aiohttp_client(create_app(make_settings(tmp_path)))
        await login(second)
        body = await wait_detail(
            second, idle["id"], lambda b: b["state"] == "expired", "the expiry at start"
        )

    assert event_types(body)[-1] == "session.expired"
    assert (await second.get(f"/console/api/sessions/{old['id']}")).status == 404
    assert any("retention: purged 1 sessions" in r.getMessage() for r in caplog.records)
