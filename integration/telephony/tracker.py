"""From channel facts to call events: who has the call now.

A tagged call is the caller's channel that the shipped dialplan marked with ``VISIOREGUL_LINE``.
Its position is the desk phone of whichever channel shares a bridge with it: that holds for a
direct ``Dial``, for a queue (whichever member answers ends up in the caller's bridge) and for
transfers (the caller lands in a new bridge with the new position). Local channels are followed
to the real phone behind them, as queues often use them for members.
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
    CallResumed,
    CallRinging,
    CallTransferred,
)
from .facts import (
    ChannelEnteredBridge,
    ChannelFact,
    ChannelHangup,
    ChannelHold,
    ChannelLeftBridge,
    ChannelSnapshot,
    ChannelTagged,
    FeatureCodePressed,
    Resync,
    position_of,
)

__all__ = ["CallTracker"]

log = logging.getLogger(__name__)

_LOCAL_DEPTH = 3
"""How many Local channel pairs to follow before giving up (a loop guard)."""


@dataclass(slots=True)
class _Call:
    call_id: str
    uniqueid: str
    line: str
    position: str | None = None
    held: bool = False


@dataclass(slots=True)
class CallTracker:
    """Keeps channels, bridges and tagged calls; turns each fact into the call events it implies."""

    channels: dict[str, ChannelSnapshot] = field(default_factory=dict)
    bridges: dict[str, set[str]] = field(default_factory=dict)
    calls: dict[str, _Call] = field(default_factory=dict)
    """Tagged calls by call id (the caller channel's ``Linkedid``)."""

    def apply(self, fact: ChannelFact) -> list[CallEvent]:
        """Update the state with one fact; return the call events it produced, in order."""
        if isinstance(fact, ChannelTagged):
            return self._tagged(fact)
        if isinstance(fact, ChannelEnteredBridge):
            self._remember(fact.channel)
            self._leave_bridges(fact.channel.uniqueid)
            self.bridges.setdefault(fact.bridge_id, set()).add(fact.channel.uniqueid)
            return self._reevaluate(fact.at)
        if isinstance(fact, ChannelLeftBridge):
            members = self.bridges.get(fact.bridge_id)
            if members is not None:
                members.discard(fact.channel.uniqueid)
                if not members:
                    del self.bridges[fact.bridge_id]
            # Nothing to say yet: during a transfer the caller is alone for a moment, and the
            # position only changes when somebody else joins them.
            return []
        if isinstance(fact, ChannelHold):
            return self._hold(fact)
        if isinstance(fact, ChannelHangup):
            return self._hangup(fact)
        if isinstance(fact, FeatureCodePressed):
            # A request from a phone, not a change of the call: ``Telephony`` hands it on.
            return []
        raise TypeError(f"unknown fact {fact!r}")

    def resync(self, snapshot: Resync) -> list[CallEvent]:
        """Replace everything with Asterisk's current channels; return what changed as events."""
        at = snapshot.at or datetime.now(UTC)
        previous = self.calls
        self.channels = {c.uniqueid: c for c in snapshot.channels}
        self.bridges = {}
        for channel in snapshot.channels:
            if channel.bridge_id:
                self.bridges.setdefault(channel.bridge_id, set()).add(channel.uniqueid)
        self.calls = {}
        events: list[CallEvent] = []
        for call_id, call in previous.items():
            caller = self.channels.get(call.uniqueid)
            if caller is None or caller.line is None:
                events.append(CallEnded(call_id=call_id, at=at))
            else:
                self.calls[call_id] = call
        for channel in snapshot.channels:
            if channel.line is not None and channel.linkedid not in self.calls:
                events.extend(
                    self._tagged(
                        ChannelTagged(
                            channel=channel, line=channel.line, at=channel.created_at or at
                        )
                    )
                )
        events.extend(self._reevaluate(at))
        return events

    # -- facts -------------------------------------------------------------------------------

    def _remember(self, channel: ChannelSnapshot) -> None:
        self.channels[channel.uniqueid] = channel

    def _tagged(self, fact: ChannelTagged) -> list[CallEvent]:
        channel = fact.channel
        self._remember(channel)
        call_id = channel.linkedid
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
        events.extend(self._reevaluate(fact.at))
        return events

    def _hold(self, fact: ChannelHold) -> list[CallEvent]:
        events: list[CallEvent] = []
        for call in self.calls.values():
            if fact.channel.uniqueid not in self._call_channels(call):
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
            members.discard(uniqueid)
            if not members:
                del self.bridges[bridge_id]

    def _bridge_of(self, uniqueid: str) -> str | None:
        for bridge_id, members in self.bridges.items():
            if uniqueid in members:
                return bridge_id
        return None

    def _peers(self, uniqueid: str) -> list[ChannelSnapshot]:
        bridge_id = self._bridge_of(uniqueid)
        if bridge_id is None:
            return []
        return [
            self.channels[other]
            for other in sorted(self.bridges[bridge_id])
            if other != uniqueid and other in self.channels
        ]

    def _position_behind(self, channel: ChannelSnapshot, depth: int = 0) -> str | None:
        position = position_of(channel.name)
        if position is not None or depth >= _LOCAL_DEPTH:
            return position
        if channel.name.startswith("Local/") and channel.name[-2:] in (";1", ";2"):
            sibling_name = channel.name[:-1] + ("2" if channel.name.endswith("1") else "1")
            for sibling in list(self.channels.values()):
                if sibling.name == sibling_name:
                    for peer in self._peers(sibling.uniqueid):
                        found = self._position_behind(peer, depth + 1)
                        if found:
                            return found
        return None

    def _call_channels(self, call: _Call) -> set[str]:
        return {call.uniqueid, *(peer.uniqueid for peer in self._peers(call.uniqueid))}

    def _reevaluate(self, at: datetime) -> list[CallEvent]:
        events: list[CallEvent] = []
        for call in self.calls.values():
            position = None
            for peer in self._peers(call.uniqueid):
                position = self._position_behind(peer)
                if position:
                    break
            if position is None or position == call.position:
                continue
            if call.position is None:
                log.info("call %s answered at %s", call.call_id, position)
                events.append(CallAnswered(call_id=call.call_id, position=position, at=at))
            else:
                log.info("call %s transferred %s -> %s", call.call_id, call.position, position)
                events.append(
                    CallTransferred(
                        call_id=call.call_id,
                        from_position=call.position,
                        position=position,
                        at=at,
                    )
                )
            call.position = position
        return events
