"""A publisher slot: one participant's connection, its stream into its relay, and the
keyframe requests routed to it.

A room has one slot per publishing participant (:mod:`.feeds`). One publisher per slot at a time:
a new :meth:`PublisherSlot.publish` replaces the current one (the patient reloaded the page or
changed network), and that slot's subscribers resume on the new stream's first keyframe. aiortc
1.16 cannot restart ICE, so a reconnecting publisher always gets a new peer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription

from .candidates import MAX_CANDIDATES, offer_ufrag, parse_candidate
from .codecs import CodecPolicy, VideoCodec, choose_codec, codec_preferences, vp8_frame_size
from .congestion import enable_transport_cc
from .context import RoomContext
from .errors import MediaError
from .events import MediaEvent
from .keyframes import KeyframeRequester
from .passthrough import (
    PassthroughJitterBuffer,
    close_peer_connection,
    install_passthrough,
    send_picture_loss,
)
from .relay import Relay
from .sdp import MediaSection, parse_media, single_video
from .stall import StallWatch

__all__ = ["Publisher", "PublisherSlot", "publisher_codec"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Publisher:
    """The current publisher's connection and what reads its stream."""

    participant_id: str
    pc: RTCPeerConnection
    receiver: RTCRtpReceiver
    jitter_buffer: PassthroughJitterBuffer
    codec: VideoCodec
    started_at: float
    """Loop time when its offer arrived (the first frame's delay is measured from it)."""
    connected: bool = False
    stall: StallWatch | None = None
    """Watches its frames once connected (a frozen picture is reported)."""
    ufrag: str | None = None
    """Its offer's ICE username fragment: the candidates trickled after the offer name it."""
    candidates: int = 0
    """Trickled candidates taken so far (at most :data:`.candidates.MAX_CANDIDATES`)."""
    candidates_ended: bool = False


def publisher_codec(
    policy: CodecPolicy, current: VideoCodec | None, video: MediaSection, *, fixed: bool = False
) -> VideoCodec:
    """The codec to receive an offered video section in; :class:`MediaError` when none fits.

    ``fixed``: other participants publish already, so the room's codec cannot change: an offer
    without it is refused (``codec_mismatch``) rather than dropping everybody else's viewers.
    """
    if fixed and current is not None:
        if current not in video.codecs:
            raise MediaError(
                "codec_mismatch",
                f"the room relays {current}, which the offer does not send",
                offered=list(video.codecs),
                room_codec=current,
            )
        return current
    if policy == "auto":
        codec = choose_codec(video.codecs, "auto")
    else:
        codec = current if current in video.codecs else None
    if codec is None:
        raise MediaError(
            "codec_unsupported",
            "the offer has no codec this room relays",
            offered=list(video.codecs),
            policy=policy,
        )
    return codec


