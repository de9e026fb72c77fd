"""One participant's video in a room: its publisher slot, its relay and its keyframe requests.

A room holds a :class:`Feed` per publishing participant (the patient, each third party), made
when that participant publishes or when somebody subscribes to it first (a console watches before
the patient's page has published), and dropped once it has neither a publisher nor a
subscriber. Feeds share the room's :class:`~.context.RoomContext`: one lock, one codec.
"""

from __future__ import annotations

from collections.abc import Callable

from .codecs import VideoCodec
from .context import RoomContext
from .keyframes import KeyframeRequester
from .publishing import PublisherSlot
from .relay import Relay

__all__ = ["KEYFRAME_ROUND_TRIP", "Feed"]

KEYFRAME_ROUND_TRIP = 0.2
"""Seconds allowed for a keyframe request to reach the publisher and its keyframe to start."""


class Feed:
    """One participant's publisher slot and relay, with keyframe requests routed to it."""

    def __init__(
        self,
        participant_id: str,
        context: RoomContext,
        *,
        max_delay: float,
        keyframe_interval: float,
        max_queue: int,
        on_codec: Callable[[VideoCodec], None],
        codec_fixed: Callable[[], bool],
    ) -> None:
        self.participant_id = participant_id
        self.keyframes = KeyframeRequester(
            self._ask_publisher, min_interval=keyframe_interval, answer_time=self._answer_time
        )
        self.relay = Relay(
            request_keyframe=self.keyframes.request,
            max_queue=max_queue,
            on_keyframe=self.keyframes.keyframe_arrived,
        )
        self.slot = PublisherSlot(
            context,
            self.relay,
            self.keyframes,
            max_delay=max_delay,
            on_codec=on_codec,
            codec_fixed=codec_fixed,
        )

    @property
    def publishing(self) -> bool:
        """Whether the participant has a publisher connection now."""
        return self.slot.current is not None

    def _ask_publisher(self, reason: str) -> bool:
        return self.slot.ask_keyframe(reason)

    def _answer_time(self) -> float:
        # A keyframe like the last one, at the rate the publisher's link delivers now, plus a
        # round trip.
        publisher = self.slot.current
        if publisher is None:
            return 0.0
        buffer = publisher.jitter_buffer
        return buffer.transfer_time(buffer.last_keyframe_bytes) + KEYFRAME_ROUND_TRIP
