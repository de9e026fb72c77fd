"""Python peers standing in for the patient page and the regulator's console.

The publisher's synthetic camera draws each frame's number and send time into its pixels (64 blocks
of 16x16, with a check word), so a subscriber reads them back after decoding: a frame that arrives
damaged, out of order or late shows it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import (
    MediaStreamError,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.rtp import RtpPacket, is_rtcp
from av import VideoFrame

from visioregul.media import Room
from visioregul.media.codecs import VideoCodec, codec_preferences
from visioregul.media.passthrough import close_peer_connection

WIDTH, HEIGHT = 320, 240
_BLOCK = 16
_BITS = 64
_PER_ROW = WIDTH // _BLOCK
_BACKGROUNDS = 30


def now_ms() -> int:
    """Wall-clock milliseconds, as stamped into frames (low 32 bits)."""
    return int(time.time() * 1000) & 0xFFFFFFFF


def _check(counter: int, ms: int) -> int:
    return (counter ^ ms ^ (ms >> 16) ^ 0xA5A5) & 0xFFFF


def _background(index: int) -> bytes:
    # A bright bar moving below the stamp, so that delta frames carry changes.
    rows = bytearray()
    left = (index * 9) % (WIDTH - 48)
    for y in range(HEIGHT):
        row = bytearray(((x + y + index * 4) % 64 + 64) for x in range(WIDTH))
        if 4 * _BLOCK + 16 <= y < 4 * _BLOCK + 96:
            row[left : left + 48] = b"\xe0" * 48
        rows += row
    return bytes(rows)


_BACKGROUND_CACHE: list[bytes] = []


def stamped_frame(counter: int, ms: int) -> VideoFrame:
    """A 320x240 frame carrying ``counter`` (16 bits) and ``ms`` (32 bits) in its pixels."""
    if not _BACKGROUND_CACHE:
        _BACKGROUND_CACHE.extend(_background(i) for i in range(_BACKGROUNDS))
    counter &= 0xFFFF
    ms &= 0xFFFFFFFF
    value = counter | ms << 16 | _check(counter, ms) << 48
    luma = bytearray(_BACKGROUND_CACHE[counter % _BACKGROUNDS])
    for bit in range(_BITS):
        row, column = divmod(bit, _PER_ROW)
        block = (b"\xeb" if value >> bit & 1 else b"\x10") * _BLOCK
        for y in range(row * _BLOCK, (row + 1) * _BLOCK):
            start = y * WIDTH + column * _BLOCK
            luma[start : start + _BLOCK] = block
    frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
    assert frame.planes[0].line_size == WIDTH
    frame.planes[0].update(bytes(luma))
    for plane in frame.planes[1:]:
        plane.update(b"\x80" * plane.buffer_size)
    return frame


def read_stamp(frame: VideoFrame) -> tuple[int, int] | None:
    """``(counter, ms)`` drawn by :func:`stamped_frame`, or None if the pixels do not check."""
    if frame.width < WIDTH or frame.height < 4 * _BLOCK:
        return None
    plane = frame.planes[0]
    stride = plane.line_size
    luma = bytes(plane)
    value = 0
    for bit in range(_BITS):
        row, column = divmod(bit, _PER_ROW)
        total = 0
        for y in range(row * _BLOCK + 6, row * _BLOCK + 10):
            start = y * stride + column * _BLOCK + 6
            total += sum(luma[start : start + 4])
        if total / 16 > 125:
            value |= 1 << bit
    counter, ms, check = value & 0xFFFF, value >> 16 & 0xFFFFFFFF, value >> 48
    return (counter, ms) if check == _check(counter, ms) else None


class StampedTrack(VideoStreamTrack):
    """A 30 fps synthetic camera whose frames carry their number and send time."""

    def __init__(self, first_counter: int = 0) -> None:
        super().__init__()
        self.counter = first_counter

    async def recv(self) -> VideoFrame:
        """The next stamped frame, paced at 30 fps."""
        pts, time_base = await self.next_timestamp()
        frame = stamped_frame(self.counter, now_ms())
        frame.pts = pts
        frame.time_base = time_base
        self.counter += 1
        return frame


class Publisher:
    """The patient page: publishes a :class:`StampedTrack`, counts the PLIs it receives."""

    def __init__(self, codec: VideoCodec | None = None, *, first_counter: int = 0) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = StampedTrack(first_counter)
        transceiver = self.pc.addTransceiver(self.track, direction="sendonly")
        if codec is not None:
            transceiver.setCodecPreferences(codec_preferences(codec))
        self.sender: RTCRtpSender = transceiver.sender
        self.keyframe_requests = 0
        """PLI/FIR received from the server."""
        stock = self.sender._send_keyframe

        def counted() -> None:
            self.keyframe_requests += 1
            stock()

        setattr(self.sender, "_send_keyframe", counted)  # noqa: B010

    async def publish(self, room: Room, participant_id: str = "patient") -> None:
        """Offer, let the room answer, apply the answer."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await room.publish(self.pc.localDescription.sdp, participant_id=participant_id)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def close(self) -> None:
        """Hang up."""
        await close_peer_connection(self.pc)


