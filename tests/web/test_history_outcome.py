"""The history searched by outcome: how each visio ended is kept when it ends, and « Résultat »
finds the visios that ended that way (console and CAD), never one still running."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestClient

from visioregul.integration import appkeys
from visioregul.integration.sessions.services import Actor

from .conftest import CAD_KEY, login
from .helpers import open_session

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {CAD_KEY}"}
NO_VIDEO = (
    "photos_only,network_weak,no_path,camera_allowed,camera_refused,camera_unavailable,"
    "browser_unsupported,link_opened,link_not_opened,not_delivered,waiting"
)


async def _page(client: Client, headers: dict[str, str] | None = None, **query: str) -> Any:
    prefix = "/api/v1/sessions" if headers else "/console/api/sessions"
    response = await client.get(f"{prefix}?{urlencode(query)}", headers=headers or {})
    assert response.status == 200, await response.text()
    return await response.json()


async def _found(client: Client, headers: dict[str, str] | None = None, **query: str) -> set[str]:
    return {session["id"] for session in (await _page(client, headers, **query))["sessions"]}


async def _end(client: Client, csrf: str, session_id: str) -> None:
    response = await client.post(
        f"/console/api/sessions/{session_id}/end",
        json={"reason": "ended_by_regulator"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 200, await response.text()


async def test_given_visios_that_ended_differently_when_filtering_by_outcome_then_each_found(
    client: Client,
) -> None:
    csrf = await login(client)
    service = client.app[appkeys.SESSION_SERVICE]
    patient = Actor("patient")
    seen = (await open_session(client, csrf, "06 11 11 11 11"))["id"]
    await service.record(seen, patient, "link.opened")
    await service.record(seen, patient, "camera.allowed")
    await service.record(seen, patient, "video.live")
    photos = (await open_session(client, csrf, "06 22 22 22 22"))["id"]
    await service.record(photos, patient, "video.photo_mode", {"reason": "no_frames"})
    await service.record(photos, patient, "photo.taken")
    unopened = (await open_session(client, csrf, "06 33 33 33 33"))["id"]
    running = (await open_session(client, csrf, "06 44 44 44 44"))["id"]
    await service.record(running, patient, "video.live")
    for session_id in (seen, photos, unopened):
        await _end(client, csrf, session_id)

    for headers in (None, AUTH):
        assert await _found(client, headers, outcome="video_established") == {seen}
        assert await _found(client, headers, outcome="photos_only,network_weak") == {photos}
        assert await _found(client, headers, outcome="link_not_opened") == {unopened}
        assert await _found(client, headers, outcome=NO_VIDEO) == {photos, unopened}
        # Combined with the other filters; a visio still running has no result yet.
        assert await _found(client, headers, outcome="video_established", state="ended") == {seen}
        assert await _found(client, headers, outcome="camera_refused") == set()
        assert running in await _found(client, headers)
    # The outcome kept is the one the history shows for the row.
    rows = (await _page(client))["sessions"]
    shown = {row["id"]: row["outcome"]["kind"] for row in rows}
    assert shown[seen] == "video_established"
    assert shown[photos] == "photos_only"
    assert shown[unopened] == "link_not_opened"


async def test_given_an_unknown_outcome_then_a_clear_error(client: Client) -> None:
    await login(client)
    for headers, prefix in ((None, "/console/api/sessions"), (AUTH, "/api/v1/sessions")):
        response = await client.get(f"{prefix}?outcome=video_seen", headers=headers or {})
        assert response.status == 400
        body = await response.json()
        assert body["error_id"] == "invalid_request"
        assert "outcome: unknown outcome 'video_seen'" in str(body)
