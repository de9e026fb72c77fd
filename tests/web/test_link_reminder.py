"""A patient's link not opened in time: the session's log says so once, the room's outcome
offers to send it again or by e-mail (the service's own background check, on a short delay)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pytest_aiohttp import AiohttpClient
from sqlalchemy import update

from tests.store.conftest import NewDatabase
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.sessions.models import Invitation
from visioregul.integration.settings import InvitationSettings
from visioregul.integration.store.models import utcnow

from .conftest import login, make_settings
from .helpers import Client, add_regulator, detail, events_of, has_event, open_session, wait_detail


async def reminding_client(
    aiohttp_client: AiohttpClient, tmp_path: Path, database_url: str, minutes: float
) -> Client:
    settings = make_settings(tmp_path)
    settings.database = settings.database.model_copy(update={"url": database_url})
    settings.invitations = InvitationSettings(remind_after_minutes=minutes)
    client = await aiohttp_client(create_app(settings))
    await add_regulator(client.app)
    return client


async def test_given_a_link_not_opened_when_the_delay_passes_then_reminded_once(
    aiohttp_client: AiohttpClient, tmp_path: Path, new_database: NewDatabase
) -> None:
    # 3 s: the background check looks every 0.75 s.
    client = await reminding_client(aiohttp_client, tmp_path, await new_database(), 0.05)
    csrf = await login(client)
    session = await open_session(client, csrf)

    body = await wait_detail(
        client, session["id"], has_event("link.not_opened"), "the reminder", timeout=20
    )

    [reminder] = events_of(body, "link.not_opened")
    invitation = session["invitations"][0]
    assert reminder["actor"] == "system"
    assert reminder["details"] == {
        "invitation_id": invitation["id"],
        "channel": "sms",
        "minutes": 1,
    }
    assert body["outcome"]["kind"] == "link_not_opened"
    assert body["outcome"]["next_steps"] == ["resend", "email"]
    assert body["outcome"]["tone"] == "warning"
    # Once per link: the next rounds find nothing to say.
    assert await client.app[appkeys.SESSION_SERVICE].remind_unopened_links() == 0
    # The history lists it with its outcome.
    history: Any = await (await client.get("/console/api/sessions")).json()
    [listed] = [s for s in history["sessions"] if s["id"] == session["id"]]
    assert listed["outcome"]["kind"] == "link_not_opened"
    assert "timeline" not in listed


async def test_given_an_ended_session_or_an_off_setting_then_no_reminder(
    aiohttp_client: AiohttpClient, tmp_path: Path, new_database: NewDatabase
) -> None:
    client = await reminding_client(aiohttp_client, tmp_path, await new_database(), 0)
    csrf = await login(client)
    waiting = await open_session(client, csrf)
    ended = await open_session(client, csrf, "06 11 11 11 11")
    response = await client.post(
        f"/console/api/sessions/{ended['id']}/end", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 200, await response.text()
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(update(Invitation).values(created_at=utcnow() - timedelta(hours=1)))
    service = client.app[appkeys.SESSION_SERVICE]

    assert await service.remind_unopened_links() == 0  # the setting is 0: never

    client.app[appkeys.SETTINGS].invitations.remind_after_minutes = 2
    assert await service.remind_unopened_links() == 1
    assert has_event("link.not_opened")(await detail(client, waiting["id"]))
    ended_body = await detail(client, ended["id"])
    assert not has_event("link.not_opened")(ended_body)
    assert ended_body["outcome"] == {
        **ended_body["outcome"],
        "kind": "link_not_opened",
        "final": True,
        "next_steps": [],
    }
