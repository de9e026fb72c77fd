"""The patient's video in a console: subscriptions made over the console's WebSocket.

Console -> service:
    ``{"type": "watch", "session_id": str}``
    ``{"type": "video.answer", "session_id": str, "viewer_id": str, "sdp": str}``
    ``{"type": "unwatch", "session_id": str}``

Service -> console:
    ``{"type": "video.offer", "session_id", "viewer_id", "sdp", "ice_servers"}``: the service
    offers (send-only video); the console answers with ``video.answer``.
    ``{"type": "video.left", "session_id", "viewer_id", "reason"}``: the subscription is gone
    (failed, replaced, codec changed, session closed...); the console may watch again.
    ``{"type": "video.error", "session_id", "error_id"}``: a watch or an answer was refused.

A subscription made before the patient publishes is kept: frames flow once they do. Each
console socket watches a session at most once (a new ``watch`` replaces the last); closing the
socket ends its subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from visioregul.media import MediaError, MediaEvent

from ..errors import DomainError, error_body
from ..i18n import DEFAULT_LANGUAGE, Catalogue, shipped_catalogue
from ..sessions.services import SessionService
from ..sessions.state import FINAL_STATES
from ..video import SESSION_CLOSED, RoomRegistry
from .notifier import Connection

__all__ = ["VIDEO_TYPES", "ConsoleVideo", "decode_video_message"]

log = logging.getLogger(__name__)

_SESSION_ID = Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")
"""No NUL: PostgreSQL refuses it in the lookup (the socket would drop)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WatchMessage(_Message):
    """Show a session's video in this console."""

    type: Literal["watch"]
    session_id: str = _SESSION_ID


class UnwatchMessage(_Message):
    """Stop showing it."""

    type: Literal["unwatch"]
    session_id: str = _SESSION_ID


class AnswerMessage(_Message):
    """The console's answer to a ``video.offer``."""

    type: Literal["video.answer"]
    session_id: str = _SESSION_ID
    viewer_id: str = Field(min_length=1, max_length=128)
    sdp: str = Field(min_length=1, max_length=64 * 1024)


VideoMessage = Annotated[WatchMessage | UnwatchMessage | AnswerMessage, Field(discriminator="type")]
_ADAPTER: TypeAdapter[VideoMessage] = TypeAdapter(VideoMessage)
VIDEO_TYPES = frozenset({"watch", "unwatch", "video.answer"})
"""Message types this module handles."""


def decode_video_message(data: Mapping[str, Any]) -> VideoMessage | None:
    """A video message, or None when it is not a valid one."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError:
        return None


@dataclass
class _Watch:
    viewer_id: str
    stop_listening: Callable[[], None]


@dataclass
class ConsoleVideo:
    """The subscriptions of one console socket."""

    rooms: RoomRegistry
    service: SessionService
    connection: Connection
    username: str
    catalogue: Catalogue = field(default_factory=shipped_catalogue)
    """Where error messages come from (the application's catalogue)."""
    language: str = DEFAULT_LANGUAGE
    """The console's language, for error messages."""
    _watches: dict[str, _Watch] = field(default_factory=dict)

    async def handle(self, data: Mapping[str, Any]) -> None:
        """Act on one video message from the console."""
        message = decode_video_message(data)
        if message is None:
            self.connection.send(
                {"type": "error", "error_id": "invalid_message", "message": "invalid message"}
            )
            return
        try:
            if isinstance(message, WatchMessage):
                await self._watch(message.session_id)
            elif isinstance(message, UnwatchMessage):
                await self._unwatch(message.session_id)
            else:
                await self._answer(message)
        except (MediaError, DomainError) as error:
            self.refuse(message.session_id, error)

    def refuse(self, session_id: str, error: MediaError | DomainError) -> None:
        """Tell the console that a video message about ``session_id`` was refused."""
        body = error_body(error, self.catalogue, self.language)
        self.connection.send(
            {
                "type": "video.error",
                "session_id": session_id,
                "error_id": body["error_id"],
                "message": body["message"],
            }
        )

    async def close(self) -> None:
        """The socket closed: end every subscription."""
        await asyncio.gather(
            *(self._unwatch(session_id) for session_id in list(self._watches)),
            return_exceptions=True,
        )

    async def _watch(self, session_id: str) -> None:
        detail = await self.service.get(session_id)  # SessionNotFound for an unknown id
        if detail.session.state in FINAL_STATES:
            raise MediaError("room_closed", "the session is closed")
        await self._unwatch(session_id)
        room = self.rooms.room(session_id)
        viewer_id = f"{self.username}:{secrets.token_urlsafe(6)}"
        stop = self.rooms.listen(
            session_id, lambda kind, details: self._on_room(session_id, viewer_id, kind, details)
        )
        self._watches[session_id] = _Watch(viewer_id, stop)
        try:
            offer = await room.subscribe(viewer_id)
        except BaseException:
            self._forget(session_id, viewer_id)
            raise
        self.connection.send(
            {
                "type": "video.offer",
                "session_id": session_id,
                "viewer_id": viewer_id,
                "sdp": offer,
                "ice_servers": self.rooms.browser_ice_servers(viewer_id),
            }
        )
        log.info("%s watches session %s as %s", self.username, session_id, viewer_id)

    async def _answer(self, message: AnswerMessage) -> None:
        watch = self._watches.get(message.session_id)
        room = self.rooms.find(message.session_id)
        if watch is None or watch.viewer_id != message.viewer_id or room is None:
            raise MediaError("unknown_subscriber", "no such subscription")
        await room.accept_answer(message.viewer_id, message.sdp)

    async def _unwatch(self, session_id: str) -> None:
        watch = self._watches.pop(session_id, None)
        if watch is None:
            return
        watch.stop_listening()
        room = self.rooms.find(session_id)
        if room is not None:
            await room.unsubscribe(watch.viewer_id)

    def _forget(self, session_id: str, viewer_id: str) -> None:
        watch = self._watches.get(session_id)
        if watch is not None and watch.viewer_id == viewer_id:
            del self._watches[session_id]
            watch.stop_listening()

    def _on_room(
        self, session_id: str, viewer_id: str, kind: str, details: Mapping[str, object]
    ) -> None:
        if kind == SESSION_CLOSED:
            reason = "session_closed"
        elif kind == MediaEvent.SUBSCRIBER_LEFT and details.get("subscriber_id") == viewer_id:
            reason = str(details.get("reason", ""))
            if reason == "unsubscribed":
                return  # the console asked for it
        else:
            return
        self._forget(session_id, viewer_id)
        self.connection.send(
            {
                "type": "video.left",
                "session_id": session_id,
                "viewer_id": viewer_id,
                "reason": reason,
            }
        )
