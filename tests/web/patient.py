"""The patient's side over HTTP, for tests: invite, open the link, talk on its socket, and an
aiortc peer sending a synthetic camera in the patient page's place."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
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


async def open_page(
    client: Client, token: str, *, role: str = "patient", sees_patient: bool = False
) -> ClientWebSocketResponse:
    """Fetch the link's page (which gives the browser its key cookie), then open its socket
    as the page's script does; read the welcome (for a link of ``role``)."""
    page = await client.get(f"/p/{token}")
    assert page.status == 200
    ws = await client.ws_connect(f"/p/{token}/ws", origin=public_origin(client))
    welcome = await receive(ws)
    assert welcome == {
        "type": "welcome",
        "v": 1,
        "ice_servers": [],
        "role": role,
        "sees_patient": sees_patient,
        "trickle": True,
    }
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


async def wait_bound(client: Client, token: str, timeout: float = 10.0) -> None:
    """Wait until the link is bound to a browser: another browser's fetch is refused."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as stranger:
        while True:
            async with stranger.get(client.make_url(f"/p/{token}")) as response:
                if response.status == 404:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the link was not bound within {timeout} s")
            await asyncio.sleep(0.05)


PREVIEWERS = [
    # (address, method, headers): what messaging apps, mail scanners and in-app views send.
    ("127.0.0.2", "GET", {"User-Agent": "WhatsApp/2.24.6.77 A"}),
    ("127.0.0.3", "HEAD", {"User-Agent": "facebookexternalhit/1.1"}),
    ("127.0.0.4", "GET", {"User-Agent": "TelegramBot (like TwitterBot)"}),
    ("127.0.0.5", "GET", {"User-Agent": "Mozilla/5.0 (compatible; SkypeUriPreview Preview/0.5)"}),
    ("127.0.0.6", "HEAD", {"User-Agent": "Microsoft Office/16.0 (Windows NT 10.0)"}),
    ("127.0.0.7", "GET", {"User-Agent": "Slackbot-LinkExpanding 1.0", "Range": "bytes=0-32767"}),
    ("127.0.0.8", "GET", {"User-Agent": "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile"}),
]


async def fetch_like_robots(url: str) -> list[tuple[str, int, str]]:
    """Every previewer fetches ``url`` twice, each from its own address (a connection bound to
    another loopback address, not a forged header), keeping no cookie and running no script;
    (address, status, body) of each fetch."""
    seen = []
    for address, method, headers in PREVIEWERS * 2:
        connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
        async with (
            aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            ) as robot,
            robot.request(method, url, headers=headers, allow_redirects=False) as response,
        ):
            seen.append((address, response.status, await response.text()))
    return seen
