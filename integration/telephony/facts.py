"""Channel facts: what the AMI and ARI adapters turn Asterisk's events into.

Both adapters speak Asterisk's language (channels, bridges, user events) and translate it,
field by field, into these few typed facts. The ``CallTracker`` then derives calls from facts,
so the logic that says "this call is now at position 1003" exists once, whatever the source.
No raw AMI or ARI dictionary travels past an adapter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from .positions import HELPER_TECHNOLOGIES, endpoint_of, technology_of

__all__ = [
    "ChannelEnteredBridge",
    "ChannelFact",
    "ChannelHangup",
    "ChannelHangupRequested",
    "ChannelHold",
    "ChannelLeftBridge",
    "ChannelSnapshot",
    "ChannelTagged",
    "FeatureCodePressed",
    "MalformedEvent",
    "Resync",
    "normalize_position",
    "position_of",
]


class MalformedEvent(ValueError):
    """An Asterisk event lacks a field the adapter needs; it is logged at debug and ignored."""


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """A channel as Asterisk describes it at one moment."""

    uniqueid: str
    """Asterisk's ``Uniqueid`` (ARI: ``channel.id``)."""
    linkedid: str
    """Asterisk's ``Linkedid``: shared by every leg of one call; VisioRegul's call id."""
    name: str
    """Channel name, e.g. ``PJSIP/1001-00000002``."""
    caller_number: str = ""
    connected_number: str = ""
    exten: str = ""
    context: str = ""
    up: bool = False
    """True when the channel is answered (state ``Up``)."""
    line: str | None = None
    """Value of ``VISIOREGUL_LINE`` when the shipped dialplan tagged this channel."""
    call_id: str | None = None
    """Value of ``VISIOREGUL_CALLID`` (the call's id set by the tag), when read (resync)."""
    bridge_id: str | None = None
    """The bridge the channel is in, when known."""
    created_at: datetime | None = None
    """When Asterisk created the channel (ARI ``creationtime``; AMI ``Status`` ``Seconds``)."""
    bridged_at: datetime | None = None
    """When its bridge was created (ARI ``creationtime`` of the bridge), when known."""


@dataclass(frozen=True, slots=True)
class ChannelTagged:
    """The shipped dialplan tagged a caller's channel as a VisioRegul line (UserEvent)."""

    channel: ChannelSnapshot
    line: str
    at: datetime
    call_id: str = ""
    """The call's id the tag set (``VISIOREGUL_CALLID``, the event's ``CallId``); the
    channel's Linkedid when empty."""


@dataclass(frozen=True, slots=True)
class ChannelEnteredBridge:
    """A channel entered a bridge: it talks with the other channels in it."""

    channel: ChannelSnapshot
    bridge_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelLeftBridge:
    """A channel left a bridge (hangup, transfer, park...)."""

    channel: ChannelSnapshot
    bridge_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelHangupRequested:
    """A channel is being hung up (AMI ``HangupRequest``/``SoftHangupRequest``, ARI
    ``ChannelHangupRequest``): its leaving a bridge next is a hangup, not a transfer."""

    channel: ChannelSnapshot
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelHold:
    """A channel was put on hold (``held=True``) or taken off hold."""

    channel: ChannelSnapshot
    held: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelHangup:
    """A channel is gone."""

    channel: ChannelSnapshot
    at: datetime


@dataclass(frozen=True, slots=True)
class FeatureCodePressed:
    """A regulator pressed the phone key that sends the video link (UserEvent VisioRegulInvite).

    The shipped ``[visioregul-feature]`` subroutine emits it from the regulator's channel, then
    waits up to 3 seconds for ``VISIOREGUL_INVITE`` (``sent`` or ``refused``) on that channel.
    """

    channel: ChannelSnapshot
    """The channel of the phone that pressed the key: where the answer is written."""
    call_id: str
    """The call's id as the ``CallId`` field of the event says: ``VISIOREGUL_CALLID``, which
    the regulator's channel inherits from the caller's, or its Linkedid when it has none (a
    channel not created from the call, such as one that picked up a parked call)."""
    at: datetime
    press_id: str | None = None
    """The press's own id (the event's ``Press`` field: the channel's Uniqueid, the time and a
    random number, evaluated once by the dialplan), the same for every instance that hears it;
    None from a dialplan older than the field."""


@dataclass(frozen=True, slots=True)
class Resync:
    """Every channel Asterisk has now; replaces what the tracker knew (after a (re)connection)."""

    channels: list[ChannelSnapshot] = field(default_factory=list)
    at: datetime | None = None


ChannelFact = (
    ChannelTagged
    | ChannelEnteredBridge
    | ChannelLeftBridge
    | ChannelHangupRequested
    | ChannelHold
    | ChannelHangup
    | FeatureCodePressed
)
"""Facts streamed one at a time; ``Resync`` is applied separately."""


def position_of(channel_name: str) -> str | None:
    """The endpoint a channel belongs to (``PJSIP/1001-0000002a`` gives ``PJSIP/1001``), None
    for helper channels. Whether it is a position is :class:`PositionDirectory`'s answer."""
    if technology_of(channel_name) in HELPER_TECHNOLOGIES:
        return None
    return endpoint_of(channel_name)


_POSITION = re.compile(r"[A-Za-z][A-Za-z0-9]{1,15}/[A-Za-z0-9_.+@-]{1,64}")


def normalize_position(text: str, default_technology: str = "PJSIP") -> str | None:
    """A position as typed by a regulator: ``PJSIP/1001`` as is, a bare ``1001`` in the default
    technology; None when it cannot name a desk phone."""
    text = text.strip()
    if re.fullmatch(r"[0-9]{2,16}", text):
        return f"{default_technology}/{text}"
    return text if _POSITION.fullmatch(text) else None
