"""The room's subscribers: the consoles that receive the publishers' video.

Each subscriber receives one publisher's video (:mod:`.feeds`): a console that shows several
publishers holds one subscription per publisher. A subscriber is offered by the server
(``sendonly`` video, the room's codec only) and answers ``recvonly`` through
:meth:`Subscribers.accept_answer`, which keeps the codec choice on the server; a console may
instead offer ``recvonly`` video itself and get the answer. Each gets a
:class:`~.relay.RelayTrack` of its publisher's encoded frames, and its keyframe requests go to
that publisher's relay, at most one per second from each subscriber (a viewer on a poor link
does not make the publisher send keyframes for everybody).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription

from .codecs import VideoCodec, choose_codec, codec_preferences
from .context import RoomContext
from .errors import MediaError
from .events import MediaEvent
from .passthrough import close_peer_connection, forward_keyframe_requests
from .relay import Relay, RelayTrack
from .sdp import MediaSection, parse_media, single_video

__all__ = ["Subscriber", "Subscribers", "subscriber_codec"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Subscriber:
    """One subscriber's connection and its track of relayed frames."""

    subscriber_id: str
    publisher_id: str
    """Whose video it receives."""
    pc: RTCPeerConnection
    track: RelayTrack
    codec: VideoCodec
    awaiting_answer: bool
    """The server offered and waits for the console's answer."""
    connected: bool = field(default=False)


def subscriber_codec(current: VideoCodec | None, offered: MediaSection | None) -> VideoCodec:
    """The codec to send a subscriber (its offer, if any, must accept it)."""
    codec = current
    if codec is None:
        # auto, no publisher yet: VP8, which every WebRTC browser decodes.
        codec = choose_codec(offered.codecs, "auto") if offered else "VP8"
    if codec is None or (offered is not None and codec not in offered.codecs):
        raise MediaError(
            "codec_unsupported",
            f"the offer does not accept {codec or 'VP8 or H264'}",
            offered=list(offered.codecs) if offered else [],
        )
    return codec


