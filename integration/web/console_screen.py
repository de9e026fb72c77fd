"""The regulator's screen shared with the patient, over the console's WebSocket.

Console -> service:
    ``{"type": "screen.prepare", "session_id": str}``: the console is about to share; the
    service answers ``screen.ready`` with the ICE servers of its connection.
    ``{"type": "screen.start", "session_id": str, "sdp": str}``: the console's offer, one
    ``sendonly`` video track from ``getDisplayMedia`` (never a camera, never audio).
    ``{"type": "screen.stop", "session_id": str}``: the regulator stopped sharing (the button,
    or the browser's own "stop sharing").

Service -> console:
    ``{"type": "screen.ready", "session_id", "ice_servers"}``
    ``{"type": "screen.answer", "session_id", "sdp"}``: the share is live.
    ``{"type": "screen.stopped", "session_id", "reason"}``: the share ended (asked, replaced,
    connection lost, session ended).
    ``{"type": "screen.error", "session_id", "error_id", "message"}``: refused (another console
    shares, the session is closed, the offer is not a video-only one...).

Closing the socket ends its shares.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from visioregul.media import MediaError

from ..errors import DomainError, RefusalError, error_body
from ..i18n import DEFAULT_LANGUAGE, Catalogue, shipped_catalogue
from ..screen_share import ScreenShares
from ..sessions.journal import Actor
from .notifier import Connection

__all__ = ["SCREEN_TYPES", "ConsoleScreen", "decode_screen_message"]

log = logging.getLogger(__name__)

_SESSION_ID = Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrepareMessage(_Message):
    """The console is about to share: it needs the ICE servers."""

    type: Literal["screen.prepare"]
    session_id: str = _SESSION_ID


class StartMessage(_Message):
    """The console's offer: its screen, video only."""

    type: Literal["screen.start"]
    session_id: str = _SESSION_ID
    sdp: str = Field(min_length=1, max_length=64 * 1024)


class StopMessage(_Message):
    """The regulator stopped sharing."""

    type: Literal["screen.stop"]
    session_id: str = _SESSION_ID


ScreenMessage = Annotated[PrepareMessage | StartMessage | StopMessage, Field(discriminator="type")]
_ADAPTER: TypeAdapter[ScreenMessage] = TypeAdapter(ScreenMessage)
SCREEN_TYPES = frozenset({"screen.prepare", "screen.start", "screen.stop"})
"""Message types this module handles."""


def decode_screen_message(data: Mapping[str, Any]) -> ScreenMessage | None:
    """A screen-share message, or None when it is not a valid one."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError:
        return None


@dataclass
class ConsoleScreen:
    """The screen shares of one console socket."""

    shares: ScreenShares
    connection: Connection
    actor: Actor
    catalogue: Catalogue = field(default_factory=shipped_catalogue)
    language: str = DEFAULT_LANGUAGE
    _stops: dict[str, Callable[[], None]] = field(default_factory=dict)

    async def handle(self, data: Mapping[str, Any]) -> None:
        """Act on one ``screen.*`` message from the console."""
        message = decode_screen_message(data)
        if message is None:
            session_id = data.get("session_id")
            self.refuse(
                session_id if isinstance(session_id, str) else "", DomainError("invalid_message")
            )
            return
        try:
            if isinstance(message, PrepareMessage):
                await self._prepare(message.session_id)
            elif isinstance(message, StartMessage):
                await self._start(message)
            elif await self.shares.stop(message.session_id, self):
                self._stopped(message.session_id, "stopped")
        except (MediaError, DomainError) as error:
            log.info("session %s: screen share refused: %s", message.session_id, error.error_id)
            self.refuse(message.session_id, error)

    def refuse(self, session_id: str, error: RefusalError) -> None:
        """Tell the console that its screen message about ``session_id`` was refused, and why."""
        body = error_body(error, self.catalogue, self.language)
        self.connection.send(
            {
                "type": "screen.error",
                "session_id": session_id,
                "error_id": body["error_id"],
                "message": body["message"],
            }
        )

    async def close(self) -> None:
        """The socket closed: its shares end."""
        for stop in self._stops.values():
            stop()
        self._stops.clear()
        await self.shares.stop_all(self, "console_left")

    async def _prepare(self, session_id: str) -> None:
        await self.shares.prepare(session_id, self)
        self.connection.send(
            {
                "type": "screen.ready",
                "session_id": session_id,
                "ice_servers": self.shares.browser_ice_servers(f"{self.actor.name}-screen"),
            }
        )

    async def _start(self, message: StartMessage) -> None:
        answer = await self.shares.start(message.session_id, self.actor, self, message.sdp)
        if message.session_id not in self._stops:
            self._stops[message.session_id] = self.shares.listen(
                message.session_id,
                lambda kind, details: self._on_share(message.session_id, kind, details),
            )
        self.connection.send(
            {"type": "screen.answer", "session_id": message.session_id, "sdp": answer}
        )

    def _on_share(self, session_id: str, kind: str, details: Mapping[str, object]) -> None:
        # Another console's share cannot start while this one's runs: a stop is this one's.
        if kind == "stopped":
            reason = str(details.get("reason", ""))
            if reason != "stopped":
                self._stopped(session_id, reason)
            stop = self._stops.pop(session_id, None)
            if stop is not None:
                stop()

    def _stopped(self, session_id: str, reason: str) -> None:
        self.connection.send({"type": "screen.stopped", "session_id": session_id, "reason": reason})
