"""The regulator's screen shared with the patient: the console publishes a display track into the
session's screen room, the patient's page watches it; one share at a time; every start and stop in
the session's log; the share ends with its console and with the session. Real aiortc peers stand
in for the browsers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.media.peers import StampedTrack, read_stamp, wait_until
from visioregul.integration import appkeys
from visioregul.media.passthrough import close_peer_connection

from .conftest import public_origin
from .helpers import detail, event_types, wait_detail
from .patient import Client, gather_loopback, invite, open_page
from .test_console_video import next_of

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only."""
    gather_loopback(monkeypatch)


async def share(
    console: ClientWebSocketResponse, session_id: str, *, audio: bool = False
) -> tuple[RTCPeerConnection, dict[str, Any]]:
    """The console shares a synthetic screen: prepare, offer, apply the answer (or the error)."""
    await console.send_json({"type": "screen.prepare", "session_id": session_id})
    ready = await next_of(console, "screen.ready")
    assert ready["ice_servers"] == []
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(StampedTrack(), direction="sendonly")
    if audio:
        pc.addTransceiver("audio", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    await console.send_json(
        {"type": "screen.start", "session_id": session_id, "sdp": pc.localDescription.sdp}
    )
    reply = await next_of_any(console, {"screen.answer", "screen.error"})
    if reply["type"] == "screen.answer":
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    return pc, reply


async def next_of_any(ws: ClientWebSocketResponse, kinds: set[str]) -> dict[str, Any]:
    """The next message whose type is one of ``kinds``."""
    async with asyncio.timeout(10):
        while True:
            body: dict[str, Any] = await ws.receive_json()
            if body["type"] in kinds:
                return body


class ScreenViewer:
    """The patient page's side: answers the service's offer, counts the screen's frames."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frames = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.pc.on("track", self._on_track)

    async def watch(self, page: ClientWebSocketResponse) -> None:
        await page.send_json({"type": "screen.watch"})
        offer = await next_of(page, "screen.offer")
        assert "m=audio" not in offer["sdp"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await page.send_json({"type": "screen.answer", "sdp": self.pc.localDescription.sdp})

    def _on_track(self, track: MediaStreamTrack) -> None:
        task = asyncio.create_task(self._count(track))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _count(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            if read_stamp(frame) is not None:  # type: ignore[arg-type]
                self.frames += 1

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await close_peer_connection(self.pc)


async def test_given_a_regulator_sharing_then_the_patient_sees_the_screen_until_it_stops(
    client: Client,
) -> None:
    session_id, token, _csrf = await invite(client)
    origin = public_origin(client)
    viewer = ScreenViewer()
    page = await open_page(client, token)
    async with (
        client.ws_connect("/console/ws", origin=origin) as console,
        client.ws_connect("/console/ws", origin=origin) as other,
    ):
        # Nothing shared yet: a page asking to watch is told so.
        await page.send_json({"type": "screen.watch"})
        refused = await next_of(page, "error")
        assert refused["error_id"] == "screen_share_inactive"
        assert refused["message"] == "Le partage d'écran est terminé."

        pc, answer = await share(console, session_id)
        assert answer["type"] == "screen.answer"
        assert (await next_of(page, "screen.started")) == {"type": "screen.started"}
        await viewer.watch(page)
        await wait_until(lambda: viewer.frames >= 10, what="10 frames of the screen on the page")

        # Another console cannot share meanwhile: it is told why, and the share goes on.
        await other.send_json({"type": "screen.prepare", "session_id": session_id})
        busy = await next_of(other, "screen.error")
        assert busy["error_id"] == "screen_share_busy"
        assert busy["message"] == (
            "Un autre régulateur partage déjà son écran dans cette visio\u00a0: "
            "un seul partage à la fois."
        )

        # The regulator stops: the page is told, the console too, the log has both.
        await console.send_json({"type": "screen.stop", "session_id": session_id})
        assert (await next_of(console, "screen.stopped"))["reason"] == "stopped"
        assert (await next_of(page, "screen.stopped")) == {"type": "screen.stopped"}
        body = await wait_detail(
            client, session_id, lambda b: "screen.stopped" in event_types(b), "screen.stopped"
        )
        events = [e for e in body["timeline"] if e["type"].startswith("screen.")]
        assert [(e["type"], e["actor"], e["details"]) for e in events] == [
            ("screen.started", "regulateur", {}),
            ("screen.stopped", "regulateur", {"reason": "stopped"}),
        ]
        assert not client.app[appkeys.SCREEN_SHARES].active(session_id)
        await close_peer_connection(pc)

        # Now the other console may share; the page hears it start again.
        other_pc, answer = await share(other, session_id)
        assert answer["type"] == "screen.answer"
        await next_of(page, "screen.started")
        await close_peer_connection(other_pc)
    # Its console closed: the share ends, logged as such, and the page is told.
    assert (await next_of(page, "screen.stopped")) == {"type": "screen.stopped"}
    body = await wait_detail(
        client,
        session_id,
        lambda b: (
            [e["details"] for e in b["timeline"] if e["type"] == "screen.stopped"][-1:]
            == [{"reason": "console_left"}]
        ),
        "the share ended with its console",
    )
    await page.close()
    await viewer.close()


async def test_given_a_share_when_the_session_ends_then_the_share_ends_with_it(
    client: Client,
) -> None:
    session_id, token, csrf = await invite(client)
    page = await open_page(client, token)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        pc, _ = await share(console, session_id)
        await next_of(page, "screen.started")
        response = await client.post(
            f"/console/api/sessions/{session_id}/end", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status == 200
        assert (await next_of(console, "screen.stopped"))["reason"] == "session_ended"
        await next_of(page, "ended")
        assert not client.app[appkeys.SCREEN_SHARES].active(session_id)
        # A closed session cannot be shared with.
        await console.send_json({"type": "screen.prepare", "session_id": session_id})
        assert (await next_of(console, "screen.error"))["error_id"] == "session_closed"
        await close_peer_connection(pc)
    body = await detail(client, session_id)
    assert "screen.started" in event_types(body)
    await page.close()


async def test_given_bad_input_then_each_is_refused_and_nothing_is_shared(
    client: Client,
) -> None:
    session_id, token, _csrf = await invite(client)
    page = await open_page(client, token)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        # A screen with sound: refused before any peer is made (the regulator is never heard).
        pc, refusal = await share(console, session_id, audio=True)
        assert refusal["type"] == "screen.error"
        assert refusal["error_id"] == "audio_refused"
        await close_peer_connection(pc)
        # Not SDP, a missing session, an unknown session.
        await console.send_json({"type": "screen.start", "session_id": session_id, "sdp": "x"})
        assert (await next_of(console, "screen.error"))["error_id"] == "invalid_sdp"
        await console.send_json({"type": "screen.start", "sdp": "v=0"})
        assert (await next_of(console, "screen.error"))["error_id"] == "invalid_message"
        await console.send_json({"type": "screen.prepare", "session_id": "f" * 32})
        assert (await next_of(console, "screen.error"))["error_id"] == "session_not_found"
        # Stopping what is not shared changes nothing.
        await console.send_json({"type": "screen.stop", "session_id": session_id})
        # The patient's page cannot share: the message is not one it may send.
        await page.send_json({"type": "screen.start", "session_id": session_id, "sdp": "v=0"})
        assert (await next_of(page, "error"))["error_id"] == "invalid_message"
        await page.send_json({"type": "screen.answer", "sdp": "v=0"})
        assert (await next_of(page, "error"))["error_id"] == "screen_share_inactive"
    assert not client.app[appkeys.SCREEN_SHARES].active(session_id)
    assert "screen.started" not in event_types(await detail(client, session_id))
    await page.close()


async def test_given_a_session_then_its_video_window_is_a_console_page_in_the_readers_language(
    client: Client,
) -> None:
    session_id, token, _csrf = await invite(client)
    response = await client.get(f"/console/sessions/{session_id}/video")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = await response.text()
    assert '<html lang="fr">' in page
    assert ">En attente de la vidéo du patient…</p>" in page
    english = await client.get(
        f"/console/sessions/{session_id}/video", headers={"Accept-Language": "en"}
    )
    assert ">Waiting for the patient's video…</p>" in await english.text()
    # The patient's page carries the shared screen's label, hidden until a screen comes.
    patient_page = await (await client.get(f"/p/{token}")).text()
    assert '<section class="screen-share" id="screen-share"' in patient_page
    assert "Écran partagé par le régulateur" in patient_page


async def test_given_a_share_when_its_connection_is_lost_then_it_ends_and_says_so(
    client: Client,
) -> None:
    session_id, token, _csrf = await invite(client)
    page = await open_page(client, token)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        pc, _ = await share(console, session_id)
        await next_of(page, "screen.started")
        await wait_until(lambda: pc.connectionState == "connected", what="the share connected")
        # The console's browser drops the connection without a word on the socket.
        await close_peer_connection(pc)
        assert (await next_of(console, "screen.stopped"))["reason"] == "connection_lost"
        assert (await next_of(page, "screen.stopped")) == {"type": "screen.stopped"}
        body = await wait_detail(
            client, session_id, lambda b: "screen.stopped" in event_types(b), "screen.stopped"
        )
        assert [e["details"] for e in body["timeline"] if e["type"] == "screen.stopped"] == [
            {"reason": "connection_lost"}
        ]
    await page.close()
