"""What a room reports to its owner, and the callback type that receives it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum

__all__ = ["EventCallback", "MediaEvent"]


class MediaEvent(StrEnum):
    """Kinds of event passed to a room's ``on_event(kind, details)``.

    Every ``details`` mapping has ``room_id``; publisher events add ``participant_id`` (whose
    camera: a room has one publisher per participant), subscriber events ``subscriber_id`` and
    ``publisher_id`` (whose video the subscription receives).
    """

    PUBLISHER_CONNECTED = "publisher_connected"
    """A publisher's peer connection is up (ICE and DTLS done): its video may be subscribed."""
    PUBLISHER_DISCONNECTED = "publisher_disconnected"
    """A publisher left (the others go on); ``reason``: ``closed``, ``stream_ended``, ``replaced``,
    ``unpublished`` or ``room_closed``."""
    PUBLISHER_FAILED = "publisher_failed"
    """ICE or DTLS failed on the publisher's connection; the publisher is dropped."""
    FIRST_FRAME = "first_frame"
    """The first keyframe of a publication reached the relay; ``codec``, ``elapsed_ms`` since
    ``publish()``, and ``width``/``height`` when the bitstream tells them (VP8)."""
    PUBLISHER_STALLED = "publisher_stalled"
    """A connected publisher sent no frame for 2 s (:mod:`.stall`): its viewers' picture is
    frozen."""
    PUBLISHER_RESUMED = "publisher_resumed"
    """Frames again from a stalled publisher; ``stalled_ms``: how long the picture stood still."""
    SUBSCRIBER_CONNECTED = "subscriber_connected"
    """A subscriber's peer connection is up."""
    SUBSCRIBER_LEFT = "subscriber_left"
    """A subscriber is gone; ``reason``: ``unsubscribed``, ``replaced``, ``closed``, ``failed``,
    ``codec_changed`` (subscribe again to get the new codec) or ``room_closed``."""
    KEYFRAME_REQUESTED = "keyframe_requested"
    """A picture loss indication was sent to the publisher (at most one per 300 ms); ``reason``:
    ``start``, ``backlog``, ``subscriber_joined``, ``subscriber_request`` (a viewer's PLI/FIR),
    ``subscriber_backlog`` or ``still``."""
    BACKLOG_DROPPED = "backlog_dropped"
    """Upstream loss held frames back too long: they were dropped, the relay waits for the next
    keyframe."""
    WEAK_LINK = "weak_link"
    """The publisher's link has carried less than 48 kbit/s, with losses or without a complete
    frame for 2 s, for 4 s: video cannot pass in a usable way (photos can); ``rate_bps``
    measured."""
    LINK_RECOVERED = "link_recovered"
    """The publisher's link reported weak carries twice that again (for 4 s); ``rate_bps``."""
    ROOM_CLOSED = "room_closed"
    """The room closed every peer; no event follows."""


EventCallback = Callable[[str, Mapping[str, object]], None]
"""``on_event(kind, details)``: called on the event loop; it must not block. Exceptions it raises
are logged and ignored."""
