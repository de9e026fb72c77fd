"""A patient's page and a regulator's console as the cluster's load balancer sees them, made of
aiortc peers that behave as the real pages do when an instance goes away.

- :class:`SyntheticPage` opens the link, sends a synthetic camera and, when its socket drops
  (any close but the link's refusal), connects again after 1 s, as ``signalling.js`` does, and
  sends a new offer after each welcome, as ``main.js`` does.
- :class:`SyntheticConsole` watches the session; it answers each video offer with a new peer,
  watches the camera again 0.5 s after a ``video.left`` (``video.js``'s first retry) and, when its
  own socket drops, connects again after 1 s and watches again (``socket.js``).

Every frame that reaches the console is time-stamped (the loop's clock), so that a test or a
benchmark reads when the picture came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.media.peers import StampedTrack, read_stamp
from visioregul.media.passthrough import close_peer_connection

from .harness import PASSWORD, USERNAME

__all__ = ["SyntheticConsole", "SyntheticPage", "invite", "signed_in"]

_LINK = re.compile(r"https?://\S+/p/([A-Za-z0-9_-]{43})")
PAGE_RECONNECT = 1.0
"""The patient page's first reconnection delay (``signalling.js``)."""
CONSOLE_RECONNECT = 1.0
"""The console socket's first reconnection delay (``socket.js``)."""
WATCH_RETRY = 0.5
"""The console's first retry of a camera that left (``video.js``)."""


