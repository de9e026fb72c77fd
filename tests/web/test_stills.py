"""Screenshots through the real application: the patient publishes (a real aiortc peer), the
regulator takes stills, lists and downloads them; refusals without video, for another centre,
after the end; files purged with their session."""

from __future__ import annotations

import re
from datetime import timedelta

import av
import pytest
from aiortc import RTCPeerConnection
from sqlalchemy import func, select, text, update

from tests.media.peers import read_stamp
from visioregul.integration import appkeys
from visioregul.integration.sessions.models import SessionFile, VisioSession
from visioregul.integration.sessions.services import Actor
from visioregul.integration.stills import Stills, StillUnavailable, TooManyStills
from visioregul.integration.storage import DirectoryStorage
from visioregul.integration.store.models import utcnow

from .helpers import events_of, has_event, wait_detail
from .patient import Client, gather_loopback, invite, open_page, publish

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only."""
    gather_loopback(monkeypatch)


async def _live_session(client: Client, peers: list[RTCPeerConnection]) -> tuple[str, str]:
    """A session whose patient publishes a synthetic camera: its id and the CSRF token."""
    session_id, token, csrf = await invite(client)
    page = await open_page(client, token)
    peers.append(await publish(page))
    await wait_detail(client, session_id, has_event("video.live"), "the video live", timeout=15)
    return session_id, csrf


async def test_given_live_video_when_taking_stills_then_listed_newest_first_and_downloadable(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, csrf = await _live_session(client, peers)
    stills_url = f"/console/api/sessions/{session_id}/stills"
    assert (await (await client.get(stills_url)).json()) == {"stills": []}

    taken = []
    for _ in range(2):
        response = await client.post(stills_url, headers={"X-CSRF-Token": csrf})
        assert response.status == 201, await response.text()
        taken.append(await response.json())

    first, second = taken
    assert (first["number"], second["number"]) == (1, 2)
    assert first["taken_by"] == "regulateur"
    assert first["content_type"] == "image/jpeg"
    assert first["url"] == f"{stills_url}/{first['id']}"
    assert re.fullmatch(r"visio-\d{4}-\d\d-\d\d-1\.jpg", first["filename"])
    listed = (await (await client.get(stills_url)).json())["stills"]
    assert [still["id"] for still in listed] == [second["id"], first["id"]]

    download = await client.get(first["url"])
    assert download.status == 200
    assert download.headers["Content-Type"] == "image/jpeg"
    assert download.headers["Content-Disposition"] == f'attachment; filename="{first["filename"]}"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "no-store"
    jpeg = await download.read()
    assert len(jpeg) == first["size"]
    (picture,) = av.CodecContext.create("mjpeg", "r").decode(av.Packet(jpeg))
    assert (picture.width, picture.height) == (320, 240)
    assert read_stamp(picture) is not None, "a picture of the patient's stream"

    # The session's log says who took each, and when.
    body = await wait_detail(client, session_id, has_event("still.taken"), "still.taken")
    events = events_of(body, "still.taken")
    assert [event["details"]["still_id"] for event in events] == [first["id"], second["id"]]
    assert {event["actor"] for event in events} == {"regulateur"}

    # Without the CSRF token, nothing is taken.
    refused = await client.post(stills_url)
    assert refused.status == 403
    assert len((await (await client.get(stills_url)).json())["stills"]) == 2


async def test_given_no_video_when_taking_a_still_then_a_clear_refusal_and_nothing_kept(
    client: Client,
) -> None:
    session_id, _token, csrf = await invite(client)

    response = await client.post(
        f"/console/api/sessions/{session_id}/stills", headers={"X-CSRF-Token": csrf}
    )

    assert response.status == 409
    body = await response.json()
    assert body["error_id"] == "still_unavailable"
    assert body["message"] == (
        "Capture impossible\u00a0: la vidéo du patient ne passe pas en ce moment. "
        "Réessayez quand son image s'affiche."
    )
    assert (await (await client.get(f"/console/api/sessions/{session_id}/stills")).json()) == {
        "stills": []
    }
    unknown = await client.get(f"/console/api/sessions/{session_id}/stills/{'0' * 32}")
    assert unknown.status == 404
    assert (await unknown.json())["error_id"] == "still_not_found"


async def test_given_a_still_of_another_centre_then_answered_like_an_unknown_session(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, csrf = await _live_session(client, peers)
    response = await client.post(
        f"/console/api/sessions/{session_id}/stills", headers={"X-CSRF-Token": csrf}
    )
    still = await response.json()
    assert (await client.get(still["url"])).status == 200
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(text("INSERT INTO centres (id, code, name) VALUES (2, 'autre', 'Autre')"))
        await db.execute(
            update(VisioSession).where(VisioSession.id == session_id).values(centre_id=2)
        )

    for url in (still["url"], f"/console/api/sessions/{session_id}/stills"):
        response = await client.get(url)
        assert response.status == 404
        assert (await response.json())["error_id"] == "session_not_found"


async def test_given_an_ended_session_then_no_new_still_and_its_files_go_at_the_purge(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, csrf = await _live_session(client, peers)
    headers = {"X-CSRF-Token": csrf}
    still = await (
        await client.post(f"/console/api/sessions/{session_id}/stills", headers=headers)
    ).json()
    files = client.app[appkeys.SETTINGS].service.data_dir / "files" / "sessions" / session_id
    assert len(list(files.rglob("*.jpg"))) == 1, "kept under the data directory"
    await client.post(f"/console/api/sessions/{session_id}/end", json={}, headers=headers)

    refused = await client.post(f"/console/api/sessions/{session_id}/stills", headers=headers)
    assert refused.status == 409
    assert (await refused.json())["error_id"] == "session_closed"
    assert (await client.get(still["url"])).status == 200, "kept for the record"

    retention = client.app[appkeys.SETTINGS].sessions.retention_days
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(
            update(VisioSession)
            .where(VisioSession.id == session_id)
            .values(ended_at=utcnow() - timedelta(days=retention + 1))
        )
    assert await client.app[appkeys.SESSION_SERVICE].purge() == 1

    assert not files.exists()
    async with client.app[appkeys.DB]() as db:
        assert await db.scalar(select(func.count()).select_from(SessionFile)) == 0


async def test_given_stills_asked_in_a_flood_then_refused_past_the_limit_with_a_delay(
    client: Client,
) -> None:
    session_id, _token, _csrf = await invite(client)
    app = client.app
    storage = DirectoryStorage(app[appkeys.SETTINGS].service.data_dir / "files")
    stills = Stills(app[appkeys.SESSION_SERVICE], app[appkeys.ROOMS], storage, per_minute=2)

    for _ in range(2):
        with pytest.raises(StillUnavailable):
            await stills.take(session_id, Actor("regulateur"))
    with pytest.raises(TooManyStills) as refused:
        await stills.take(session_id, Actor("regulateur"))

    assert 1 <= refused.value.retry_after <= 60
    catalogue = app[appkeys.CATALOGUE]
    assert catalogue.get("fr", "error.too_many_stills", **refused.value.details) == (
        f"Trop de captures d'un coup\u00a0: réessayez dans {refused.value.retry_after}\u00a0s."
    )
