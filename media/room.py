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
import functools
import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import av
from aiortc import (
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)

from .codecs import CodecPolicy, VideoCodec, choose_codec, codec_preferences, vp8_frame_size
from .errors import MediaError
from .events import EventCallback, MediaEvent
from .ice import rtc_configuration
from .keyframes import KeyframeRequester
from .passthrough import (
    PassthroughJitterBuffer,
    close_peer_connection,
    forward_keyframe_requests,
    install_passthrough,
    send_picture_loss,
)
from .relay import Relay, RelayTrack
from .sdp import MediaSection, parse_media, single_video
from .still import capture_still

__all__ = ["Room", "RoomStats"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True)
class RoomStats:
    """A snapshot of a room, for monitoring and tests."""

    room_id: str
    codec: str | None
    """The room's codec, None while ``auto`` has not met a publisher."""
    publisher_id: str | None
    publisher_state: str | None
    """The publisher's ``connectionState``."""
    subscribers: Mapping[str, str]
    """Subscriber id to ``connectionState``."""
    frames_relayed: int
    """Frames received from publishers and forwarded (all publications)."""
    keyframes_relayed: int
    frames_passed_through: int
    """Frames the current publication's decoder stand-in turned into packets."""
    frames_dropped_upstream: int
    """Frames of the current publication dropped while waiting for a keyframe."""
    backlog_resets: int
    """Times the current publication's held-back frames were dropped after upstream loss."""
    keyframes_requested: int
    """Keyframe requests from every source, before rate limiting."""
    keyframes_sent: int
    """Picture loss indications actually sent to publishers."""


@dataclass(eq=False)
class _Publisher:
    participant_id: str
    pc: RTCPeerConnection
    receiver: RTCRtpReceiver
    jitter_buffer: PassthroughJitterBuffer
    codec: VideoCodec
    started_at: float
    connected: bool = False


@dataclass(eq=False)
class _Subscriber:
    subscriber_id: str
    pc: RTCPeerConnection
    track: RelayTrack
    codec: VideoCodec
    awaiting_answer: bool
    connected: bool = field(default=False)