async def signed_in(http: aiohttp.ClientSession, lb_url: str) -> str:
    """Sign the regulator in through the load balancer; the CSRF token."""
    response = await http.post(
        f"{lb_url}/console/login",
        data={"username": USERNAME, "password": PASSWORD, "position": "PJSIP/1001"},
        headers={"Origin": lb_url},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    me = await (await http.get(f"{lb_url}/console/api/me")).json()
    return str(me["csrf_token"])


async def invite(
    http: aiohttp.ClientSession, lb_url: str, csrf: str, destination: str = "06 12 34 56 78"
) -> tuple[str, str]:
    """A session with an SMS invitation, through the load balancer: its id and link token (the
    link of the outbox's one new message)."""
    known = set(await _outbox_links(http, lb_url))
    response = await http.post(
        f"{lb_url}/console/api/sessions",
        json={"destination": destination},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 201, await response.text()
    session_id = str((await response.json())["id"])
    for _ in range(200):
        new = [link for link in await _outbox_links(http, lb_url) if link not in known]
        if new:
            assert len(new) == 1, new
            return session_id, new[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no invitation in the outbox")


async def _outbox_links(http: aiohttp.ClientSession, lb_url: str) -> list[str]:
    body = await (await http.get(f"{lb_url}/console/api/outbox")).json()
    return [
        link.group(1) for message in body["messages"] if (link := _LINK.search(message["text"]))
    ]


class SyntheticPage:
    """The patient's page: its socket through the load balancer and its camera."""

    def __init__(self, lb_url: str, token: str) -> None:
        self.lb_url = lb_url
        self.token = token
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.pc: RTCPeerConnection | None = None
        self.welcomes = 0
        self.welcomed_at: list[float] = []
        """Loop time of each welcome (a socket connected)."""
        self.closes: list[int | None] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the link's page (its key cookie), then keep its socket and camera going."""
        page = await self.http.get(f"{self.lb_url}/p/{self.token}")
        assert page.status == 200
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Leave: the socket, the camera, the session."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.pc is not None:
            await close_peer_connection(self.pc)
        await self.http.close()

    async def _run(self) -> None:
        while True:
            try:
                ws = await self.http.ws_connect(
                    f"{self.lb_url}/p/{self.token}/ws", origin=self.lb_url, heartbeat=20
                )
            except aiohttp.ClientError:
                await asyncio.sleep(PAGE_RECONNECT)
                continue
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                body = json.loads(message.data)
                if body["type"] == "welcome":
                    self.welcomes += 1
                    self.welcomed_at.append(asyncio.get_running_loop().time())
                    await self._offer(ws)
                elif body["type"] == "answer" and self.pc is not None:
                    await self.pc.setRemoteDescription(
                        RTCSessionDescription(sdp=body["sdp"], type="answer")
                    )
            self.closes.append(ws.close_code)
            if ws.close_code in (4401, 4409):
                return
            await asyncio.sleep(PAGE_RECONNECT)

    async def _offer(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # A new socket: a new connection replaces the old publication (the page's own way).
        if self.pc is not None:
            await close_peer_connection(self.pc)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver(StampedTrack(), direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await ws.send_json({"type": "offer", "sdp": self.pc.localDescription.sdp})


class SyntheticConsole:
    """The regulator's console watching one session through the load balancer."""

    def __init__(self, http: aiohttp.ClientSession, lb_url: str, session_id: str) -> None:
        self.http = http
        self.lb_url = lb_url
        self.session_id = session_id
        self.frames: list[float] = []
        """Loop time of each frame received, every peer together."""
        self.fresh_frames: list[tuple[float, float]] = []
        """Each frame's loop time with the time its peer was made (its offer came)."""
        self.offered_at: list[float] = []
        """Loop time of each video offer received."""
        self.offers = 0
        self.socket_drops = 0
        self.left: list[str] = []
        """Reasons of the ``video.left`` received."""
        self._pcs: dict[str, RTCPeerConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def frames_since(self, moment: float) -> list[float]:
        """Times of the frames received after ``moment``."""
        return [at for at in self.frames if at > moment]

    def new_frames_since(self, moment: float) -> list[float]:
        """Times of the frames received by peers made after ``moment`` (frames still in
        flight on an older peer do not count)."""
        return [at for at, made in self.fresh_frames if made > moment]

    async def start(self) -> None:
        """Connect and watch, and keep doing so."""
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop watching and close every peer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._tasks):
            task.cancel()
        for pc in self._pcs.values():
            await close_peer_connection(pc)

    async def _run(self) -> None:
        while True:
            try:
                ws = await self.http.ws_connect(
                    f"{self.lb_url}/console/ws", origin=self.lb_url, heartbeat=20
                )
            except aiohttp.ClientError:
                await asyncio.sleep(CONSOLE_RECONNECT)
                continue
            await ws.send_json({"type": "watch", "session_id": self.session_id})
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                body: dict[str, Any] = json.loads(message.data)
                if body.get("session_id") != self.session_id:
                    continue
                if body["type"] == "video.offer":
                    self.offers += 1
                    self.offered_at.append(asyncio.get_running_loop().time())
                    await self._answer(ws, body)
                elif body["type"] == "video.left":
                    self.left.append(str(body.get("reason")))
                    if body.get("reason") != "session_closed":
                        self._later(self._watch_again(ws, str(body["publisher_id"])))
                elif body["type"] == "video.error":
                    self._later(self._watch_again(ws, None))
            self.socket_drops += 1
            await asyncio.sleep(CONSOLE_RECONNECT)

    async def _watch_again(
        self, ws: aiohttp.ClientWebSocketResponse, publisher_id: str | None
    ) -> None:
        await asyncio.sleep(WATCH_RETRY)
        if ws.closed:
            return
        message: dict[str, Any] = {"type": "watch", "session_id": self.session_id}
        if publisher_id is not None:
            message["publisher_id"] = publisher_id
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(message)

    async def _answer(self, ws: aiohttp.ClientWebSocketResponse, offer: dict[str, Any]) -> None:
        publisher = str(offer.get("publisher_id", "patient"))
        old = self._pcs.pop(publisher, None)
        if old is not None:
            self._later(close_peer_connection(old))
        pc = self._pcs[publisher] = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        made = asyncio.get_running_loop().time()
        pc.on("track", lambda track: self._later(self._count(track, made)))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await ws.send_json(
            {
                "type": "video.answer",
                "session_id": self.session_id,
                "viewer_id": offer["viewer_id"],
                "sdp": pc.localDescription.sdp,
            }
        )

    async def _count(self, track: Any, made: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            if read_stamp(frame) is not None:
                self.frames.append(loop.time())
                self.fresh_frames.append((loop.time(), made))

    def _later(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
