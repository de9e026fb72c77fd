"""Transport-wide congestion control towards publishers: the browser's own estimator does the rest.

aiortc 1.16 answers a browser's offer with REMB feedback only: its receive-side estimator starts
near 300 kbit/s and climbs about 5 % a second, and the browser's sender follows that value, so a
phone on a good link sends 360-540p for its first 20 s, and stays near the bottom for long after a
dip. Browsers estimate far better on their side (delay gradient, loss, probing) when the receiver
tells them when each packet arrived: transport-wide congestion control
(draft-holmer-rmcat-transport-wide-cc-extensions-01).

:func:`enable_transport_cc`, called on a publisher's transceiver between
``setRemoteDescription()`` and ``createAnswer()``, accepts the offer's transport-wide sequence
number header extension and ``transport-cc`` feedback on this peer only (aiortc's module-level
lists stay as they are: subscribers and every other peer keep the stock negotiation), and drops
``abs-send-time`` and ``goog-remb`` from that answer: aiortc's REMB would otherwise cap the
browser's estimate at its own slow one. It reaches into aiortc 1.16 internals (pinned, see
:mod:`.passthrough`): ``RTCRtpTransceiver._codecs`` and ``_headerExtensions`` (what the answer
and the receiver use), ``RTCRtpReceiver._handle_rtp_packet`` (shadowed per instance to see every
packet, padding-only probes included, before aiortc drops them), its mangled ``__rtcp_ssrc`` and
``transport._send_rtp()``.

:class:`FeedbackRecorder` records each packet's transport-wide sequence number and arrival time
and turns them into :class:`~.twcc.TransportFeedback` messages; one goes out at least every
:data:`FEEDBACK_INTERVAL` while packets arrive.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import RTCRtpReceiver, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpHeaderExtensionParameters
from aiortc.rtp import RtpPacket

from .twcc import REFERENCE_TICKS, TICK_US, TransportFeedback, pack_feedback

__all__ = [
    "ABS_SEND_TIME_URI",
    "FEEDBACK_INTERVAL",
    "START_BITRATE_KBPS",
    "TRANSPORT_CC_URI",
    "FeedbackRecorder",
    "TransportCc",
    "enable_transport_cc",
    "offered_transport_cc",
]

logger = logging.getLogger(__name__)

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
START_BITRATE_KBPS = 600
"""The start bitrate the answer suggests to the browser (``x-google-start-bitrate``, kbit/s).

