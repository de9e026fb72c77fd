"""The patient page's WebSocket, with a Python peer in the patient's place: the link's cookie,
malformed messages, camera facts in the timeline, the video's offer/answer and the end."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from sqlalchemy import update

from tests.media.peers import StampedTrack, wait_until
from visioregul.integration import appkeys
from visioregul.integration.sessions.models import Invitation
from visioregul.integration.store.models import utcnow

from .conftest import public_origin
from .helpers import event_types, events_of, wait_detail
from .patient import gather_loopback, invite, open_page, publish, receive

Client = TestClient[web.Request, web.Application]

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only (aioice skips loopback when gathering; tests run offline)."""
    gather_loopback(monkeypatch)


async def test_given_the_patient_page_then_only_it_may_use_the_camera(client: Client) -> None:
    _, token, _ = await invite(client)
    page = await client.get(f"/p/{token}")
    assert page.headers["Permissions-Policy"] == "camera=(self), microphone=(), geolocation=(self)"
    console = await client.get("/console")
    assert console.headers["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"
    script = await client.get("/patient/static/js/camera.js")
    assert script.status == 200
    assert "audio: false" in await script.text()


async def test_given_the_link_page_then_its_inline_scripts_alone_run_by_this_responses_nonce(
    client: Client,
) -> None:
    _, token, _ = await invite(client)
    nonces = []
    for _ in range(2):
        page = await client.get(f"/p/{token}")
        policy = page.headers["Content-Security-Policy"]
        found = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{24})';", policy)
        assert found is not None, policy
        nonce = found.group(1)
        text = await page.text()
        scripts = re.findall(r"<script([^>]*)>", text)
        # The socket's opener and the page's bundled script, each with this response's nonce.
        assert len(scripts) == 2 and all(f'nonce="{nonce}"' in attrs for attrs in scripts)
        assert "getUserMedia" in text
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    console = await client.get("/console")
    assert "nonce-" not in console.headers["Content-Security-Policy"]


async def assert_refused(ws: ClientWebSocketResponse) -> None:
    """Closed with 4401 and nothing said."""
    message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type is WSMsgType.CLOSE
    assert message.data == 4401
    assert not message.extra


async def test_given_no_valid_link_or_no_cookie_then_the_socket_is_closed_with_4401(
    client: Client,
) -> None:
    _, token, _ = await invite(client)
    forged = ("A" if token[0] != "A" else "B") + token[1:]
    await assert_refused(await client.ws_connect(f"/p/{forged}/ws", origin=public_origin(client)))
    # The link was never opened: no browser holds its key.
    await assert_refused(await client.ws_connect(f"/p/{token}/ws", origin=public_origin(client)))
    assert (await client.get(f"/p/{token}")).status == 200
    # Another browser (no cookie) is refused; this one is welcome.
    client.session.cookie_jar.clear()
    await assert_refused(await client.ws_connect(f"/p/{token}/ws", origin=public_origin(client)))
    # Expired: refused even from the browser that opened it.
    client.session.cookie_jar.clear()
    _, token2, _ = await invite(client)
    ws = await open_page(client, token2)
    await ws.close()
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    await assert_refused(await client.ws_connect(f"/p/{token2}/ws", origin=public_origin(client)))


async def test_given_malformed_messages_then_errors_and_the_socket_stays_open(
    client: Client,
) -> None:
    _, token, _ = await invite(client)
    ws = await open_page(client, token)
    for text in (
        "not json",
        "[]",
        '{"type": "unknown"}',
        '{"type": "camera", "state": "maybe"}',
        '{"type": "offer"}',
        '{"type": "camera", "state": "denied", "detail": "' + "x" * 500 + '"}',
        '{"type": "ping", "v": 2}',
        # NUL: the timeline's JSON cannot hold it on PostgreSQL (the socket dropped there).
        '{"type": "camera", "state": "denied", "detail": "Not\\u0000Allowed"}',
        '{"type": "candidate", "candidate": null}',
        '{"type": "candidate", "ufrag": "a", "candidate": "' + "x" * 600 + '"}',
    ):
        await ws.send_str(text)
        assert (await receive(ws))["error_id"] == "invalid_message", text
    await ws.send_json({"type": "ping", "v": 1})
    assert (await receive(ws))["type"] == "pong"
    await ws.send_json({"type": "offer", "sdp": "v=0 garbage"})
    # The same id and message as the HTTP API would give, in the page's language.
    assert await receive(ws) == {
        "type": "error",
        "error_id": "invalid_sdp",
        "message": "La description vidéo envoyée est illisible.",
    }
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
    # No video yet: a candidate has no connection to join (the page may be a step behind).
    await ws.send_json({"type": "candidate", "ufrag": "x", "candidate": None, "mid": None})
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
    await ws.close()


