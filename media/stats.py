"""A room's counters, as one snapshot for monitoring and tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["RoomStats"]


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
    bytes_relayed: int
    """The size of the frames relayed, in bytes."""
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
    publishers: Mapping[str, str] = field(default_factory=dict)
    """Every current publisher's participant id to its ``connectionState``."""
