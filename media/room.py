"""A video room: the cameras of the patient and of third parties, relayed to the consoles.

Publishers (the patient, each invited third party) send video only; any number of subscribers
(regulators, doctors, a third party allowed to see the patient) receive it. The server forwards
each publisher's encoded frames to that publisher's subscribers without decoding or re-encoding
them (:mod:`.passthrough`, :mod:`.relay`), so all legs of a room use one codec.

Several publishers: the room holds one feed per participant id (:mod:`.feeds`: a publisher slot,
a relay and a keyframe requester each). A subscription receives one publisher's video: a console
that shows the patient and a third party holds two subscriptions, each its own peer connection
(one per (subscriber, publisher) pair). That is the robust choice with aiortc 1.16: adding a
transceiver to a live connection means renegotiating it, which aiortc does poorly (transceivers
are never removed, a stopped one keeps its m-line, and a failed renegotiation cannot be rolled
back), and it cannot restart ICE, so a connection shared by several publishers could not be
repaired when one of them changes. Separate connections come and go with their publisher, a
viewer that falls behind on one picture is dropped to the next keyframe of that picture only, and
every subscription keeps the plain one-video offer/answer of the single-publisher room. The cost
is one ICE and DTLS handshake per pair, small for the few people of a room.

Signalling is plain offer/answer, without trickle ICE: every description carries all its
candidates (the pages send ``pc.localDescription`` once ``iceGatheringState`` is ``complete``).

- A publisher offers (``sendonly`` or ``sendrecv`` video) and :meth:`Room.publish` answers
  ``recvonly``. An offer with any audio, data channel or second video section is refused with
  :class:`MediaError` (``audio_refused``, ``unsupported_media``, ``too_many_video``) before any
  peer is created: the pages never send audio, so such an offer is a fault, not something to
  negotiate down.
- A subscriber is offered by the server: :meth:`Room.subscribe` without an offer returns the
  server's offer (``sendonly`` video, the room's codec only), and the console answers
  ``recvonly`` through :meth:`Room.accept_answer`. This keeps the codec choice on the server. A
  console may instead offer ``recvonly`` video itself: :meth:`Room.subscribe` then answers.
  ``publisher_id`` names whose video (the patient's by default); subscribing before that
  participant publishes is kept: frames flow once they do.
- A new :meth:`Room.publish` with a participant id that publishes already replaces that
  participant's publisher only (the page reloaded or changed network): its subscribers keep their
  connections and resume on the new stream's first keyframe. aiortc 1.16 cannot restart ICE, so a
  reconnecting publisher always gets a new peer. The other publishers are untouched.
- Codec: ``auto`` uses VP8 when the publisher offers it, H264 otherwise; subscribers that join
  before any publisher get VP8. If a lone publisher then brings another codec, those subscribers
  are dropped with ``subscriber_left`` (``reason: codec_changed``) and must subscribe again. While
  another participant publishes, the codec is the room's: an offer without it is refused
  (``codec_mismatch``), never a reason to drop everybody else's viewers.

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
from .feeds import Feed
from .ice import rtc_configuration
from .icepath import nominated_remote_type
from .passthrough import close_peer_connection
from .stats import RoomStats
from .still import capture_still
from .subscribers import Subscribers

__all__ = ["Room", "RoomStats"]

logger = logging.getLogger(__name__)

DEFAULT_PUBLISHER = "patient"
"""Whose video a subscription receives when it names nobody."""


class Room:
    """One video room: a feed per publishing participant and any number of subscribers.

    The room wires its parts: the feeds (:mod:`.feeds`: each a publisher slot, a relay and
    rate-limited keyframe requests) and the subscribers (:mod:`.subscribers`), all sharing one
    :class:`.RoomContext`.
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
        self._max_delay = max_delay
        self._keyframe_interval = keyframe_interval
        self._max_queue = max_queue
        self._feeds: dict[str, Feed] = {}
        self._gone_frames = (0, 0)
        self._gone_bytes = 0
        """Frames and keyframes relayed by feeds dropped since."""
        self._subscribers = Subscribers(self._context, on_left=lambda _: self._prune())

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
        """The first current publisher's participant id (the only one in a one-camera room)."""
        ids = self.publisher_ids
        return ids[0] if ids else None

    @property
    def publisher_ids(self) -> list[str]:
        """The participants publishing now, in order of their feed's creation."""
        return [feed.participant_id for feed in self._feeds.values() if feed.publishing]

    def subscription_of(self, subscriber_id: str) -> str | None:
        """Whose video ``subscriber_id`` receives, or None for an unknown subscriber."""
        return self._subscribers.publisher_of(subscriber_id)

    @property
    def subscriber_ids(self) -> list[str]:
        """The current subscribers, in order of arrival."""
        return self._subscribers.ids

    def stats(self) -> RoomStats:
        """A snapshot of the room's counters (summed over every feed)."""
        feeds = list(self._feeds.values())
        publishers = [feed.slot.current for feed in feeds if feed.slot.current is not None]
        publisher = publishers[0] if publishers else None
        jitters = [p.jitter_buffer for p in publishers]
        return RoomStats(
            room_id=self.room_id,
            codec=self._context.codec,
            publisher_id=publisher.participant_id if publisher else None,
            publisher_state=publisher.pc.connectionState if publisher else None,
            subscribers=self._subscribers.states(),
            frames_relayed=sum(feed.relay.frames_in for feed in feeds) + self._gone_frames[0],
            keyframes_relayed=sum(feed.relay.keyframes_in for feed in feeds) + self._gone_frames[1],
            bytes_relayed=sum(feed.relay.bytes_in for feed in feeds) + self._gone_bytes,
            frames_passed_through=sum(j.decoder.packets for j in jitters),
            frames_dropped_upstream=sum(j.frames_dropped for j in jitters),
            backlog_resets=sum(j.backlog_resets for j in jitters),
            keyframes_requested=sum(feed.keyframes.requested for feed in feeds),
            keyframes_sent=sum(feed.keyframes.sent for feed in feeds),
            publishers={p.participant_id: p.pc.connectionState for p in publishers},
        )

    def publisher_remote_type(self, participant_id: str) -> str | None:
        """The type of a publisher's nominated remote candidate as the service sees it (``relay``:
        its video comes through TURN), or None without a nominated pair."""
        feed = self._feeds.get(participant_id)
        publisher = feed.slot.current if feed is not None else None
        return nominated_remote_type(publisher.pc) if publisher is not None else None

    # -- publisher ----------------------------------------------------------------------------

    async def publish(self, offer_sdp: str, *, participant_id: str = DEFAULT_PUBLISHER) -> str:
        """Answer a publisher's offer (video only); that participant's current publisher is
        replaced, the others are untouched.

        Returns the answer SDP. Raises :class:`MediaError` for an offer that is not SDP, carries
        audio or anything but one ``sendonly``/``sendrecv`` video section, or no usable codec
        (``codec_mismatch`` when others publish in a codec it lacks).
        """
        self._context.check_open()
        feed = self._feed(participant_id)
        try:
            return await feed.slot.publish(offer_sdp, participant_id)
        finally:
            self._prune()

    async def add_publisher_candidate(
        self, participant_id: str, ufrag: str, candidate: str | None, mid: str | None
    ) -> bool:
        """A candidate a publisher trickled after its offer (None: the last); see
        :meth:`.publishing.PublisherSlot.add_candidate`."""
        feed = self._feeds.get(participant_id)
        if feed is None:
            return False
        return await feed.slot.add_candidate(ufrag, candidate, mid)

    async def unpublish(self, participant_id: str | None = None) -> None:
        """Close a participant's publisher connection (it ended its video), or every publisher's
        without ``participant_id``; subscribers stay."""
        feeds = [
            feed
            for feed in list(self._feeds.values())
            if participant_id is None or feed.participant_id == participant_id
        ]
        await asyncio.gather(*(feed.slot.unpublish() for feed in feeds))
        self._prune()

    # -- subscribers --------------------------------------------------------------------------

    async def subscribe(
        self,
        subscriber_id: str,
        offer_sdp: str | None = None,
        *,
        publisher_id: str = DEFAULT_PUBLISHER,
    ) -> str:
        """Add a subscriber of ``publisher_id``'s video (or reset one with the same id); returns
        an SDP to send it.

        Without ``offer_sdp`` the server offers ``sendonly`` video in the room's codec and the
        result is that offer: pass the console's answer to :meth:`accept_answer`. With a console's
        ``recvonly`` video offer, the result is the answer.
        """
        self._context.check_open()
        try:
            return await self._subscribers.subscribe(
                subscriber_id,
                offer_sdp,
                publisher_id=publisher_id,
                relay=lambda: self._feed(publisher_id).relay,
            )
        finally:
            self._prune()

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

    async def capture_still(
        self, *, participant_id: str = DEFAULT_PUBLISHER, timeout: float = 3.0
    ) -> bytes:
        """A JPEG of a participant's next keyframe (asked for now), decoded on the side: the
        patient's unless ``participant_id`` names another publisher.

        Raises :class:`MediaError` ``no_publisher``, ``still_timeout`` or ``still_failed``.
        """
        self._context.check_open()
        feeds = [
            feed
            for feed in self._feeds.values()
            if feed.publishing and feed.participant_id == participant_id
        ]
        publisher = feeds[0].slot.current if feeds else None
        if publisher is None:
            raise MediaError("no_publisher", "nobody is publishing video")
        feed = feeds[0]
        return await capture_still(
            feed.relay, feed.keyframes.request, publisher.codec, timeout=timeout
        )

    # -- closing ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every peer connection; safe to call more than once, or concurrently."""
        context = self._context
        if context.closed:
            await context.close_done.wait()
            return
        context.closed = True
        feeds = list(self._feeds.values())
        for feed in feeds:
            feed.keyframes.cancel()
        connections = self._subscribers.leave_for_close()
        for feed in feeds:
            publisher_pc = feed.slot.leave_for_close()
            if publisher_pc is not None:
                connections.append(publisher_pc)
        await asyncio.gather(
            *(close_peer_connection(pc) for pc in connections), return_exceptions=True
        )
        await asyncio.gather(*(feed.relay.close() for feed in feeds), return_exceptions=True)
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

    def _feed(self, participant_id: str) -> Feed:
        feed = self._feeds.get(participant_id)
        if feed is None:
            feed = self._feeds[participant_id] = Feed(
                participant_id,
                self._context,
                max_delay=self._max_delay,
                keyframe_interval=self._keyframe_interval,
                max_queue=self._max_queue,
                on_codec=self._adopt_codec,
                codec_fixed=lambda: any(
                    other.publishing
                    for other in self._feeds.values()
                    if other.participant_id != participant_id
                ),
            )
        return feed

    def _prune(self) -> None:
        # A feed with neither a publisher nor a subscriber is dropped; its counters stay counted.
        if self._context.closed:
            return
        for participant_id, feed in list(self._feeds.items()):
            if feed.publishing or feed.relay.subscriber_count:
                continue
            if self._subscribers.watching(participant_id):
                continue
            del self._feeds[participant_id]
            feed.keyframes.cancel()
            self._gone_frames = (
                self._gone_frames[0] + feed.relay.frames_in,
                self._gone_frames[1] + feed.relay.keyframes_in,
            )
            self._gone_bytes += feed.relay.bytes_in
            self._context.spawn(feed.relay.close())
