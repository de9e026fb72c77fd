"""Call updates out: to the consoles bound to a position, and to the CAD's event stream.

The registry publishes every change; this module decides who hears what and puts JSON messages
on each connection's bounded queue. A connection that cannot keep up is told to resync (its
queue is closed) rather than slowing everyone else down.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, web

from ..centres import CentreDirectory
from ..sessions.services import SessionUpdate
from ..telephony.events import CallAnswered, CallReleased, CallRinging, CallTransferred
from ..telephony.link import LinkStatus
from ..telephony.registry import CallUpdate, LiveCall
from .schemas import call_json, event_json, link_json, session_json

__all__ = ["Connection", "Notifier", "send_queued"]

log = logging.getLogger(__name__)

QUEUE_SIZE = 256


@dataclass(eq=False)
class Connection:
    """One listening WebSocket: a console bound to a position, or the CAD (``position=None``)."""

    position: str | None
    centre_id: int | None = None
    """The centre whose calls and sessions this listener follows; None: every call and no
    session."""
    sessions: bool = True
    """Whether it hears session updates (of its centre): not a CAD key that acts for nobody."""
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    overflowed: bool = False

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; on overflow, mark the connection so its handler closes it."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            log.warning("listener at %s too slow: closing it so it resyncs", self.position)


@dataclass
class Notifier:
    """Fans call updates and link changes out to consoles and CAD listeners; a call goes to
    the listeners of its centre only."""

    centres: CentreDirectory | None = None
    """Tells each call's centre; None: a single centre (every listener hears every call)."""
    consoles: dict[str, set[Connection]] = field(default_factory=dict)
    cad: set[Connection] = field(default_factory=set)

    def hears(self, connection: Connection, call: LiveCall) -> bool:
        """Whether ``connection`` may know of ``call``: a listener with a centre hears that
        centre's calls only."""
        if self.centres is None or connection.centre_id is None:
            return True
        return self.centres.of_call(call) == connection.centre_id

    def attach(self, connection: Connection) -> None:
        """Start sending to ``connection``."""
        if connection.position is None:
            self.cad.add(connection)
        else:
            self.consoles.setdefault(connection.position, set()).add(connection)

    def detach(self, connection: Connection) -> None:
        """Stop sending to ``connection`` (idempotent)."""
        if connection.position is None:
            self.cad.discard(connection)
            return
        listeners = self.consoles.get(connection.position)
        if listeners is not None:
            listeners.discard(connection)
            if not listeners:
                del self.consoles[connection.position]

    def on_call(self, update: CallUpdate) -> None:
        """Registry listener: route one call update."""
        live = update.call
        call = call_json(live)
        event = update.event
        # A centre whose desk had the call hears it leave (to another centre's desk).
        before = update.previous if isinstance(event, CallTransferred | CallReleased) else None
        for connection in list(self.cad):
            if self.hears(connection, live) or (before and self.hears(connection, before)):
                connection.send({"type": event.type, "call": call})
        if isinstance(event, CallRinging):
            return  # nobody has it yet
        if isinstance(event, CallAnswered):
            self._to_position(event.position, live, {"type": "offer", "call": call})
        elif isinstance(event, CallTransferred):
            # The desk it leaves hears of it as the call was (a call on a line no centre claims
            # may move to another centre's desk).
            self._to_position(
                event.from_position, before or live, {"type": "call.moved", "call": call}
            )
            self._to_position(event.position, live, {"type": "offer", "call": call})
        elif isinstance(event, CallReleased):
            # Waiting for a regulator, or out of the centre: the last position sees it go.
            self._to_position(
                event.from_position, before or live, {"type": "call.updated", "call": call}
            )
        elif live.position is not None:
            self._to_position(live.position, live, {"type": "call.updated", "call": call})

    def on_session(self, update: SessionUpdate) -> None:
        """Session listener: the consoles at the session's position follow it live, and the CAD
        listeners of its centre."""
        session = update.session
        message = {
            "type": "session.updated",
            "session": session_json(session),
            "event": event_json(update.event),
        }
        if session.position is not None:
            for connection in list(self.consoles.get(session.position, ())):
                if connection.centre_id == session.centre_id:
                    connection.send(message)
        for connection in list(self.cad):
            if connection.sessions and connection.centre_id == session.centre_id:
                connection.send(message)

    def on_link(self, status: LinkStatus) -> None:
        """Link status listener: every console shows the telephony pill."""
        message = {"type": "telephony", **link_json(status)}
        for listeners in list(self.consoles.values()):
            for connection in list(listeners):
                connection.send(message)
        for connection in list(self.cad):
            connection.send(message)

    def resync(self) -> None:
        """Session updates of other instances may have been missed (the store's notices were
        unheard for a while): every console reads its sessions again, its video untouched."""
        for listeners in list(self.consoles.values()):
            for connection in list(listeners):
                connection.send({"type": "resync"})

    def _to_position(self, position: str, call: LiveCall, message: dict[str, Any]) -> None:
        for connection in list(self.consoles.get(position, ())):
            if self.hears(connection, call):
                connection.send(message)


async def send_queued(ws: web.WebSocketResponse, connection: Connection) -> None:
    """Write a connection's queued messages to its WebSocket until either ends."""
    while not ws.closed:
        message = await connection.queue.get()
        if message is None:  # the service is shutting down
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"shutdown")
            return
        if connection.overflowed:
            # Too slow to keep up: close; the client reconnects and gets a fresh snapshot.
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"resync")
            return
        await ws.send_json(message)