class PublisherSlot:
    """The publisher of one room: at most one at a time."""

    def __init__(
        self,
        context: RoomContext,
        relay: Relay,
        keyframes: KeyframeRequester,
        *,
        max_delay: float,
        on_codec: Callable[[VideoCodec], None],
        codec_fixed: Callable[[], bool] = lambda: False,
    ) -> None:
        """``on_codec`` is told each new publisher's codec before its stream is relayed;
        ``codec_fixed()`` says whether other slots publish (the room's codec must then stay)."""
        self._context = context
        self._relay = relay
        self._keyframes = keyframes
        self._max_delay = max_delay
        self._on_codec = on_codec
        self._codec_fixed = codec_fixed
        self.current: Publisher | None = None

    async def publish(self, offer_sdp: str, participant_id: str) -> str:
        """Answer a publisher's offer (video only), replacing the current publisher."""
        context = self._context
        context.check_open()
        video = single_video(parse_media(offer_sdp), directions=("sendonly", "sendrecv"))
        async with context.lock:
            context.check_open()
            # Under the lock: another participant's publication may have set the codec meanwhile.
            codec = publisher_codec(context.policy, context.codec, video, fixed=self._codec_fixed())
            started_at = asyncio.get_running_loop().time()
            pc = RTCPeerConnection(context.configuration)
            pc.on("connectionstatechange", functools.partial(self._on_state, pc))
            transceiver = pc.addTransceiver("video", direction="recvonly")
            transceiver.setCodecPreferences(codec_preferences(codec))

            async def negotiate() -> PassthroughJitterBuffer:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
                # The receiver starts once connected: replacing its jitter buffer now is early
                # enough, and setRemoteDescription() has just created its track.
                jitter_buffer = install_passthrough(
                    transceiver.receiver,
                    codec,
                    on_keyframe_needed=functools.partial(self._needs_keyframe, pc),
                    max_delay=self._max_delay,
                    on_link=functools.partial(self._on_link, pc),
                )
                enable_transport_cc(transceiver, offer_sdp)
                await pc.setLocalDescription(await pc.createAnswer())
                return jitter_buffer

            jitter_buffer = await context.negotiate(pc, negotiate(), "offer")
            entry = Publisher(
                participant_id=participant_id,
                pc=pc,
                receiver=transceiver.receiver,
                jitter_buffer=jitter_buffer,
                codec=codec,
                started_at=started_at,
                ufrag=offer_ufrag(offer_sdp),
            )
            previous = self.current
            if previous is not None:
                self.drop(previous)
                context.emit(
                    MediaEvent.PUBLISHER_DISCONNECTED,
                    participant_id=previous.participant_id,
                    reason="replaced",
                )
            self.current = entry
            self._keyframes.cancel()
            self._on_codec(codec)
            self._relay.attach(
                transceiver.receiver.track,
                on_first_frame=functools.partial(self._on_first_frame, entry),
                on_ended=functools.partial(self._on_stream_ended, entry),
            )
            logger.info(
                "room %s: publisher %s negotiated %s", context.room_id, participant_id, codec
            )
            return str(pc.localDescription.sdp)

    async def add_candidate(self, ufrag: str, candidate: str | None, mid: str | None) -> bool:
        """Hand a candidate trickled after the offer (None: the page gathered all it will) to the
        current publisher's ICE; False when it belongs to no current connection (a connection
        replaced since, or over the limit), which is not an error: the page may be a step behind.

        Raises :class:`MediaError` ``invalid_candidate`` for a line that is not a candidate.
        """
        parsed = parse_candidate(candidate, mid) if candidate is not None else None
        publisher = self.current
        if publisher is None or publisher.ufrag != ufrag or publisher.candidates_ended:
            return False
        if parsed is None:
            publisher.candidates_ended = True
        elif publisher.candidates >= MAX_CANDIDATES:
            return False
        else:
            publisher.candidates += 1
        await publisher.pc.addIceCandidate(parsed)
        return True

    async def unpublish(self) -> None:
        """Close the publisher's connection; subscribers stay."""
        publisher = self.current
        if publisher is None:
            return
        self.drop(publisher, close=False)
        self._context.emit(
            MediaEvent.PUBLISHER_DISCONNECTED,
            participant_id=publisher.participant_id,
            reason="unpublished",
        )
        await close_peer_connection(publisher.pc)

    def leave_for_close(self) -> RTCPeerConnection | None:
        """The room closes: the publisher leaves (``room_closed``); returns its connection."""
        publisher = self.current
        if publisher is None:
            return None
        self.drop(publisher, close=False)
        self._context.emit(
            MediaEvent.PUBLISHER_DISCONNECTED,
            participant_id=publisher.participant_id,
            reason="room_closed",
        )
        return publisher.pc

    def drop(self, publisher: Publisher, *, close: bool = True) -> None:
        """Stop relaying ``publisher`` (when current) and close its connection in the background."""
        if publisher.stall is not None:
            publisher.stall.stop()
        if self.current is publisher:
            self.current = None
            self._relay.detach()
            self._keyframes.cancel()
        if close:
            self._context.spawn(close_peer_connection(publisher.pc))

    def ask_keyframe(self, reason: str) -> bool:
        """Send a picture loss indication to the publisher; False when there is nobody to ask."""
        publisher = self.current
        if publisher is None or publisher.jitter_buffer.media_ssrc is None:
            return False
        self._context.spawn(
            send_picture_loss(publisher.receiver, publisher.jitter_buffer.media_ssrc)
        )
        self._context.emit(
            MediaEvent.KEYFRAME_REQUESTED, participant_id=publisher.participant_id, reason=reason
        )
        return True

    def _on_state(self, pc: RTCPeerConnection) -> None:
        publisher = self.current
        if publisher is None or publisher.pc is not pc:
            return
        context = self._context
        state = pc.connectionState
        logger.info("room %s: publisher %s %s", context.room_id, publisher.participant_id, state)
        if state == "connected" and not publisher.connected:
            publisher.connected = True
            context.emit(
                MediaEvent.PUBLISHER_CONNECTED,
                participant_id=publisher.participant_id,
                codec=publisher.codec,
            )
            publisher.stall = self._watch_stalls(publisher)
        elif state == "failed":
            self.drop(publisher)
            context.emit(MediaEvent.PUBLISHER_FAILED, participant_id=publisher.participant_id)
        elif state == "closed":
            self.drop(publisher)
            context.emit(
                MediaEvent.PUBLISHER_DISCONNECTED,
                participant_id=publisher.participant_id,
                reason="closed",
            )

    def _watch_stalls(self, publisher: Publisher) -> StallWatch:
        relay, emit, who = self._relay, self._context.emit, publisher.participant_id
        watch = StallWatch(
            lambda: relay.frames_in,
            on_stalled=lambda: emit(MediaEvent.PUBLISHER_STALLED, participant_id=who),
            on_resumed=lambda ms: emit(
                MediaEvent.PUBLISHER_RESUMED, participant_id=who, stalled_ms=ms
            ),
        )
        watch.start()
        return watch

    def _on_first_frame(self, publisher: Publisher, packet: av.Packet) -> None:
        elapsed = asyncio.get_running_loop().time() - publisher.started_at
        details: dict[str, object] = {
            "participant_id": publisher.participant_id,
            "codec": publisher.codec,
            "elapsed_ms": round(elapsed * 1000),
        }
        size = vp8_frame_size(bytes(packet)) if publisher.codec == "VP8" else None
        if size is not None:
            details["width"], details["height"] = size
        self._context.emit(MediaEvent.FIRST_FRAME, **details)

    def _on_stream_ended(self, publisher: Publisher) -> None:
        # The publisher's receiver stopped (RTCP BYE, or its connection closed).
        if self.current is publisher:
            self.drop(publisher)
            self._context.emit(
                MediaEvent.PUBLISHER_DISCONNECTED,
                participant_id=publisher.participant_id,
                reason="stream_ended",
            )

    def _on_link(self, pc: RTCPeerConnection, weak: bool, rate_bps: int) -> None:
        publisher = self.current
        if publisher is None or publisher.pc is not pc:
            return
        kind = MediaEvent.WEAK_LINK if weak else MediaEvent.LINK_RECOVERED
        self._context.emit(kind, participant_id=publisher.participant_id, rate_bps=rate_bps)

    def _needs_keyframe(self, pc: RTCPeerConnection, reason: str) -> None:
        # The publisher's own stream lost a keyframe or dropped a backlog.
        publisher = self.current
        if publisher is None or publisher.pc is not pc:
            return
        if reason == "backlog":
            self._context.emit(MediaEvent.BACKLOG_DROPPED, participant_id=publisher.participant_id)
        self._keyframes.request(reason)
