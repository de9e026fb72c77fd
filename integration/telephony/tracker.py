"""From channel facts to call events: who has the call now.

A tagged call is the caller's channel that the shipped dialplan marked with ``VISIOREGUL_LINE``;
its id is ``VISIOREGUL_CALLID`` (set by the tag, inherited by every leg created from it), which
stays the same when Asterisk changes the channel's Linkedid. The channels that talk with the
caller are those of its bridge, Local channel pairs followed to what is behind them (queues and
transfers use them). Among those:

- a *position* is a declared desk phone (``PositionDirectory``); the call has zero or one: the
  one it had while that one stays, else the earliest to enter (never a string sort);
- the other positions are the call's participants (a doctor joining a conference);
- a channel that is neither a desk nor one of Asterisk's helpers (ConfBridge announcers,
  Snoop, external media...) is somebody outside the centre: a trunk, after a transfer out.

The position is released when its channel leaves the caller without hanging up (back to a
queue, parked, transferred: "waiting for a regulator"), or the caller now talks with somebody
outside. A hangup on either side releases nothing: the call ends, or the next bridge says more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..log_privacy import loggable
from .events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallHeld,
    CallParticipants,
    CallReleased,
    CallResumed,
    CallRinging,
    CallTransferred,
)
from .facts import (
    ChannelEnteredBridge,
    ChannelFact,
    ChannelHangup,
    ChannelHangupRequested,
    ChannelHold,
    ChannelLeftBridge,
    ChannelSnapshot,
    ChannelTagged,
    FeatureCodePressed,
    Resync,
)
from .positions import HELPER_TECHNOLOGIES, PositionDirectory, technology_of

__all__ = ["DEFAULT_POSITION_PATTERN", "CallTracker"]

log = logging.getLogger(__name__)

DEFAULT_POSITION_PATTERN = r"PJSIP/1[0-9]{3}"
_LOCAL_DEPTH = 3
"""How many Local channel pairs to follow before giving up (a loop guard)."""


@dataclass(slots=True)
class _Call:
    call_id: str
    uniqueid: str
    line: str
    position: str | None = None
    last_position: str | None = None
    """The position that had the call last (kept while it waits for a regulator)."""
    outside: bool = False
    participants: tuple[str, ...] = ()
    held: bool = False


@dataclass(slots=True)
class _Reached:
    positions: list[tuple[str, ChannelSnapshot]] = field(default_factory=list)
    outside: bool = False


def _uniqueid_order(uniqueid: str) -> tuple[float, int, str]:
    # "1796430260.12": creation time, then Asterisk's sequence number; compared as numbers.
    head, _, tail = uniqueid.partition(".")
    try:
        return float(head), int(tail or 0), uniqueid
    except ValueError:
        return float("inf"), 0, uniqueid


class CallTracker:
    """Keeps channels, bridges and tagged calls; turns each fact into the call events it implies."""

    def __init__(self, positions: PositionDirectory | None = None) -> None:
        """``positions`` says which channels are positions (the default pattern otherwise)."""
        self.positions = positions or PositionDirectory(DEFAULT_POSITION_PATTERN)
        self.channels: dict[str, ChannelSnapshot] = {}
        self.bridges: dict[str, dict[str, int]] = {}
        """Bridge id to its channels' uniqueids, each with the order it entered in."""
        self.calls: dict[str, _Call] = {}
        """Tagged calls by call id (``VISIOREGUL_CALLID``)."""
        self._hanging: set[str] = set()
        self._entries = 0

    def apply(self, fact: ChannelFact) -> list[CallEvent]:
        """Update the state with one fact; return the call events it produced, in order."""
        if isinstance(fact, ChannelTagged):
            return self._tagged(fact)
        if isinstance(fact, ChannelEnteredBridge):
            self._remember(fact.channel)
            self._leave_bridges(fact.channel.uniqueid)
            self._entries += 1
            self.bridges.setdefault(fact.bridge_id, {})[fact.channel.uniqueid] = self._entries
            return self._reevaluate(fact.at)
        if isinstance(fact, ChannelLeftBridge):
            return self._left(fact)
        if isinstance(fact, ChannelHangupRequested):
            self._hanging.add(fact.channel.uniqueid)
            return []
        if isinstance(fact, ChannelHold):
            return self._hold(fact)
        if isinstance(fact, ChannelHangup):
            return self._hangup(fact)
        if isinstance(fact, FeatureCodePressed):
            # A request from a phone, not a change of the call: ``Telephony`` hands it on.
            return []
        raise TypeError(f"unknown fact {fact!r}")

    def call_of_channel(self, uniqueid: str) -> str | None:
        """The id of the tagged call a channel takes part in (its caller's, a position's or a
        participant's channel), or None."""
        for call in self.calls.values():
            if uniqueid == call.uniqueid or uniqueid in self._reached_ids(call.uniqueid):
                return call.call_id
        return None

    def resync(self, snapshot: Resync) -> list[CallEvent]:
        """Replace everything with Asterisk's current channels; return what changed as events."""
        at = snapshot.at or datetime.now(UTC)
        previous = self.calls
        self.channels = {c.uniqueid: c for c in snapshot.channels}
        self.bridges = {}
        self._hanging = set()
        for channel in sorted(snapshot.channels, key=lambda c: _uniqueid_order(c.uniqueid)):
            if channel.bridge_id:
                self._entries += 1
                self.bridges.setdefault(channel.bridge_id, {})[channel.uniqueid] = self._entries
        self.calls = {}
        events: list[CallEvent] = []
        for call_id, call in previous.items():
            caller = self.channels.get(call.uniqueid)
            if caller is None or caller.line is None:
                events.append(CallEnded(call_id=call_id, at=at))
            else:
                self.calls[call_id] = call
        known = {call.uniqueid for call in self.calls.values()}
        for channel in snapshot.channels:
            if channel.line is not None and channel.uniqueid not in known:
                tagged = ChannelTagged(
                    channel=channel,
                    line=channel.line,
                    at=channel.created_at or at,
                    call_id=channel.call_id or "",
                )
                events.extend(self._tagged(tagged, evaluate=False))
        events.extend(self._reevaluate(at, resync=True))
        return events

    # -- facts -------------------------------------------------------------------------------

    def _remember(self, channel: ChannelSnapshot) -> None:
        self.channels[channel.uniqueid] = channel

    def _tagged(self, fact: ChannelTagged, *, evaluate: bool = True) -> list[CallEvent]:
        channel = fact.channel
        self._remember(channel)
        call_id = fact.call_id or channel.call_id or channel.linkedid
        if call_id in self.calls:
            return []
        self.calls[call_id] = _Call(call_id=call_id, uniqueid=channel.uniqueid, line=fact.line)
        log.info(
            "call %s tagged on line %s from %s",
            call_id,
            fact.line,
            loggable(channel.caller_number, log),
        )
        events: list[CallEvent] = [
            CallRinging(
                call_id=call_id,
                line=fact.line,
                caller=channel.caller_number,
                channel=channel.name,
                uniqueid=channel.uniqueid,
                at=fact.at,
            )
        ]
        if evaluate:
            events.extend(self._reevaluate(fact.at))
        return events

    def _left(self, fact: ChannelLeftBridge) -> list[CallEvent]:
        uniqueid = fact.channel.uniqueid
        members = self.bridges.get(fact.bridge_id)
        if members is not None:
            members.pop(uniqueid, None)
            if not members:
                del self.bridges[fact.bridge_id]
        if uniqueid in self._hanging:
            # Hanging up: the call ends with it, or the next bridge entry says where it is.
            return []
        # The caller itself leaving says nothing yet (a transfer moves it on, a hangup ends it):
        # its next bridge, or the position's channel leaving, will.
        return self._reevaluate(fact.at, skip_caller=uniqueid)

    def _hold(self, fact: ChannelHold) -> list[CallEvent]:
        events: list[CallEvent] = []
        for call in self.calls.values():
            if fact.channel.uniqueid not in {call.uniqueid, *self._reached_ids(call.uniqueid)}:
                continue
            if call.held == fact.held:
                continue
            call.held = fact.held
            log.info("call %s %s", call.call_id, "held" if fact.held else "resumed")
            if fact.held:
                events.append(CallHeld(call_id=call.call_id, at=fact.at))
            else:
                events.append(CallResumed(call_id=call.call_id, at=fact.at))
        return events

    def _hangup(self, fact: ChannelHangup) -> list[CallEvent]:
        uniqueid = fact.channel.uniqueid
        self._leave_bridges(uniqueid)
        self.channels.pop(uniqueid, None)
        self._hanging.discard(uniqueid)
        events: list[CallEvent] = []
        for call_id, call in list(self.calls.items()):
            if call.uniqueid == uniqueid:
                del self.calls[call_id]
                log.info("call %s ended", call_id)
                events.append(CallEnded(call_id=call_id, at=fact.at))
        return events

    # -- derivation --------------------------------------------------------------------------

    def _leave_bridges(self, uniqueid: str) -> None:
        for bridge_id, members in list(self.bridges.items()):
            members.pop(uniqueid, None)
            if not members:
                del self.bridges[bridge_id]

    def _bridge_of(self, uniqueid: str) -> str | None:
        for bridge_id, members in self.bridges.items():
            if uniqueid in members:
                return bridge_id
        return None

    def _local_sibling(self, channel: ChannelSnapshot) -> ChannelSnapshot | None:
        name = channel.name
        if not name.startswith("Local/") or name[-2:] not in (";1", ";2"):
            return None
        sibling_name = name[:-1] + ("2" if name.endswith("1") else "1")
        for sibling in self.channels.values():
            if sibling.name == sibling_name:
                return sibling
        return None

    def _reached(self, uniqueid: str) -> list[ChannelSnapshot]:
        """The channels that talk with ``uniqueid``, Local pairs followed, in entry order."""
        found: list[ChannelSnapshot] = []
        seen = {uniqueid}

        def visit(member: str, depth: int) -> None:
            bridge_id = self._bridge_of(member)
            if bridge_id is None:
                return
            for other, _order in sorted(self.bridges[bridge_id].items(), key=lambda kv: kv[1]):
                if other in seen or other not in self.channels:
                    continue
                seen.add(other)
                channel = self.channels[other]
                sibling = self._local_sibling(channel)
                if sibling is not None:
                    if depth < _LOCAL_DEPTH and sibling.uniqueid not in seen:
                        seen.add(sibling.uniqueid)
                        visit(sibling.uniqueid, depth + 1)
                    continue
                found.append(channel)

        visit(uniqueid, 0)
        return found

    def _reached_ids(self, uniqueid: str) -> set[str]:
        return {channel.uniqueid for channel in self._reached(uniqueid)}

    def _classify(self, call: _Call) -> _Reached:
        reached = _Reached()
        for channel in self._reached(call.uniqueid):
            position = self.positions.position_of(channel.name)
            if position is not None:
                if position not in (p for p, _ in reached.positions):
                    reached.positions.append((position, channel))
            elif technology_of(channel.name) in HELPER_TECHNOLOGIES:
                continue
            elif not self.positions.is_desk(channel.name):
                # Not a desk, not a helper: a trunk (or a phone outside the centre).
                reached.outside = True
        return reached

    def _reevaluate(
        self, at: datetime, *, resync: bool = False, skip_caller: str | None = None
    ) -> list[CallEvent]:
        events: list[CallEvent] = []
        for call in self.calls.values():
            if call.uniqueid in self._hanging or call.uniqueid == skip_caller:
                continue
            events.extend(self._evaluate(call, at, resync=resync))
        return events

    def _evaluate(self, call: _Call, at: datetime, *, resync: bool) -> list[CallEvent]:
        reached = self._classify(call)
        names = [position for position, _ in reached.positions]
        if call.position in names:
            position: str | None = call.position
        else:
            position = names[0] if names else None
        events: list[CallEvent] = []
        if position is not None and position != call.position:
            when = at
            if resync:
                # Asterisk's own times: the bridge's creation (ARI), else when the position's
                # channel was created (AMI's Status says how old it is).
                caller = self.channels.get(call.uniqueid)
                desk = dict(reached.positions)[position]
                when = (caller.bridged_at if caller else None) or desk.created_at or at
                if caller is not None and caller.created_at and when < caller.created_at:
                    when = caller.created_at  # a desk that was up before the call
            previous = call.position or call.last_position
            if previous is None or previous == position:
                log.info("call %s answered at %s", call.call_id, position)
                events.append(CallAnswered(call_id=call.call_id, position=position, at=when))
            else:
                log.info("call %s transferred %s -> %s", call.call_id, previous, position)
                events.append(
                    CallTransferred(
                        call_id=call.call_id, from_position=previous, position=position, at=at
                    )
                )
            call.position = call.last_position = position
            call.outside = False
        elif position is None and call.position is not None:
            log.info(
                "call %s released by %s%s",
                call.call_id,
                call.position,
                " (out of the centre)" if reached.outside else "",
            )
            events.append(
                CallReleased(
                    call_id=call.call_id,
                    from_position=call.position,
                    outside=reached.outside,
                    at=at,
                )
            )
            call.position = None
            call.outside = reached.outside
        elif (
            position is None
            and reached.outside
            and not call.outside
            and call.last_position is not None
        ):
            log.info("call %s transferred out of the centre", call.call_id)
            events.append(
                CallReleased(
                    call_id=call.call_id, from_position=call.last_position, outside=True, at=at
                )
            )
            call.outside = True
        participants = tuple(name for name in names if name != position)
        if participants != call.participants:
            call.participants = participants
            events.append(CallParticipants(call_id=call.call_id, participants=participants, at=at))
        return events
