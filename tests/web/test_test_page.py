"""The technical test page's endpoints: a real aiortc phone gets its throw-away peer, which closes
by itself; hostile requests (audio, another origin, not JSON, too big, a flood, a forged link,
absurd results) are refused; a link's result joins its session's log."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.media.peers import StampedTrack, wait_until
from visioregul.integration.web import appkeys

from .conftest import public_origin
from .helpers import events_of, has_event, wait_detail
from .patient import gather_loopback, invite

Client = TestClient[web.Request, web.Application]

RESULT: dict[str, Any] = {
    "verdict": "ready",
    "camera": "ok",
    "width": 1280,
    "height": 720,
    "connected": True,
    "connect_ms": 250,
    "rtt_ms": 3,
    "bitrate_kbps": 600,
    "loss_percent": 0,
    "relay": False,
    "duration_ms": 4200,
}


async def _offer(client: Client, payload: Any, **headers: str) -> Any:
    headers.setdefault("Origin", public_origin(client))
    return await client.post("/test/offer", json=payload, headers=headers)


async def test_given_a_video_offer_then_an_answer_and_the_peer_closes_by_itself(
    client: Client, peers: list[RTCPeerConnection], monkeypatch: pytest.MonkeyPatch
) -> None:
    gather_loopback(monkeypatch)
    test_peers = client.app[appkeys.TEST_PEERS]
    test_peers.max_duration = 1.0
    page = await client.get("/test")
    assert page.status == 200
    assert page.headers["Permissions-Policy"] == "camera=(self), microphone=(), geolocation=()"
    assert 'data-ice="[]"' in await page.text()
    english = await client.get("/test", headers={"Accept-Language": "en"})
    assert "Test your phone for the video" in await english.text()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers.append(pc)
    pc.addTransceiver(StampedTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    response = await _offer(client, {"sdp": pc.localDescription.sdp})
    assert response.status == 200, await response.text()
    await pc.setRemoteDescription(
        RTCSessionDescription(sdp=(await response.json())["sdp"], type="answer")
    )
    await wait_until(lambda: pc.connectionState == "connected", what="the test connection")
    assert test_peers.active == 1
    await wait_until(lambda: test_peers.active == 0, what="the test peer closing by itself")


async def test_given_an_offer_with_audio_then_refused(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers.append(pc)
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver(StampedTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    response = await _offer(client, {"sdp": pc.localDescription.sdp}, **{"Accept-Language": "fr"})
    assert response.status == 400
    body = await response.json()
    assert body["error_id"] == "audio_refused"
    assert body["message"] == "Le son n'est jamais transmis\u00a0: seule la vidéo est acceptée."
    assert client.app[appkeys.TEST_PEERS].active == 0


async def test_given_hostile_requests_then_each_is_refused(client: Client) -> None:
    other = await _offer(client, {"sdp": "v=0"}, Origin="https://attacker.example")
    assert other.status == 403
    form = await client.post(
        "/test/offer", data="sdp=v%3D0", headers={"Origin": public_origin(client)}
    )
    assert form.status == 415
    huge = await _offer(client, {"sdp": "v=0\r\n" + "a=x\r\n" * 20_000})
    assert huge.status == 413
    extra = await _offer(client, {"sdp": "v=0", "audio": True})
    assert (extra.status, (await extra.json())["error_id"]) == (400, "testpage_offer")
    bad = await _offer(client, {"sdp": "not an sdp"})
    assert (bad.status, (await bad.json())["error_id"]) == (400, "invalid_sdp")
    # The flood: the address's budget is spent (the requests above counted too).
    statuses = [(await _offer(client, {"sdp": "v=0"})).status for _ in range(12)]
    assert statuses[-1] == 429
    flood = await _offer(client, {"sdp": "v=0"})
    assert flood.status == 429
    assert int(flood.headers["Retry-After"]) >= 1
    assert (await flood.json())["error_id"] == "testpage_busy"


async def test_given_a_link_then_its_result_joins_the_session_and_forgeries_are_refused(
    client: Client,
) -> None:
    session_id, token, _ = await invite(client)
    origin = {"Origin": public_origin(client)}
    forged = ("A" if token[0] != "A" else "B") + token[1:]
    assert (await client.get(f"/p/{forged}/test")).status == 404
    refused = await client.post(f"/p/{forged}/test/result", json=RESULT, headers=origin)
    assert refused.status == 404
    page = await client.get(f"/p/{token}/test")
    assert page.status == 200
    absurd = await client.post(
        f"/p/{token}/test/result", json=RESULT | {"rtt_ms": -5, "verdict": "great"}, headers=origin
    )
    assert (absurd.status, (await absurd.json())["error_id"]) == (400, "invalid_test_result")
    sent = await client.post(f"/p/{token}/test/result", json=RESULT, headers=origin)
    assert sent.status == 200, await sent.text()
    body = await wait_detail(client, session_id, has_event("test.result"), "the test's result")
    [event] = events_of(body, "test.result")
    assert event["actor"] == "patient"
    assert event["details"]["verdict"] == "ready"
    assert event["details"]["bitrate_kbps"] == 600
