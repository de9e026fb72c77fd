"""A video room: the patient's camera, relayed to the regulators' consoles.

One publisher (the patient; a later version adds third parties) sends video only; any number of
subscribers (regulators) receive it. The server forwards the publisher's encoded frames to every
subscriber without decoding or re-encoding them (:mod:`.passthrough`, :mod:`.relay`), so all legs
of a room use one codec.

Signalling is plain offer/answer, without trickle ICE: every description carries all its
candidates (the pages send ``pc.localDescription`` once ``iceGatheringState`` is ``complete``).

- The publisher offers (``sendonly`` or ``sendrecv`` video) and :meth:`Room.publish` answers
  ``recvonly``. An offer with any audio, data channel or second video section is refused with
  :class:`MediaError` (``audio_refused``, ``unsupported_media``, ``too_many_video``) before any
  peer is created: the patient page never sends audio, so such an offer is a fault, not something
  to negotiate down.
- A subscriber is offered by the server: :meth:`Room.subscribe` without an offer returns the
  server's offer (``sendonly`` video, the room's codec only), and the console answers
  ``recvonly`` through :meth:`Room.accept_answer`. This keeps the codec choice on the server. A
  console may instead offer ``recvonly`` video itself: :meth:`Room.subscribe` then answers.
- A new :meth:`Room.publish` replaces the current publisher (the patient reloaded the page or
  changed network): subscribers keep their connections and resume on the new stream's first
  keyframe. aiortc 1.16 cannot restart ICE, so a reconnecting publisher always gets a new peer.
- Codec: ``auto`` uses VP8 when the publisher offers it, H264 otherwise; subscribers that join
  before any publisher get VP8. If a publisher then brings another codec, those subscribers are
  dropped with ``subscriber_left`` (``reason: codec_changed``) and must subscribe again.

Since frames are forwarded as they are, every subscriber gets the publisher's bitrate (which
follows the server's receive estimate); a subscriber that cannot keep up is dropped to the next
keyframe rather than sent less. Upstream loss that holds frames back longer than ``max_delay`` is
dropped the same way, so the delay never grows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiortc import RTCIceServer

from .codecs import CodecPolicy, VideoCodec
from .context import RoomContext
from .errors import MediaError
from .events import EventCallback, MediaEvent
from .ice import rtc_configuration
from .keyframes import KeyframeRequester
from .passthrough import close_peer_connection
from .publishing import PublisherSlot
from .relay import Relay
from .stats import RoomStats
from .still import capture_still
from .subscribers import Subscribers

__all__ = ["Room", "RoomStats"]

logger = logging.getLogger(__name__)


class Room:
    """One video room: a publisher slot and any number of subscribers.

    The room wires its parts: the publisher slot (:mod:`.publishing`), the subscribers
    (:mod:`.subscribers`), the relay between them (:mod:`.relay`) and the rate-limited keyframe
    requests to the publisher (:mod:`.keyframes`), all sharing one :class:`.RoomContext`.
    """

    def __init__(
        self,
        room_id: str,
        *,
        ice_servers: Sequence[RTCIceServer],
        codec: CodecPolicy = "auto",
        on_event: EventCallback | None,
        max_delay: float = 0.5,
        keyframe_interval: float = 0.3,
        max_queue: int = 30,
        negotiation_timeout: float = 10.0,
    ) -> None:
        """Create an empty room.

        ``ice_servers`` are used by the server's own peers (an empty list: host candidates only,
        never a public server). ``max_delay`` (seconds of media) bounds what upstream loss may
        hold back before it is dropped; ``keyframe_interval`` is the least time between two
        keyframe requests to the publisher; ``max_queue`` (frames) bounds each subscriber's
        queue; ``negotiation_timeout`` bounds each offer/answer step (candidate gathering with
        an unreachable TURN server).
        """
        if codec not in ("auto", "vp8", "h264"):
            raise ValueError(f"unknown codec policy {codec!r}")
        self.room_id = room_id
        self._context = RoomContext(
            room_id,
            configuration=rtc_configuration(ice_servers),
            policy=codec,
            on_event=on_event,
            negotiation_timeout=negotiation_timeout,
        )
        self._keyframes = KeyframeRequester(self._ask_publisher, min_interval=keyframe_interval)
        self._relay = Relay(request_keyframe=self._keyframes.request, max_queue=max_queue)
        self._publisher = PublisherSlot(
            self._context,
            self._relay,
            self._keyframes,
            max_delay=max_delay,
            on_codec=self._adopt_codec,
        )
        self._subscribers = Subscribers(self._context, self._relay)

    # -- state --------------------------------------------------------------------------------

    @property
    def codec(self) -> VideoCodec | None:
        """The room's codec (None while ``auto`` has not met a publisher)."""
        return self._context.codec

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._context.closed

    @property
    def publisher_id(self) -> str | None:
        """The current publisher's participant id."""
        publisher = self._publisher.current
        return publisher.participant_id if publisher else None

    @property
    def subscriber_ids(self) -> list[str]:
        """The current subscribers, in order of arrival."""
        return self._subscribers.ids

    def stats(self) -> RoomStats:
        """A snapshot of the room's counters."""
        publisher = self._publisher.current
        jitter = publisher.jitter_buffer if publisher else None
        return RoomStats(
            room_id=self.room_id,
            codec=self._context.codec,
            publisher_id=publisher.participant_id if publisher else None,
            publisher_state=publisher.pc.connectionState if publisher else None,
            subscribers=self._subscribers.states(),
            frames_relayed=self._relay.frames_in,
            keyframes_relayed=self._relay.keyframes_in,
            frames_passed_through=jitter.decoder.packets if jitter else 0,
            frames_dropped_upstream=jitter.frames_dropped if jitter else 0,
            backlog_resets=jitter.backlog_resets if jitter else 0,
            keyframes_requested=self._keyframes.requested,
            keyframes_sent=self._keyframes.sent,
        )

    # -- publisher ----------------------------------------------------------------------------

    async def publish(self, offer_sdp: str, *, participant_id: str = "patient") -> str:
        """Answer a publisher's offer (video only); a current publisher is replaced.

        Returns the answer SDP. Raises :class:`MediaError` for an offer that is not SDP, carries
        audio or anything but one ``sendonly``/``sendrecv`` video section, or no usable codec.
        """
        return await self._publisher.publish(offer_sdp, participant_id)

    async def unpublish(self) -> None:
        """Close the publisher's connection (the patient ended the video); subscribers stay."""
        await self._publisher.unpublish()

    # -- subscribers --------------------------------------------------------------------------

    async def subscribe(self, subscriber_id: str, offer_sdp: str | None = None) -> str:
        """Add a subscriber (or reset one with the same id); returns an SDP to send it.

        Without ``offer_sdp`` the server offers ``sendonly`` video in the room's codec and the
        result is that offer: pass the console's answer to :meth:`accept_answer`. With a console's
        ``recvonly`` video offer, the result is the answer.
        """
        return await self._subscribers.subscribe(subscriber_id, offer_sdp)

    async def accept_answer(self, subscriber_id: str, answer_sdp: str) -> None:
        """Complete a subscription the server offered with the console's ``recvonly`` answer.

        A refused answer removes the subscriber (``subscriber_left``, ``reason: failed``): the
        console subscribes again.
        """
        await self._subscribers.accept_answer(subscriber_id, answer_sdp)

    async def unsubscribe(self, subscriber_id: str) -> None:
        """Remove a subscriber and close its connection; an unknown id is ignored."""
        await self._subscribers.unsubscribe(subscriber_id)

    # -- still --------------------------------------------------------------------------------

    async def capture_still(self, *, timeout: float = 3.0) -> bytes:
        """A JPEG of the publisher's next keyframe (asked for now), decoded on the side.

        Raises :class:`MediaError` ``no_publisher``, ``still_timeout`` or ``still_failed``.
        """
        self._context.check_open()
        publisher = self._publisher.current
        if publisher is None:
            raise MediaError("no_publisher", "nobody is publishing video")
        return await capture_still(
            self._relay, self._keyframes.request, publisher.codec, timeout=timeout
        )

    # -- closing ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every peer connection; safe to call more than once, or concurrently."""
        context = self._context
        if context.closed:
            await context.close_done.wait()
            return
        context.closed = True
        self._keyframes.cancel()
        connections = self._subscribers.leave_for_close()
        publisher_pc = self._publisher.leave_for_close()
        if publisher_pc is not None:
            connections.append(publisher_pc)
        await asyncio.gather(
            *(close_peer_connection(pc) for pc in connections), return_exceptions=True
        )
        await self._relay.close()
        await context.drain()
        logger.info("room %s: closed", self.room_id)
        context.emit(MediaEvent.ROOM_CLOSED)
        context.close_done.set()

    # -- wiring -------------------------------------------------------------------------------

    def _adopt_codec(self, codec: VideoCodec) -> None:
        # A publisher brought its codec: subscribers negotiated with another one must leave.
        if codec == self._context.codec:
            return
        logger.info("room %s: codec %s -> %s", self.room_id, self._context.codec, codec)
        self._context.codec = codec
        self._subscribers.keep_codec(codec)

    def _ask_publisher(self, reason: str) -> bool:
        return self._publisher.ask_keyframe(reason)