Chrome starts at 300 kbit/s, and below 500 kbit/s it drops its first frames until it has scaled
the camera down (to 320x180 for 300 kbit/s), then scales back up one step every few seconds:
a 720p picture took 20 s even with a good estimate. At 600 kbit/s it starts at the camera's
resolution, and its first probes (three and six times the start) find a good link's rate within
a second; on a weak link its estimator falls back within a few hundred milliseconds, and Chrome
scales the picture down again."""
FEEDBACK_INTERVAL = 0.05
"""Seconds between two feedback messages while packets arrive (browsers send every 50-250 ms)."""
MAX_PACKETS_PER_FEEDBACK = 500
"""Sequence numbers per message at most: it stays well under a datagram."""
_HISTORY = 1000
"""Sequence numbers kept behind the next one to report, for packets that arrive late."""
_RTCP_SSRC = "_RTCRtpReceiver__rtcp_ssrc"

_EXTMAP = re.compile(r"^a=extmap:(\d+)(?:/\w+)?\s+(\S+)", re.MULTILINE)
_TRANSPORT_CC_FEEDBACK = re.compile(r"^a=rtcp-fb:(\d+)\s+transport-cc\s*$", re.MULTILINE)


@dataclass(frozen=True)
class TransportCcOffer:
    """What an offer proposes for transport-wide congestion control."""

    extension_id: int
    payload_types: frozenset[int]
    """Payload types with ``a=rtcp-fb:<pt> transport-cc``."""


def offered_transport_cc(offer_sdp: str) -> TransportCcOffer | None:
    """The offer's transport-wide sequence number extension id and the payload types that take
    ``transport-cc`` feedback; None unless it offers both."""
    extension_id = next(
        (int(m.group(1)) for m in _EXTMAP.finditer(offer_sdp) if m.group(2) == TRANSPORT_CC_URI),
        None,
    )
    payload_types = frozenset(int(m.group(1)) for m in _TRANSPORT_CC_FEEDBACK.finditer(offer_sdp))
    if extension_id is None or not payload_types:
        return None
    return TransportCcOffer(extension_id=extension_id, payload_types=payload_types)


@dataclass
class FeedbackRecorder:
    """Arrival times by transport-wide sequence number, turned into feedback messages.

    Each message covers the sequence numbers from the first one not yet reported to the newest
    received; a packet that arrives after its number was reported as lost moves the start back so
    it is reported again (the browser takes the latest word), as long as it is within the last
    :data:`_HISTORY` numbers.
    """

    media_ssrc: int = 0
    _arrivals: dict[int, int] = field(default_factory=dict)
    """Unwrapped sequence number -> arrival time, µs."""
    _next: int | None = None
    _newest: int | None = None
    _count: int = 0
    received: int = 0
    """Packets recorded."""
    sent: int = 0
    """Feedback messages built."""

    def record(self, sequence: int, arrival_us: int) -> None:
        """Note that the packet numbered ``sequence`` (16 bits) arrived at ``arrival_us``."""
        unwrapped = self._unwrap(sequence)
        if unwrapped in self._arrivals:
            return  # a duplicate: the first arrival counts
        if self._next is not None and unwrapped < self._next - _HISTORY:
            return  # too late to report again: the arrivals around it are forgotten
        self._arrivals[unwrapped] = arrival_us
        self.received += 1
        if self._newest is None or unwrapped > self._newest:
            self._newest = unwrapped
        if self._next is None or unwrapped < self._next:
            self._next = unwrapped  # the first packet, or a late one to report again

    @property
    def pending(self) -> bool:
        """Whether arrivals wait to be reported."""
        return self._next is not None and self._newest is not None and self._newest >= self._next

    def build(self, sender_ssrc: int) -> list[TransportFeedback]:
        """Messages reporting every arrival not yet reported (none when nothing is pending)."""
        messages: list[TransportFeedback] = []
        while self.pending:
            assert self._next is not None and self._newest is not None
            start = self._next
            message, self._next = self._message(sender_ssrc, start, self._newest)
            messages.append(message)
            if self._next <= start:
                break  # no progress (never expected): stop rather than spin the service
        if self._next is not None:
            oldest = self._next - _HISTORY
            for sequence in [s for s in self._arrivals if s < oldest]:
                del self._arrivals[sequence]
        return messages

    def _message(self, sender_ssrc: int, start: int, newest: int) -> tuple[TransportFeedback, int]:
        # Starts at ``start`` even when that packet was lost (it is reported lost); the reference
        # time is the first arrival in the message.
        first = start
        while first not in self._arrivals:
            first += 1
        # More numbers lost in a row than one message holds (the link cut for seconds while the
        # browser kept sending): the oldest of them go unreported, so that the message still
        # reaches the first arrival after them (a message of losses only would report nothing,
        # and the next one would start at the same place again).
        start = max(start, first - MAX_PACKETS_PER_FEEDBACK + 1)
        first_ticks = self._arrivals[first] // TICK_US
        reference = first_ticks // REFERENCE_TICKS
        previous = reference * REFERENCE_TICKS
        deltas: list[int | None] = []
        sequence = start
        while sequence <= newest and len(deltas) < MAX_PACKETS_PER_FEEDBACK:
            arrival = self._arrivals.get(sequence)
            if arrival is None:
                deltas.append(None)
            else:
                ticks = arrival // TICK_US
                delta = ticks - previous
                if not -0x8000 <= delta <= 0x7FFF:
                    break  # too far from the previous one: the next message starts here
                deltas.append(delta)
                previous = ticks
            sequence += 1
        while deltas and deltas[-1] is None:
            deltas.pop()
            sequence -= 1
        message = TransportFeedback(
            sender_ssrc=sender_ssrc,
            media_ssrc=self.media_ssrc,
            base_sequence=start & 0xFFFF,
            reference_time=reference & 0xFFFFFF,
            feedback_count=self._count & 0xFF,
            deltas=tuple(deltas),
        )
        self._count += 1
        self.sent += 1
        return message, sequence

    def _unwrap(self, sequence: int) -> int:
        if self._newest is None:
            return sequence
        delta = ((sequence - self._newest + 0x8000) & 0xFFFF) - 0x8000
        return self._newest + delta


class TransportCc:
    """Transport-wide feedback for one publisher's receiver.

    Every RTP packet the receiver gets is recorded before aiortc looks at it; a feedback message
    goes out with the first packet :data:`FEEDBACK_INTERVAL` after the previous one, or from a
    timer when no further packet comes.
    """

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        *,
        send: Callable[[bytes], Awaitable[None]] | None = None,
        clock_us: Callable[[], int] = lambda: time.monotonic_ns() // 1000,
    ) -> None:
        self.recorder = FeedbackRecorder()
        self._receiver = receiver
        self._send = send or self._send_rtcp
        self._clock_us = clock_us
        self._last_sent = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.closed = False
        stock = receiver._handle_rtp_packet

        async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
            await self._on_packet(packet)
            await stock(packet, arrival_time_ms)

        setattr(receiver, "_handle_rtp_packet", handle)  # noqa: B010 (shadowed per instance)

    def close(self) -> None:
        """Stop sending (the connection closes)."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _on_packet(self, packet: RtpPacket) -> None:
        sequence = packet.extensions.transport_sequence_number
        if sequence is None or self.closed:
            return
        self.recorder.record(sequence, self._clock_us())
        if not self.recorder.media_ssrc:
            self.recorder.media_ssrc = packet.ssrc
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_sent >= FEEDBACK_INTERVAL:
            await self._flush()
        elif self._timer is None:
            self._timer = loop.call_at(self._last_sent + FEEDBACK_INTERVAL, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed or not self.recorder.pending:
            return
        task = asyncio.ensure_future(self._flush())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _flush(self) -> None:
        sender_ssrc = getattr(self._receiver, _RTCP_SSRC, None)
        if sender_ssrc is None:
            return
        self._last_sent = asyncio.get_running_loop().time()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for message in self.recorder.build(sender_ssrc):
            await self._send(pack_feedback(message))

    async def _send_rtcp(self, data: bytes) -> None:
        try:
            await self._receiver.transport._send_rtp(data)
        except ConnectionError:
            self.close()


def enable_transport_cc(transceiver: RTCRtpTransceiver, offer_sdp: str) -> TransportCc | None:
    """Answer ``offer_sdp`` with transport-wide congestion control when it offers it.

    Call between ``setRemoteDescription()`` and ``createAnswer()``. Returns the feedback sender
    installed on the transceiver's receiver, or None (the offer has no transport-cc: the stock
    REMB stays).
    """
    offered = offered_transport_cc(offer_sdp)
    if offered is None:
        return None
    codecs = [
        codec
        for codec in transceiver._codecs
        if not is_rtx(codec) and codec.payloadType in offered.payload_types
    ]
    if not codecs:
        return None
    for codec in codecs:
        # ``find_common_codecs()`` made these copies for this transceiver alone.
        codec.rtcpFeedback = [
            feedback
            for feedback in codec.rtcpFeedback
            if feedback.type not in ("goog-remb", "transport-cc")
        ] + [RTCRtcpFeedback(type="transport-cc")]
        codec.parameters["x-google-start-bitrate"] = START_BITRATE_KBPS
    extensions = [
        extension
        for extension in transceiver._headerExtensions
        if extension.uri not in (ABS_SEND_TIME_URI, TRANSPORT_CC_URI)
    ]
    extensions.append(
        RTCRtpHeaderExtensionParameters(id=offered.extension_id, uri=TRANSPORT_CC_URI)
    )
    transceiver._headerExtensions = extensions
    logger.debug("transport-wide congestion control on, extension id %d", offered.extension_id)
    return TransportCc(transceiver.receiver)