async def test_given_an_offer_whose_candidates_follow_it_then_the_video_goes_live(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, token, _ = await invite(client)
    ws = await open_page(client, token)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers.append(pc)
    pc.addTransceiver(StampedTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    full = pc.localDescription.sdp
    lines = full.split("\r\n")
    candidates = [line[2:] for line in lines if line.startswith("a=candidate:")]
    ufrag = next(line.split(":", 1)[1] for line in lines if line.startswith("a=ice-ufrag:"))
    offer = "\r\n".join(
        line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )
    await ws.send_json({"type": "offer", "sdp": offer})
    answer = await receive(ws)
    assert answer["type"] == "answer"
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    # A line that is no candidate is refused in the page's language; the others are taken.
    await ws.send_json(
        {"type": "candidate", "ufrag": ufrag, "candidate": "candidate:x", "mid": "0"}
    )
    assert await receive(ws) == {
        "type": "error",
        "error_id": "invalid_candidate",
        "message": "Le chemin réseau envoyé pour la vidéo est illisible.",
    }
    for candidate in candidates:
        await ws.send_json(
            {"type": "candidate", "ufrag": ufrag, "candidate": candidate, "mid": "0"}
        )
    await ws.send_json({"type": "candidate", "ufrag": ufrag, "candidate": None, "mid": None})
    await wait_detail(client, session_id, lambda b: b["state"] == "video_live", "video live", 10)
    assert await receive(ws) == {"type": "video_live"}
    await ws.close()


async def test_given_camera_facts_then_the_timeline_shows_them_and_the_state_moves(
    client: Client,
) -> None:
    session_id, token, _ = await invite(client)
    ws = await open_page(client, token)
    await ws.send_json({"type": "camera", "state": "denied", "detail": "NotAllowedError"})
    await ws.send_json({"type": "camera", "state": "unavailable", "detail": "NotFoundError"})
    await ws.send_json({"type": "camera", "state": "allowed", "detail": ""})
    body = await wait_detail(
        client, session_id, lambda b: b["state"] == "camera_allowed", "camera allowed"
    )
    assert event_types(body)[-3:] == ["camera.denied", "camera.unavailable", "camera.allowed"]
    assert events_of(body, "camera.denied")[0]["details"] == {"detail": "NotAllowedError"}
    assert events_of(body, "camera.unavailable")[0]["details"] == {"detail": "NotFoundError"}
    assert events_of(body, "camera.allowed")[0]["actor"] == "patient"
    await ws.close()


async def test_given_an_offer_with_audio_then_a_clear_refusal(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    _, token, _ = await invite(client)
    ws = await open_page(client, token)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers.append(pc)
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver(StampedTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    await ws.send_json({"type": "offer", "sdp": pc.localDescription.sdp})
    error = await receive(ws)
    assert error["type"] == "error"
    assert error["error_id"] == "audio_refused"
    await ws.close()


async def test_given_a_video_offer_then_live_then_patient_leaves_then_regulator_ends(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, token, csrf = await invite(client)
    ws = await open_page(client, token)
    await ws.send_json({"type": "camera", "state": "allowed", "detail": ""})
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers.append(pc)
    pc.addTransceiver(StampedTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    await ws.send_json({"type": "offer", "sdp": pc.localDescription.sdp})
    answer = await receive(ws)
    assert answer["type"] == "answer"
    assert "m=audio" not in answer["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    body = await wait_detail(
        client, session_id, lambda b: b["state"] == "video_live", "video live", timeout=10
    )
    assert events_of(body, "video.live")[0]["details"]["codec"] == "VP8"
    assert await receive(ws) == {"type": "video_live"}, "the page hears its first frame arrived"

    # The patient stops: the session goes on, the video is lost.
    await ws.send_json({"type": "end"})
    body = await wait_detail(
        client, session_id, lambda b: b["state"] == "video_lost", "video lost", timeout=10
    )
    types = event_types(body)
    assert types.index("patient.left") < types.index("video.lost")
    assert events_of(body, "video.lost")[0]["details"]["reason"] == "unpublished"

    # The regulator ends the session: the page hears it, its socket closes.
    response = await client.post(
        f"/console/api/sessions/{session_id}/end", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 200
    assert await receive(ws) == {"type": "ended"}
    closing = await asyncio.wait_for(ws.receive(), 5)
    assert closing.type is WSMsgType.CLOSE
    assert client.app[appkeys.ROOMS].find(session_id) is None
    # The link no longer opens a socket.
    await assert_refused(await client.ws_connect(f"/p/{token}/ws", origin=public_origin(client)))


async def test_given_the_socket_drops_then_a_new_offer_replaces_the_publisher_and_video_goes_on(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, token, _ = await invite(client)
    ws = await open_page(client, token)
    peers.append(await publish(ws))
    await wait_detail(client, session_id, lambda b: b["state"] == "video_live", "live", 10)
    await ws.close()
    # The page reconnects (same browser: the key cookie) and offers again.
    again = await client.ws_connect(f"/p/{token}/ws", origin=public_origin(client))
    assert (await receive(again))["type"] == "welcome"
    peers.append(await publish(again))
    room = client.app[appkeys.ROOMS].find(session_id)
    assert room is not None
    frames = room.stats().frames_relayed
    await wait_until(lambda: room.stats().frames_relayed > frames + 10, what="frames after")
    body = await wait_detail(client, session_id, lambda b: True, "detail")
    assert body["state"] == "video_live"
    assert "video.lost" not in event_types(body)
    await again.close()
