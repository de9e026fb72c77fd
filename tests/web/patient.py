"""The patient's side over HTTP, for tests: invite, open the link, talk on its socket, and an
aiortc peer sending a synthetic camera in the patient page's place."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aioice.ice
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.media.peers import StampedTrack

from .conftest import login, public_origin
from .helpers import LINK

Client = TestClient[web.Request, web.Application]


def gather_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only (aioice skips loopback when gathering; tests run offline)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


async def invite(client: Client) -> tuple[str, str, str]:
    """A session with an SMS invitation: its id, the link's token and the CSRF token."""
    csrf = await login(client)
    response = await client.post(
        "/console/api/sessions",
        json={"destination": "06 12 34 56 78"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 201, await response.text()
    session_id = str((await response.json())["id"])
    for _ in range(100):
        messages = (await (await client.get("/console/api/outbox")).json())["messages"]
        if messages:
            break
        await asyncio.sleep(0.05)
    link = LINK.search(messages[0]["text"])
    assert link is not None
    return session_id, link.group(1), csrf


async def open_page(client: Client, token: str) -> ClientWebSocketResponse:
    """Open the link (which sets the key cookie), then its socket; read the welcome."""
    page = await client.get(f"/p/{token}")
    assert page.status == 200
    ws = await client.ws_connect(f"/p/{token}/ws", origin=public_origin(client))
    welcome = await receive(ws)
    assert welcome == {"type": "welcome", "v": 1, "ice_servers": []}
    return ws


async def receive(ws: ClientWebSocketResponse, timeout: float = 10.0) -> dict[str, Any]:
    """The next JSON message."""
    message = await asyncio.wait_for(ws.receive(), timeout)
    assert message.type is WSMsgType.TEXT, message
    body: dict[str, Any] = json.loads(message.data)
    return body


async def publish(ws: ClientWebSocketResponse) -> RTCPeerConnection:
    """Send a synthetic camera through the page's socket; the caller closes the peer."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(StampedTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    await ws.send_json({"type": "offer", "sdp": pc.localDescription.sdp})
    answer = await receive(ws)
    assert answer["type"] == "answer", answer
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    return pc