class Room:
    """One video room: a publisher slot and any number of subscribers."""

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
        self._configuration = rtc_configuration(ice_servers)
        self._policy: CodecPolicy = codec
        self._codec: VideoCodec | None = {"auto": None, "vp8": "VP8", "h264": "H264"}[codec]
        self._on_event = on_event
        self._max_delay = max_delay
        self._negotiation_timeout = negotiation_timeout
        self._keyframes = KeyframeRequester(self._ask_publisher, min_interval=keyframe_interval)
        self._relay = Relay(request_keyframe=self._keyframes.request, max_queue=max_queue)
        self._publisher: _Publisher | None = None
        self._subscribers: dict[str, _Subscriber] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._close_done = asyncio.Event()

    # -- state --------------------------------------------------------------------------------

    @property
    def codec(self) -> VideoCodec | None:
        """The room's codec (None while ``auto`` has not met a publisher)."""
        return self._codec

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def publisher_id(self) -> str | None:
        """The current publisher's participant id."""
        return self._publisher.participant_id if self._publisher else None

    @property
    def subscriber_ids(self) -> list[str]:
        """The current subscribers, in order of arrival."""
        return list(self._subscribers)

    def stats(self) -> RoomStats:
        """A snapshot of the room's counters."""
        publisher = self._publisher
        jitter = publisher.jitter_buffer if publisher else None
        return RoomStats(
            room_id=self.room_id,
            codec=self._codec,
            publisher_id=publisher.participant_id if publisher else None,
            publisher_state=publisher.pc.connectionState if publisher else None,
            subscribers={s.subscriber_id: s.pc.connectionState for s in self._subscribers.values()},
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
        self._check_open()
        video = single_video(parse_media(offer_sdp), directions=("sendonly", "sendrecv"))
        codec = self._codec_for_publisher(video)
        async with self._lock:
            self._check_open()
            started_at = asyncio.get_running_loop().time()
            pc = RTCPeerConnection(self._configuration)
            pc.on("connectionstatechange", functools.partial(self._on_publisher_state, pc))
            transceiver = pc.addTransceiver("video", direction="recvonly")
            transceiver.setCodecPreferences(codec_preferences(codec))

            async def negotiate() -> PassthroughJitterBuffer:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
                # The receiver starts once connected: replacing its jitter buffer now is early
                # enough, and setRemoteDescription() has just created its track.
                jitter_buffer = install_passthrough(
                    transceiver.receiver,
                    codec,
                    on_keyframe_needed=functools.partial(self._publisher_needs_keyframe, pc),
                    max_delay=self._max_delay,
                )
                await pc.setLocalDescription(await pc.createAnswer())
                return jitter_buffer

            jitter_buffer = await self._negotiate(pc, negotiate(), "offer")
            entry = _Publisher(
                participant_id=participant_id,
                pc=pc,
                receiver=transceiver.receiver,
                jitter_buffer=jitter_buffer,
                codec=codec,
                started_at=started_at,
            )
            previous = self._publisher
            if previous is not None:
                self._drop_publisher(previous)
                self._emit(
                    MediaEvent.PUBLISHER_DISCONNECTED,
                    participant_id=previous.participant_id,
                    reason="replaced",
                )
            self._publisher = entry
            self._keyframes.cancel()
            self._adopt_codec(codec)
            self._relay.attach(
                transceiver.receiver.track,
                on_first_frame=functools.partial(self._on_first_frame, entry),
                on_ended=functools.partial(self._on_stream_ended, entry),
            )
            logger.info("room %s: publisher %s negotiated %s", self.room_id, participant_id, codec)
            return str(pc.localDescription.sdp)

    async def unpublish(self) -> None:
        """Close the publisher's connection (the patient ended the video); subscribers stay."""
        publisher = self._publisher
        if publisher is None:
            return
        self._drop_publisher(publisher, close=False)
        self._emit(
            MediaEvent.PUBLISHER_DISCONNECTED,
            participant_id=publisher.participant_id,
            reason="unpublished",
        )
        await close_peer_connection(publisher.pc)

    def _codec_for_publisher(self, video: MediaSection) -> VideoCodec:
        if self._policy == "auto":
            codec = choose_codec(video.codecs, "auto")
        else:
            codec = self._codec if self._codec in video.codecs else None
        if codec is None:
            raise MediaError(
                "codec_unsupported",
                "the offer has no codec this room relays",
                offered=list(video.codecs),
                policy=self._policy,
            )
        return codec

    def _adopt_codec(self, codec: VideoCodec) -> None:
        if codec == self._codec:
            return
        logger.info("room %s: codec %s -> %s", self.room_id, self._codec, codec)
        self._codec = codec
        for subscriber in list(self._subscribers.values()):
            if subscriber.codec != codec:
                self._remove_subscriber(subscriber, "codec_changed")

    def _drop_publisher(self, publisher: _Publisher, *, close: bool = True) -> None:
        if self._publisher is publisher:
            self._publisher = None
            self._relay.detach()
            self._keyframes.cancel()
        if close:
            self._spawn(close_peer_connection(publisher.pc))

    def _on_publisher_state(self, pc: RTCPeerConnection) -> None:
        publisher = self._publisher
        if publisher is None or publisher.pc is not pc:
            return
        state = pc.connectionState
        logger.info("room %s: publisher %s %s", self.room_id, publisher.participant_id, state)
        if state == "connected" and not publisher.connected:
            publisher.connected = True
            self._emit(
                MediaEvent.PUBLISHER_CONNECTED,
                participant_id=publisher.participant_id,
                codec=publisher.codec,
            )
        elif state == "failed":
            self._drop_publisher(publisher)
            self._emit(MediaEvent.PUBLISHER_FAILED, participant_id=publisher.participant_id)
        elif state == "closed":
            self._drop_publisher(publisher)
            self._emit(
                MediaEvent.PUBLISHER_DISCONNECTED,
                participant_id=publisher.participant_id,
                reason="closed",
            )

    def _on_first_frame(self, publisher: _Publisher, packet: av.Packet) -> None:
        elapsed = asyncio.get_running_loop().time() - publisher.started_at
        details: dict[str, object] = {
            "participant_id": publisher.participant_id,
            "codec": publisher.codec,
            "elapsed_ms": round(elapsed * 1000),
        }
        size = vp8_frame_size(bytes(packet)) if publisher.codec == "VP8" else None
        if size is not None:
            details["width"], details["height"] = size
        self._emit(MediaEvent.FIRST_FRAME, **details)

    def _on_stream_ended(self, publisher: _Publisher) -> None:
        # The publisher's receiver stopped (RTCP BYE, or its connection closed).
        if self._publisher is publisher:
            self._drop_publisher(publisher)
            self._emit(
                MediaEvent.PUBLISHER_DISCONNECTED,
                participant_id=publisher.participant_id,
                reason="stream_ended",
            )

    def _publisher_needs_keyframe(self, pc: RTCPeerConnection, reason: str) -> None:
        publisher = self._publisher
        if publisher is None or publisher.pc is not pc:
            return
        if reason == "backlog":
            self._emit(MediaEvent.BACKLOG_DROPPED, participant_id=publisher.participant_id)
        self._keyframes.request(reason)

    def _ask_publisher(self, reason: str) -> bool:
        publisher = self._publisher
        if publisher is None or publisher.jitter_buffer.media_ssrc is None:
            return False
        self._spawn(send_picture_loss(publisher.receiver, publisher.jitter_buffer.media_ssrc))
        self._emit(
            MediaEvent.KEYFRAME_REQUESTED, participant_id=publisher.participant_id, reason=reason
        )
        return True

    # -- subscribers --------------------------------------------------------------------------

    async def subscribe(self, subscriber_id: str, offer_sdp: str | None = None) -> str:
        """Add a subscriber (or reset one with the same id); returns an SDP to send it.

        Without ``offer_sdp`` the server offers ``sendonly`` video in the room's codec and the
        result is that offer: pass the console's answer to :meth:`accept_answer`. With a console's
        ``recvonly`` video offer, the result is the answer.
        """
        self._check_open()
        offered: MediaSection | None = None
        if offer_sdp is not None:
            offered = single_video(parse_media(offer_sdp), directions=("recvonly",))
        async with self._lock:
            self._check_open()
            codec = self._codec_for_subscriber(offered)
            pc = RTCPeerConnection(self._configuration)
            pc.on(
                "connectionstatechange",
                functools.partial(self._on_subscriber_state, subscriber_id, pc),
            )
            track = self._relay.subscribe()
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(codec_preferences(codec))
            forward_keyframe_requests(
                transceiver.sender,
                functools.partial(self._relay.request_keyframe, "subscriber_request"),
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
                await self._negotiate(pc, negotiate(), "offer" if offer_sdp else "subscription")
            except BaseException:
                track.stop()
                raise
            previous = self._subscribers.get(subscriber_id)
            if previous is not None:
                self._remove_subscriber(previous, "replaced")
            self._subscribers[subscriber_id] = _Subscriber(
                subscriber_id=subscriber_id,
                pc=pc,
                track=track,
                codec=codec,
                awaiting_answer=offer_sdp is None,
            )
            logger.info("room %s: subscriber %s negotiating %s", self.room_id, subscriber_id, codec)
            return str(pc.localDescription.sdp)

    async def accept_answer(self, subscriber_id: str, answer_sdp: str) -> None:
        """Complete a subscription the server offered with the console's ``recvonly`` answer.

        A refused answer removes the subscriber (``subscriber_left``, ``reason: failed``): the
        console subscribes again.
        """
        self._check_open()
        async with self._lock:
            subscriber = self._subscribers.get(subscriber_id)
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
                await self._negotiate(
                    pc,
                    pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer")),
                    "answer",
                    close_on_error=False,
                )
            except MediaError:
                self._remove_subscriber(subscriber, "failed")
                raise
            subscriber.awaiting_answer = False

    async def unsubscribe(self, subscriber_id: str) -> None:
        """Remove a subscriber and close its connection; an unknown id is ignored."""
        subscriber = self._subscribers.get(subscriber_id)
        if subscriber is None:
            return
        self._remove_subscriber(subscriber, "unsubscribed", close=False)
        await close_peer_connection(subscriber.pc)

    def _codec_for_subscriber(self, offered: MediaSection | None) -> VideoCodec:
        codec = self._codec
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

    def _remove_subscriber(
        self, subscriber: _Subscriber, reason: str, *, close: bool = True
    ) -> None:
        # Each subscriber leaves once: a later call (its state changing as it closes) is ignored.
        if self._subscribers.get(subscriber.subscriber_id) is not subscriber:
            return
        del self._subscribers[subscriber.subscriber_id]
        subscriber.track.stop()
        if close:
            self._spawn(close_peer_connection(subscriber.pc))
        self._emit(
            MediaEvent.SUBSCRIBER_LEFT, subscriber_id=subscriber.subscriber_id, reason=reason
        )

    def _on_subscriber_state(self, subscriber_id: str, pc: RTCPeerConnection) -> None:
        subscriber = self._subscribers.get(subscriber_id)
        if subscriber is None or subscriber.pc is not pc:
            return
        state = pc.connectionState
        logger.info("room %s: subscriber %s %s", self.room_id, subscriber_id, state)
        if state == "connected" and not subscriber.connected:
            subscriber.connected = True
            self._emit(MediaEvent.SUBSCRIBER_CONNECTED, subscriber_id=subscriber_id)
        elif state in ("failed", "closed"):
            self._remove_subscriber(subscriber, state)

    # -- still --------------------------------------------------------------------------------

    async def capture_still(self, *, timeout: float = 3.0) -> bytes:
        """A JPEG of the publisher's next keyframe (asked for now), decoded on the side.

        Raises :class:`MediaError` ``no_publisher``, ``still_timeout`` or ``still_failed``.
        """
        self._check_open()
        publisher = self._publisher
        if publisher is None:
            raise MediaError("no_publisher", "nobody is publishing video")
        return await capture_still(
            self._relay, self._keyframes.request, publisher.codec, timeout=timeout
        )

    # -- closing ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every peer connection; safe to call more than once, or concurrently."""
        if self._closed:
            await self._close_done.wait()
            return
        self._closed = True
        self._keyframes.cancel()
        connections = []
        for subscriber in list(self._subscribers.values()):
            self._remove_subscriber(subscriber, "room_closed", close=False)
            connections.append(subscriber.pc)
        publisher = self._publisher
        if publisher is not None:
            self._drop_publisher(publisher, close=False)
            self._emit(
                MediaEvent.PUBLISHER_DISCONNECTED,
                participant_id=publisher.participant_id,
                reason="room_closed",
            )
            connections.append(publisher.pc)
        await asyncio.gather(
            *(close_peer_connection(pc) for pc in connections), return_exceptions=True
        )
        await self._relay.close()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        logger.info("room %s: closed", self.room_id)
        self._emit(MediaEvent.ROOM_CLOSED)
        self._close_done.set()

    # -- helpers ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise MediaError("room_closed", f"room {self.room_id} is closed")

    async def _negotiate(
        self,
        pc: RTCPeerConnection,
        step: Coroutine[Any, Any, _T],
        what: str,
        *,
        close_on_error: bool = True,
    ) -> _T:
        """Run one offer/answer step, bounded in time; any failure becomes a MediaError."""
        completed = False
        try:
            async with asyncio.timeout(self._negotiation_timeout):
                result = await step
            self._check_open()
            completed = True
            return result
        except TimeoutError:
            raise MediaError(
                "negotiation_timeout", f"negotiation took over {self._negotiation_timeout:g} s"
            ) from None
        except MediaError:
            raise
        except Exception as exc:
            # aiortc raises ValueError, KeyError, OperationError... on SDP it cannot apply.
            logger.debug("room %s: %s refused", self.room_id, what, exc_info=True)
            raise MediaError("invalid_sdp", f"the {what} could not be applied: {exc}") from exc
        finally:
            if not completed and close_on_error:
                await close_peer_connection(pc)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning(
                "room %s: background task failed", self.room_id, exc_info=task.exception()
            )

    def _emit(self, kind: MediaEvent, **details: object) -> None:
        if self._close_done.is_set():
            return
        payload: dict[str, object] = {"room_id": self.room_id, **details}
        logger.debug("room %s: %s %s", self.room_id, kind, details)
        if self._on_event is None:
            return
        try:
            self._on_event(kind, payload)
        except Exception:
            logger.exception("room %s: on_event failed for %s", self.room_id, kind)
