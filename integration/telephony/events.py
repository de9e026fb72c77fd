"""Call events: the one stream the rest of VisioRegul sees, whatever the telephony source.

``call.ringing`` when the shipped dialplan tags a call; ``call.answered`` when a position takes
it; ``call.transferred`` when it moves to another position; ``call.held``/``call.resumed``;
``call.released`` when the position's channel left the caller (back to a queue, parked: "waiting
for a regulator"; or transferred out of the centre); ``call.participants`` when other positions
join or leave the call (a doctor in a conference); ``call.ended`` when the caller's channel is
gone. ``call_id`` is the id the tag set (``VISIOREGUL_CALLID``), the Linkedid at tag time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "CallAnswered",
    "CallEnded",
    "CallEvent",
    "CallHeld",
    "CallParticipants",
    "CallReleased",
    "CallResumed",
    "CallRinging",
    "CallTransferred",
]


@dataclass(frozen=True, slots=True)
class CallRinging:
    """A tagged call arrived and is ringing (or queued)."""

    type = "call.ringing"
    call_id: str
    line: str
    """The VisioRegul line the dialplan tagged (``15``)."""
    caller: str
    """The caller's number exactly as the trunk presented it."""
    channel: str
    """The caller's channel name."""
    uniqueid: str
    """The caller's channel ``Uniqueid``: where the pairing variable is set."""
    at: datetime


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """A position answered the call."""

    type = "call.answered"
    call_id: str
    position: str
    """The answering desk phone's endpoint, e.g. ``PJSIP/1001``."""
    at: datetime


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """The call moved from one position to another."""

    type = "call.transferred"
    call_id: str
    from_position: str
    position: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallReleased:
    """No position has the call any more: it waits for a regulator, or left the centre."""

    type = "call.released"
    call_id: str
    from_position: str
    """The position that had it last."""
    outside: bool
    """True when the caller now talks with somebody outside the centre (a transfer out)."""
    at: datetime


@dataclass(frozen=True, slots=True)
class CallParticipants:
    """The other positions in the call (a doctor in a conference) changed."""

    type = "call.participants"
    call_id: str
    participants: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class CallHeld:
    """The call was put on hold."""

    type = "call.held"
    call_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallResumed:
    """The call was taken off hold."""

    type = "call.resumed"
    call_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The caller's channel is gone."""

    type = "call.ended"
    call_id: str
    at: datetime


CallEvent = (
    CallRinging
    | CallAnswered
    | CallTransferred
    | CallReleased
    | CallParticipants
    | CallHeld
    | CallResumed
    | CallEnded
)
