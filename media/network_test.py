"""Throw-away peers for the technical test page: a phone checks that its video reaches the service.

The page publishes its camera to one of these peers exactly as it would to a room (video only,
sendonly), and measures the connection from its side (``getStats()``: round trip, bitrate reached,
loss, relay or not). The peer only receives and drops what it gets, and is closed after
``max_duration`` seconds whatever happens: nothing is kept, nothing is relayed. How many run at
once is bounded, so that the page cannot be turned into a way to load the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .errors import MediaError
from .passthrough import close_peer_connection
from .sdp import parse_media, single_video

__all__ = ["NetworkTestPeers"]

log = logging.getLogger(__name__)


class NetworkTestPeers:
    """The test page's server-side peers, for one service instance."""

    def __init__(
        self,
        configuration: Callable[[], RTCConfiguration],
        *,
        max_peers: int = 4,
        max_duration: float = 15.0,
        negotiation_timeout: float = 10.0,
    ) -> None:
        """``configuration`` gives each new peer its ICE servers; ``max_peers`` at once, each
        closed after ``max_duration`` seconds."""
        self._configuration = configuration
        self.max_peers = max_peers
        self.max_duration = max_duration
        self.negotiation_timeout = negotiation_timeout
        self._peers: dict[RTCPeerConnection, asyncio.Task[None]] = {}
        self._drains: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def active(self) -> int:
        """How many peers are open."""
        return len(self._peers)

    async def answer(self, offer_sdp: str) -> str:
        """Answer a test page's offer (one video, sendonly); the peer closes by itself.

        Raises :class:`MediaError`: the offer's own refusals (``audio_refused``, ``no_video``...,
        as for a room), ``test_busy`` when ``max_peers`` run already, ``negotiation_timeout``.
        """
        single_video(parse_media(offer_sdp), directions=("sendonly",))
        if self._closed or len(self._peers) >= self.max_peers:
            raise MediaError("test_busy", "too many network tests at once")
        pc = RTCPeerConnection(self._configuration())
        self._peers[pc] = asyncio.create_task(self._expire(pc), name="network-test-peer")
        pc.addTransceiver("video", direction="recvonly")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            # A received track that nobody reads grows memory without bound: drain it.
            task = asyncio.create_task(_drain(track), name="network-test-drain")
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._close(pc)

        try:
            async with asyncio.timeout(self.negotiation_timeout):
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
        except TimeoutError:
            await self._close(pc)
            raise MediaError("negotiation_timeout", "the test's answer took too long") from None
        except Exception:
            await self._close(pc)
            raise
        log.info("network test peer opened (%d open)", len(self._peers))
        return str(pc.localDescription.sdp)

    async def close(self) -> None:
        """Close every peer (idempotent): the service is stopping."""
        self._closed = True
        await asyncio.gather(*(self._close(pc) for pc in list(self._peers)))
        for task in list(self._drains):
            task.cancel()
        await asyncio.gather(*self._drains, return_exceptions=True)

    async def _expire(self, pc: RTCPeerConnection) -> None:
        await asyncio.sleep(self.max_duration)
        await self._close(pc, expired=True)

    async def _close(self, pc: RTCPeerConnection, *, expired: bool = False) -> None:
        task = self._peers.pop(pc, None)
        if task is None:
            return
        if not expired:
            task.cancel()
        with contextlib.suppress(Exception):  # closing a half-negotiated peer may complain
            await close_peer_connection(pc)
        log.info("network test peer closed (%d open)", len(self._peers))


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