class Subscribers:
    """The subscribers of one room, by id, in order of arrival."""

    def __init__(
        self, context: RoomContext, *, on_left: Callable[[str], None] = lambda _: None
    ) -> None:
        """``on_left(publisher_id)`` is told each time a subscriber of that publisher leaves."""
        self._context = context
        self._on_left = on_left
        self._by_id: dict[str, Subscriber] = {}

    @property
    def ids(self) -> list[str]:
        """The current subscribers, in order of arrival."""
        return list(self._by_id)

    def states(self) -> Mapping[str, str]:
        """Subscriber id to ``connectionState``."""
        return {s.subscriber_id: s.pc.connectionState for s in self._by_id.values()}

    def publisher_of(self, subscriber_id: str) -> str | None:
        """Whose video ``subscriber_id`` receives."""
        subscriber = self._by_id.get(subscriber_id)
        return subscriber.publisher_id if subscriber else None

    def watching(self, publisher_id: str) -> int:
        """How many subscribers receive ``publisher_id``'s video."""
        return sum(s.publisher_id == publisher_id for s in self._by_id.values())

    async def subscribe(
        self,
        subscriber_id: str,
        offer_sdp: str | None,
        *,
        publisher_id: str,
        relay: Callable[[], Relay],
    ) -> str:
        """Add a subscriber of ``publisher_id``'s video (or reset one with the same id); returns
        an SDP to send it. ``relay()`` gives that publisher's relay (made on demand)."""
        context = self._context
        context.check_open()
        offered: MediaSection | None = None
        if offer_sdp is not None:
            offered = single_video(parse_media(offer_sdp), directions=("recvonly",))
        async with context.lock:
            context.check_open()
            codec = subscriber_codec(context.codec, offered)
            pc = RTCPeerConnection(context.configuration)
            pc.on("connectionstatechange", functools.partial(self._on_state, subscriber_id, pc))
            source = relay()
            track = source.subscribe()
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(codec_preferences(codec))
            forward_keyframe_requests(
                transceiver.sender, functools.partial(track.request_keyframe, "subscriber_request")
            )

            async def negotiate() -> None:
                if offer_sdp is None:
                    await pc.setLocalDescription(await pc.createOffer())
                else:
                    await pc.setRemoteDescription(
                        RTCSessionDescription(sdp=offer_sdp, type="offer")
                    )
                    await pc.setLocalDescription(await pc.createAnswer())

            try:
                await context.negotiate(pc, negotiate(), "offer" if offer_sdp else "subscription")
            except BaseException:
                track.stop()
                raise
            previous = self._by_id.get(subscriber_id)
            if previous is not None:
                self.remove(previous, "replaced")
            self._by_id[subscriber_id] = Subscriber(
                subscriber_id=subscriber_id,
                publisher_id=publisher_id,
                pc=pc,
                track=track,
                codec=codec,
                awaiting_answer=offer_sdp is None,
            )
            logger.info(
                "room %s: subscriber %s of %s negotiating %s",
                context.room_id,
                subscriber_id,
                publisher_id,
                codec,
            )
            return str(pc.localDescription.sdp)

    async def accept_answer(self, subscriber_id: str, answer_sdp: str) -> None:
        """Complete a subscription the server offered; a refused answer removes the subscriber."""
        context = self._context
        context.check_open()
        async with context.lock:
            subscriber = self._by_id.get(subscriber_id)
            if subscriber is None:
                raise MediaError("unknown_subscriber", f"no subscriber {subscriber_id!r}")
            if not subscriber.awaiting_answer:
                raise MediaError("invalid_state", "no offer is waiting for an answer")
            try:
                video = single_video(parse_media(answer_sdp), directions=("recvonly",))
                if subscriber.codec not in video.codecs:
                    raise MediaError(
                        "codec_unsupported",
                        f"the answer does not accept {subscriber.codec}",
                        offered=list(video.codecs),
                    )
                pc = subscriber.pc
                await context.negotiate(
                    pc,
                    pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer")),
                    "answer",
                    close_on_error=False,
                )
            except MediaError:
                self.remove(subscriber, "failed")
                raise
            subscriber.awaiting_answer = False

    async def unsubscribe(self, subscriber_id: str) -> None:
        """Remove a subscriber and close its connection; an unknown id is ignored."""
        subscriber = self._by_id.get(subscriber_id)
        if subscriber is None:
            return
        self.remove(subscriber, "unsubscribed", close=False)
        await close_peer_connection(subscriber.pc)

    def keep_codec(self, codec: VideoCodec) -> None:
        """The room changed codec: subscribers negotiated with another one leave."""
        for subscriber in list(self._by_id.values()):
            if subscriber.codec != codec:
                self.remove(subscriber, "codec_changed")

    def leave_for_close(self) -> list[RTCPeerConnection]:
        """The room closes: every subscriber leaves (``room_closed``); returns the connections."""
        connections = []
        for subscriber in list(self._by_id.values()):
            self.remove(subscriber, "room_closed", close=False)
            connections.append(subscriber.pc)
        return connections

    def remove(self, subscriber: Subscriber, reason: str, *, close: bool = True) -> None:
        """``subscriber`` leaves for ``reason``; its connection closes in the background."""
        # Each subscriber leaves once: a later call (its state changing as it closes) is ignored.
        if self._by_id.get(subscriber.subscriber_id) is not subscriber:
            return
        del self._by_id[subscriber.subscriber_id]
        subscriber.track.stop()
        if close:
            self._context.spawn(close_peer_connection(subscriber.pc))
        self._context.emit(
            MediaEvent.SUBSCRIBER_LEFT,
            subscriber_id=subscriber.subscriber_id,
            publisher_id=subscriber.publisher_id,
            reason=reason,
        )
        self._on_left(subscriber.publisher_id)

    def _on_state(self, subscriber_id: str, pc: RTCPeerConnection) -> None:
        subscriber = self._by_id.get(subscriber_id)
        if subscriber is None or subscriber.pc is not pc:
            return
        state = pc.connectionState
        logger.info("room %s: subscriber %s %s", self._context.room_id, subscriber_id, state)
        if state == "connected" and not subscriber.connected:
            subscriber.connected = True
            self._context.emit(
                MediaEvent.SUBSCRIBER_CONNECTED,
                subscriber_id=subscriber_id,
                publisher_id=subscriber.publisher_id,
            )
        elif state in ("failed", "closed"):
            self.remove(subscriber, state)
