"""The live-call registry: every tagged call, where it is now, and who wants to know.

Fed with call events by the telephony link, read by the console, the CAD API and, later, the
session domain. Ended calls stay listed for a while (``keep_ended``): the regulator may still
want the video after the caller hung up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

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
from .numbers import CallerNumber, NumberKind, TrunkFormat, parse_caller

__all__ = ["CallState", "CallUpdate", "LiveCall", "LiveCallRegistry", "SuggestedChannel"]

log = logging.getLogger(__name__)


class CallState(StrEnum):
    """Where a call stands."""

    RINGING = "ringing"
    ANSWERED = "answered"
    HELD = "held"
    WAITING = "waiting"
    """Answered, then left by its position (back to a queue, parked): waits for a regulator."""
    TRANSFERRED_OUT = "transferred_out"
    """Transferred to somebody outside the centre: no position has it."""
    ENDED = "ended"


class SuggestedChannel(StrEnum):
    """How the invitation should reach the caller, given their number."""

    SMS = "sms"
    """A mobile: send the link by SMS."""
    EMAIL = "email"
    """A landline: ask for an e-mail address (or another, mobile, number)."""
    ASK_NUMBER = "ask_number"
    """Withheld or invalid: the regulator asks for a mobile number."""


@dataclass(frozen=True, slots=True)
class LiveCall:
    """One tagged call as the regulator's screen shows it."""

    call_id: str
    """The id the tag set (``VISIOREGUL_CALLID``: the caller's Linkedid when tagged)."""
    line: str
    caller: CallerNumber
    channel: str
    uniqueid: str
    state: CallState
    started_at: datetime
    position: str | None = None
    """The position that has the call now (or had it last, once ended); None while it rings,
    waits for a regulator or is outside the centre."""
    previous_positions: tuple[str, ...] = ()
    participants: tuple[str, ...] = ()
    """Other positions in the call besides ``position`` (a doctor in a conference)."""
    answered_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def suggested_channel(self) -> SuggestedChannel:
        """SMS for mobiles, e-mail for landlines, asking otherwise."""
        if self.caller.sms_capable:
            return SuggestedChannel.SMS
        if self.caller.kind is NumberKind.LANDLINE:
            return SuggestedChannel.EMAIL
        return SuggestedChannel.ASK_NUMBER


@dataclass(frozen=True, slots=True)
class CallUpdate:
    """A change to a call, published to listeners."""

    event: CallEvent
    call: LiveCall
    """The call after the event."""
    previous: LiveCall | None
    """The call before the event (None for ``call.ringing``)."""


Listener = Callable[[CallUpdate], None]


@dataclass
class LiveCallRegistry:
    """Tagged calls by call id, updated from call events; listeners hear every change."""

    region: str = "FR"
    trunk_format: TrunkFormat = TrunkFormat.AUTO
    """How the trunk writes callers' numbers (``telephony.trunk_format``)."""
    keep_ended: timedelta = timedelta(hours=2)
    _calls: dict[str, LiveCall] = field(default_factory=dict)
    _listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns the function that unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def get(self, call_id: str) -> LiveCall | None:
        """The call with this id, live or recently ended."""
        return self._calls.get(call_id)

    def calls(self, *, position: str | None = None, include_ended: bool = True) -> list[LiveCall]:
        """Calls, oldest first; only those now (or last) at ``position`` when given."""
        self._prune()
        found = [
            call
            for call in self._calls.values()
            if (position is None or call.position == position)
            and (include_ended or call.state is not CallState.ENDED)
        ]
        return sorted(found, key=lambda call: call.started_at)

    def apply(self, event: CallEvent) -> LiveCall | None:
        """Apply one call event; return the updated call (None if the event was for no call)."""
        previous = self._calls.get(event.call_id)
        call = self._next(previous, event)
        if call is None:
            return None
        self._calls[call.call_id] = call
        update = CallUpdate(event=event, call=call, previous=previous)
        for listener in list(self._listeners):
            try:
                listener(update)
            except Exception:  # one broken listener must not starve the others
                log.exception("call listener %r failed", listener)
        return call

    def _next(self, call: LiveCall | None, event: CallEvent) -> LiveCall | None:
        if isinstance(event, CallRinging):
            if call is not None and call.state is not CallState.ENDED:
                return None
            return LiveCall(
                call_id=event.call_id,
                line=event.line,
                caller=parse_caller(event.caller, self.region, self.trunk_format),
                channel=event.channel,
                uniqueid=event.uniqueid,
                state=CallState.RINGING,
                started_at=event.at,
            )
        if call is None or call.state is CallState.ENDED:
            return None
        if isinstance(event, CallAnswered):
            # Taken back by the desk that released it (a conference set up around the call):
            # that desk is the position again, not a previous one.
            previous = call.previous_positions
            if previous[-1:] == (event.position,):
                previous = previous[:-1]
            return replace(
                call,
                state=CallState.ANSWERED,
                position=event.position,
                previous_positions=previous,
                answered_at=call.answered_at or event.at,
            )
        if isinstance(event, CallTransferred):
            return replace(
                call,
                state=CallState.ANSWERED,
                position=event.position,
                answered_at=call.answered_at or event.at,
                previous_positions=_after(call.previous_positions, event.from_position),
            )
        if isinstance(event, CallReleased):
            return replace(
                call,
                state=CallState.TRANSFERRED_OUT if event.outside else CallState.WAITING,
                position=None,
                previous_positions=_after(call.previous_positions, event.from_position),
            )
        if isinstance(event, CallParticipants):
            return replace(call, participants=event.participants)
        if isinstance(event, CallHeld):
            return replace(call, state=CallState.HELD)
        if isinstance(event, CallResumed):
            return replace(call, state=CallState.ANSWERED)
        if isinstance(event, CallEnded):
            return replace(call, state=CallState.ENDED, ended_at=event.at)
        raise TypeError(f"unknown event {event!r}")

    def _prune(self) -> None:
        """Forget calls ended longer than ``keep_ended`` ago."""
        horizon = datetime.now(UTC) - self.keep_ended
        for call_id, call in list(self._calls.items()):
            if call.ended_at is not None and call.ended_at < horizon:
                del self._calls[call_id]


def _after(positions: tuple[str, ...], position: str) -> tuple[str, ...]:
    # A position released, then replaced, is listed once.
    return positions if positions[-1:] == (position,) else (*positions, position)
