"""The patient's video over the console's WebSocket: watch, the service's offer, the console's
answer, frames once the patient publishes; refusals; the end of the session."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.media.peers import read_stamp, wait_until
from visioregul.integration import appkeys
from visioregul.media.passthrough import close_peer_connection

from .conftest import public_origin
from .helpers import event_types, wait_detail
from .patient import Client, gather_loopback, invite, open_page, publish

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only."""
    gather_loopback(monkeypatch)


async def next_of(ws: ClientWebSocketResponse, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of type ``kind`` (call updates and pongs are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive()
            assert message.type is WSMsgType.TEXT, message
            body: dict[str, Any] = json.loads(message.data)
            if body["type"] == kind:
                return body


class Viewer:
    """A console's video: answers the service's offer, counts readable frames."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frames = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.pc.on("track", self._on_track)

    async def answer(self, ws: ClientWebSocketResponse, offer: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await ws.send_json(
            {
                "type": "video.answer",
                "session_id": offer["session_id"],
                "viewer_id": offer["viewer_id"],
                "sdp": self.pc.localDescription.sdp,
            }
        )

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


async def test_given_a_console_watching_before_the_patient_then_frames_come_once_published(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, token, csrf = await invite(client)
    viewer = Viewer()
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        # Refusals first: malformed, unknown session, an answer to nothing.
        await console.send_json({"type": "watch"})
        assert (await next_of(console, "error"))["error_id"] == "invalid_message"
        await console.send_json({"type": "watch", "session_id": "no-such-session"})
        error = await next_of(console, "video.error")
        assert error == {
            "type": "video.error",
            "session_id": "no-such-session",
            "error_id": "session_not_found",
            "message": "Session vidéo introuvable.",
        }
        await console.send_json(
            {"type": "video.answer", "session_id": session_id, "viewer_id": "x", "sdp": "v=0"}
        )
        assert (await next_of(console, "video.error"))["error_id"] == "unknown_subscriber"

        # Watching before the patient publishes: the subscription waits for frames.
        await console.send_json({"type": "watch", "session_id": session_id})
        offer = await next_of(console, "video.offer")
        assert offer["session_id"] == session_id
        assert offer["viewer_id"].startswith("regulateur:")
        assert offer["ice_servers"] == []
        assert "m=audio" not in offer["sdp"]
        await viewer.answer(console, offer)

        # The patient opens the link and publishes.
        page = await open_page(client, token)
        peers.append(await publish(page))
        await wait_until(lambda: viewer.frames >= 10, what="10 frames in the console")
        body = await wait_detail(
            client, session_id, lambda b: "video.viewer_joined" in event_types(b), "viewer"
        )
        assert body["state"] == "video_live"

        # The regulator ends the session: the console hears that its video is gone.
        response = await client.post(
            f"/console/api/sessions/{session_id}/end", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status == 200
        left = await next_of(console, "video.left")
        assert left["reason"] == "session_closed"
        assert left["viewer_id"] == offer["viewer_id"]
        await console.send_json({"type": "watch", "session_id": session_id})
        assert (await next_of(console, "video.error"))["error_id"] == "room_closed"
        await page.close()
    await viewer.close()
    assert client.app[appkeys.ROOMS].find(session_id) is None


async def test_given_a_console_closing_its_socket_then_its_subscription_ends(
    client: Client,
) -> None:
    session_id, _, _ = await invite(client)
    viewer = Viewer()
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        await console.send_json({"type": "watch", "session_id": session_id})
        offer = await next_of(console, "video.offer")
        await viewer.answer(console, offer)
        room = client.app[appkeys.ROOMS].find(session_id)
        assert room is not None
        assert room.subscriber_ids == [offer["viewer_id"]]
    await wait_until(lambda: not room.subscriber_ids, what="the subscription to end")
    await viewer.close()


async def test_given_a_session_id_with_nul_then_invalid_message_and_the_socket_stays_open(
    client: Client,
) -> None:
    await invite(client)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        assert (await next_of(console, "hello"))["type"] == "hello"
        # PostgreSQL refuses NUL in the lookup: the socket dropped there.
        await console.send_json({"type": "watch", "session_id": "a\x00b"})
        error = await next_of(console, "error")
        assert error["error_id"] == "invalid_message"
        await console.send_json({"type": "ping"})
        await next_of(console, "pong")
