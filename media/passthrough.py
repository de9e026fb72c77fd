"""Pass-through reception: a publisher's video is forwarded encoded, never decoded.

aiortc has no public hook between reassembling an encoded frame and decoding it. This module is the
only one in VisioRegul that reaches into aiortc's internals, and they are those of aiortc 1.16.0
(pinned as ``aiortc==1.16.0``; ``tests/media`` exercises every one of them):

- ``RTCRtpReceiver._RTCRtpReceiver__jitter_buffer``: replaced, per receiver, by a
  :class:`PassthroughJitterBuffer`. The receiver only calls its ``add(packet)`` and gets back
  ``(pli_flag, encoded_frame)``; ours always answers ``(False, None)`` and delivers the frames
  itself, so nothing ever reaches the receiver's decoder thread, and
  ``aiortc.rtcrtpreceiver.decoder_worker``, which creates its decoder on the first frame it gets,
  never creates one.
- ``RtpPacket._data``: the depayloaded bytes the receiver attaches to each packet before ``add``;
  ``aiortc.jitterbuffer.JitterFrame``: the encoded frame the stand-in decoder takes.
- ``RemoteStreamTrack._queue``: where the decoder thread would put decoded frames; the encoded
  frames go there instead, as ``av.Packet`` objects, so ``track.recv()`` returns packets.
- ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``: a picture loss indication to the publisher.
- ``RTCRtpSender._send_keyframe()``: what a sender calls when its viewer sends PLI or FIR;
  shadowed per sender instance to reach the publisher instead of an encoder that does not exist.
- ``RTCIceTransport._connection`` and aioice's ``Connection._query_consent_task`` (aioice 0.13.0,
  as aiortc 1.16.0 installs it): see :func:`close_peer_connection`.

Nothing is patched at module level: audio receivers (never negotiated anyway) and every other peer
connection in the process keep aiortc's stock behaviour.

An ``av.Packet`` returned by a track makes ``RTCRtpSender`` packetize it without encoding
(``Encoder.pack()``, the path of ``MediaPlayer(decode=False)``): that half is public.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

import av
from aioice import Connection
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import VIDEO_CLOCK_RATE, VIDEO_TIME_BASE
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import RtpPacket

from .codecs import is_keyframe

__all__ = [
    "CONSENT_CHECKS",
    "CONSENT_CHECK_GRACE",
    "PassthroughDecoder",
    "PassthroughJitterBuffer",
    "close_peer_connection",
    "forward_keyframe_requests",
    "install_passthrough",
    "send_picture_loss",
]

logger = logging.getLogger(__name__)

CONSENT_CHECK_GRACE = 0.1
"""Seconds between two looks for consent checks started after a close (see
:func:`close_peer_connection`)."""
CONSENT_CHECKS = 10
"""How many times to look."""

_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
# Packets held at most (aiortc's video jitter buffer holds 512).
_CAPACITY = 512
RATE_WINDOW = 2.0
"""Seconds of arrivals the receive rate is measured over."""
WEAK_LINK_BPS = 48_000
"""Below this rate with losses, video cannot pass in a usable way (a keyframe takes seconds)."""
WEAK_LINK_LOSS = 0.05
"""The loss, over :data:`RATE_WINDOW`, that tells a weak link from a camera with little to send."""
WEAK_LINK_STALL = 2.0
"""Seconds without a complete frame that, at such a rate, tell a weak link too (retransmissions
can hide the losses while nothing gets through)."""
WEAK_LINK_HOLD = 4.0
"""Seconds a link must stay weak (or good again) before it is reported."""


def _timestamp_delta(a: int, b: int) -> int:
    """``a - b`` for 32-bit RTP timestamps, across wrap-around."""
    return ((a - b + (1 << 31)) % (1 << 32)) - (1 << 31)


def _sequence_delta(a: int, b: int) -> int:
    """``a - b`` for 16-bit RTP sequence numbers, across wrap-around."""
    return ((a - b + (1 << 15)) % (1 << 16)) - (1 << 15)


class PassthroughDecoder:
    """Stands in for aiortc's video decoder: an encoded frame becomes an ``av.Packet``.

    ``pts`` is the RTP timestamp, unwrapped and counted from the first frame, in 1/90000 s;
    ``is_keyframe`` is set from the bitstream (see :func:`~visioregul.media.codecs.is_keyframe`).
    """

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.packets = 0
        """Frames turned into packets so far."""
        self._last: int | None = None
        self._pts = 0

    def decode(self, frame: JitterFrame) -> list[av.Packet]:
        """The frame as a one-packet list, like ``Decoder.decode()`` returns frames."""
        if self._last is None:
            self._last = frame.timestamp
        else:
            self._pts += _timestamp_delta(frame.timestamp, self._last)
            self._last = frame.timestamp
        packet = av.Packet(frame.data)
        packet.pts = self._pts
        packet.time_base = VIDEO_TIME_BASE
        packet.is_keyframe = is_keyframe(self.codec, frame.data)
        self.packets += 1
        return [packet]


class PassthroughJitterBuffer:
    """Reassembles frames in place of aiortc's jitter buffer, and delivers them encoded.

    aiortc's buffer ends a frame only when the next frame's first packet arrives (about one frame
    interval of extra delay), releases at most one frame per packet received, and waits for a
    missing packet until 512 packets have piled up behind it: after a lost retransmission the
    viewer freezes for seconds, and the delay is never caught up. Here a frame is released as soon
    as it is complete (its marker bit, or the next timestamp, ends it), all complete frames go at
    once. Packets are held back only behind a missing one; when those span more than the bound
    of media time they are dropped: reassembly restarts at the next frame boundary, frames are
    dropped until a keyframe, and one is asked for. The same wait for a keyframe applies at the
    start of a stream.

    The bound follows the link: ``max_delay`` plus the time two of the largest recent packets
    take to arrive at the measured receive rate, which is what a retransmission may wait behind
    (nothing on a fast link; more than a second at 16 kbit/s). Held media is counted from the
    oldest frame held behind the hole, so a keyframe that takes seconds to cross a weak link is
    never dropped for being slow (dropping it would only ask for another as slow: a keyframe
    loop), nor is a long pause between two frames (a sender dropping frames on a weak link).
    """

    def __init__(
        self,
        decoder: PassthroughDecoder,
        deliver: Callable[[av.Packet], None],
        on_keyframe_needed: Callable[[str], None],
        *,
        max_delay: float,
        clock: Callable[[], float] = time.monotonic,
        on_link: Callable[[bool, int], None] = lambda weak, rate_bps: None,
    ) -> None:
        """``on_keyframe_needed(reason)`` is called with ``start`` or ``backlog``; ``clock``
        gives arrival times in seconds; ``on_link(weak, rate_bps)`` is told when the link turns
        weak (below :data:`WEAK_LINK_BPS` with :data:`WEAK_LINK_LOSS` loss or no complete frame
        for :data:`WEAK_LINK_STALL` seconds, for :data:`WEAK_LINK_HOLD` seconds) and when it is
        good again (twice that rate, as long)."""
        self.decoder = decoder
        self._deliver = deliver
        self._on_keyframe_needed = on_keyframe_needed
        self._max_delay_s = max_delay
        self._packets: dict[int, RtpPacket] = {}
        self._next: int | None = None
        self._newest: int | None = None
        self._last_out: int | None = None
        self._frame_start: int | None = None
        self._resyncing = False
        self._need_keyframe = True
        self._wait_reason = "start"
        self._clock = clock
        self._arrivals: deque[tuple[float, int, int]] = deque()
        self._on_link = on_link
        self._link_since: float | None = None
        self._delivered_at: float | None = None
        self.weak_link = False
        """Whether the link is reported weak now."""
        self._arrived_bytes = 0
        self._held_bytes = 0
        self._highest: int | None = None
        self.last_keyframe_bytes = 0
        """Size of the last keyframe released (what the next one will roughly weigh)."""
        self.media_ssrc: int | None = None
        """SSRC of the media packets (RTX packets are unwrapped before they get here)."""
        self.frames_dropped = 0
        """Frames dropped while waiting for a keyframe."""
        self.backlog_resets = 0
        """Times the held-back packets were dropped for exceeding ``max_delay``."""

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Take one RTP packet; the answer never gives the receiver anything to decode."""
        self.media_ssrc = packet.ssrc
        self._measure(packet)
        sequence, timestamp = packet.sequence_number, packet.timestamp
        if self._newest is None or _timestamp_delta(timestamp, self._newest) > 0:
            self._newest = timestamp
        if self._resyncing:
            if sequence != self._frame_start:
                self._note_frame_end(packet)
                return False, None
            self._resyncing = False
            self._next, self._last_out = sequence, timestamp
        elif self._next is None or self._last_out is None:
            self._next, self._last_out = sequence, timestamp
        elif len(self._packets) >= _CAPACITY or (
            self._has_gap() and self._held_span() > self.max_delay_ticks()
        ):
            self._drop_backlog()
            self._note_frame_end(packet)
            return False, None
        self._note_frame_end(packet)
        if _sequence_delta(sequence, self._next) >= 0:  # else: late, its frame is gone
            if sequence not in self._packets:
                self._held_bytes += len(packet._data)  # type: ignore[attr-defined]
            self._packets[sequence] = packet
            if self._highest is None or _sequence_delta(sequence, self._highest) > 0:
                self._highest = sequence
            self._release_complete_frames()
        return False, None

    @property
    def receive_rate(self) -> float:
        """Bytes per second received over the last :data:`RATE_WINDOW` seconds (0 until a
        quarter of it has passed)."""
        if not self._arrivals:
            return 0.0
        span = self._arrivals[-1][0] - self._arrivals[0][0]
        return self._arrived_bytes / span if span >= RATE_WINDOW / 4 else 0.0

    def transfer_time(self, size: int) -> float:
        """Seconds ``size`` bytes take to arrive at the measured rate (0 when unknown)."""
        rate = self.receive_rate
        return size / rate if rate > 0 else 0.0

    def max_delay_ticks(self) -> int:
        """The bound on held-back media now, in 1/90000 s (see the class)."""
        extra = self.transfer_time(2 * self._largest_packet())
        return int((self._max_delay_s + extra) * VIDEO_CLOCK_RATE)

    def _measure(self, packet: RtpPacket) -> None:
        now = self._clock()
        size = len(packet._data)  # type: ignore[attr-defined]
        self._arrivals.append((now, size, packet.sequence_number))
        self._arrived_bytes += size
        while self._arrivals and self._arrivals[0][0] < now - RATE_WINDOW:
            self._arrived_bytes -= self._arrivals.popleft()[1]
        self._watch_link(now)

    @property
    def loss(self) -> float:
        """Fraction of the media packets missing over the last :data:`RATE_WINDOW` seconds."""
        if len(self._arrivals) < 2:
            return 0.0
        first = self._arrivals[0][2]
        expected = max(_sequence_delta(s, first) for _, _, s in self._arrivals) + 1
        received = len({s for _, _, s in self._arrivals})
        return max(0.0, 1 - received / expected) if expected > 0 else 0.0

    def _watch_link(self, now: float) -> None:
        rate_bps = int(self.receive_rate * 8)
        if rate_bps == 0:
            return  # not measured yet
        if self.weak_link:
            changing = rate_bps >= 2 * WEAK_LINK_BPS
        else:
            stalled = self._delivered_at is None or now - self._delivered_at > WEAK_LINK_STALL
            changing = rate_bps < WEAK_LINK_BPS and (stalled or self.loss >= WEAK_LINK_LOSS)
        if not changing:
            self._link_since = None
        elif self._link_since is None:
            self._link_since = now
        elif now - self._link_since >= WEAK_LINK_HOLD:
            self._link_since = None
            self.weak_link = not self.weak_link
            self._on_link(self.weak_link, rate_bps)

    def _largest_packet(self) -> int:
        return max((size for _, size, _ in self._arrivals), default=0)

    def _has_gap(self) -> bool:
        # A packet is missing between the next one to release and the highest held.
        if not self._packets or self._next is None or self._highest is None:
            return False
        return _sequence_delta(self._highest, self._next) + 1 > len(self._packets)

    def _held_span(self) -> int:
        # Media time from the oldest frame held (or the last released, when none is) to the
        # newest packet.
        assert self._newest is not None and self._last_out is not None
        oldest = min(
            (p.timestamp for p in self._packets.values()),
            key=lambda t: _timestamp_delta(t, self._newest or 0),
            default=self._last_out,
        )
        return _timestamp_delta(self._newest, oldest)

    def _note_frame_end(self, packet: RtpPacket) -> None:
        # The marker bit ends a frame, so the next sequence number starts one.
        if packet.marker:
            self._frame_start = (packet.sequence_number + 1) & 0xFFFF

    def _release_complete_frames(self) -> None:
        while self._next is not None and self._next in self._packets:
            start = self._next
            timestamp = self._packets[start].timestamp
            parts: list[RtpPacket] = []
            sequence = start
            while True:
                packet = self._packets.get(sequence)
                if packet is None:
                    return  # a packet is missing: wait for it (NACK) or for the backlog bound
                if packet.timestamp != timestamp:
                    break  # the frame ended without a marker bit
                parts.append(packet)
                sequence = (sequence + 1) & 0xFFFF
                if packet.marker:
                    break
            for part in parts:
                del self._packets[part.sequence_number]
                self._held_bytes -= len(part._data)  # type: ignore[attr-defined]
            self._next = sequence
            self._last_out = timestamp
            # The receiver stores the depayloaded bytes of each packet as ``_data``.
            data = b"".join(part._data for part in parts)  # type: ignore[attr-defined]
            self._release(JitterFrame(data=data, timestamp=timestamp))

    def _drop_backlog(self) -> None:
        self.backlog_resets += 1
        self._packets.clear()
        self._held_bytes = 0
        self._highest = None
        self._resyncing = True
        logger.debug("dropped held-back video beyond %.2f s", self._max_delay_s)
        self._need_keyframe = True
        self._wait_reason = "backlog"
        self._on_keyframe_needed("backlog")

    def _release(self, frame: JitterFrame) -> None:
        packet = self.decoder.decode(frame)[0]
        if self._need_keyframe:
            if not packet.is_keyframe:
                self.frames_dropped += 1
                # Asked again on every dropped frame: the rate limiter merges the requests, and a
                # lost PLI does not leave the viewers frozen.
                self._on_keyframe_needed(self._wait_reason)
                return
            self._need_keyframe = False
        if packet.is_keyframe:
            self.last_keyframe_bytes = packet.size
        self._delivered_at = self._clock()
        self._deliver(packet)