@dataclass
class Received:
    """One decoded frame whose stamp was read back."""

    counter: int
    sent_ms: int
    received_ms: int


class Subscriber:
    """The regulator's console: receives, decodes and reads every frame's stamp."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frames: list[Received] = []
        self.unreadable = 0
        """Decoded frames whose stamp does not check (damaged pictures)."""
        self.first_frame = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc.on("track", self._on_track)

    @property
    def latest(self) -> int | None:
        """The last frame number read."""
        return self.frames[-1].counter if self.frames else None

    async def join(
        self,
        room: Room,
        subscriber_id: str,
        *,
        console_offers: bool = False,
        publisher_id: str = "patient",
    ) -> None:
        """Subscribe to ``publisher_id``'s video: the server offers (default) or the console
        does."""
        if console_offers:
            self.pc.addTransceiver("video", direction="recvonly")
            await self.pc.setLocalDescription(await self.pc.createOffer())
            answer = await room.subscribe(
                subscriber_id, self.pc.localDescription.sdp, publisher_id=publisher_id
            )
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        else:
            offer = await room.subscribe(subscriber_id, publisher_id=publisher_id)
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await room.accept_answer(subscriber_id, self.pc.localDescription.sdp)

    async def close(self) -> None:
        """Hang up and stop reading."""
        await close_peer_connection(self.pc)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _on_track(self, track: MediaStreamTrack) -> None:
        task = asyncio.create_task(self._consume(track))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, VideoFrame)
            stamp = read_stamp(frame)
            if stamp is None:
                self.unreadable += 1
                continue
            self.frames.append(Received(stamp[0], stamp[1], now_ms()))
            self.first_frame.set()


class LossyLink:
    """Loses a publisher's media packets for good: every ``every``-th one and its retransmissions.

    A retransmission that never comes is what stalls aiortc's jitter buffer; random loss on
    loopback is nearly always repaired by the first NACK.
    """

    def __init__(self, publisher: Publisher, *, every: int) -> None:
        self.active = False
        self.lost: set[int] = set()
        self._every = every
        self._count = 0
        sender = publisher.sender
        transport = sender.transport
        stock: Callable[[bytes], object] = transport._send_rtp

        async def send(data: bytes) -> None:
            if self.active and not is_rtcp(data) and self._drops(RtpPacket.parse(data), sender):
                return
            result = stock(data)
            assert asyncio.iscoroutine(result)
            await result

        setattr(transport, "_send_rtp", send)  # noqa: B010

    def _drops(self, packet: RtpPacket, sender: RTCRtpSender) -> bool:
        if packet.ssrc == sender._ssrc:
            self._count += 1
            if self._count % self._every == 0:
                self.lost.add(packet.sequence_number)
                return True
        elif packet.ssrc == sender._rtx_ssrc and len(packet.payload) >= 2:
            return int.from_bytes(packet.payload[:2], "big") in self.lost
        return False


async def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 10.0, what: str = ""
) -> None:
    """Poll ``predicate`` every 20 ms; fail after ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                if predicate():
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what or predicate}"
        ) from None