def install_passthrough(
    receiver: RTCRtpReceiver,
    codec: str,
    *,
    on_keyframe_needed: Callable[[str], None],
    max_delay: float = 0.5,
    on_link: Callable[[bool, int], None] = lambda weak, rate_bps: None,
) -> PassthroughJitterBuffer:
    """Make ``receiver.track.recv()`` return the publisher's encoded frames as ``av.Packet``.

    Call it after ``setRemoteDescription()`` (which creates the track) and before the connection
    is up (the receiver starts with it). ``codec`` is the negotiated video codec.
    """
    track = receiver.track
    if not isinstance(track, RemoteStreamTrack) or not hasattr(receiver, _JITTER_BUFFER):
        raise RuntimeError("unexpected aiortc internals: VisioRegul needs aiortc==1.16.0")
    queue = track._queue

    def deliver(packet: av.Packet) -> None:
        if track.readyState == "live":
            queue.put_nowait(packet)

    jitter_buffer = PassthroughJitterBuffer(
        PassthroughDecoder(codec), deliver, on_keyframe_needed, max_delay=max_delay, on_link=on_link
    )
    setattr(receiver, _JITTER_BUFFER, jitter_buffer)
    return jitter_buffer


async def send_picture_loss(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI for ``media_ssrc`` to the publisher.

    It must name the media SSRC: Chrome sends bandwidth probes on its RTX SSRC, and ignores a PLI
    for that one.
    """
    await receiver._send_rtcp_pli(media_ssrc)


def forward_keyframe_requests(sender: RTCRtpSender, request: Callable[[], None]) -> None:
    """Route the PLI/FIR a sender receives from its viewer to ``request()``.

    The sender forwards packets and has no encoder to force a keyframe from.
    """
    setattr(sender, "_send_keyframe", request)  # noqa: B010 (a method, shadowed per instance)


async def close_peer_connection(pc: RTCPeerConnection) -> None:
    """Close ``pc``, and stop the consent checks aioice 0.13 may start after the close.

    aioice starts its consent freshness checks when ``connect()`` succeeds. If the connection is
    closed during ``connect()``'s last 20 ms polling sleep (a peer hanging up just as ICE
    completes), they start after the close, on a connection with no pair, and loop forever: one
    task and one ``Connection`` leaked per such peer. They are looked for and cancelled every
    :data:`CONSENT_CHECK_GRACE` seconds for :data:`CONSENT_CHECKS` times, which covers an event
    loop held up for most of a second.
    """
    connections = [
        transceiver.receiver.transport.transport._connection for transceiver in pc.getTransceivers()
    ]
    await pc.close()
    asyncio.get_running_loop().call_later(
        CONSENT_CHECK_GRACE, _stop_consent_checks, connections, CONSENT_CHECKS
    )


def _stop_consent_checks(connections: Sequence[Connection], remaining: int) -> None:
    for connection in connections:
        task = connection._query_consent_task
        if task is not None and not task.done():
            task.cancel()
    if remaining > 1:
        asyncio.get_running_loop().call_later(
            CONSENT_CHECK_GRACE, _stop_consent_checks, connections, remaining - 1
        )
