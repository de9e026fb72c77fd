"""The room's videos in a console: subscriptions made over the console's WebSocket.

A console receives every camera of the room: the patient's and each third party's, one
subscription (and one peer connection) per camera (see :mod:`visioregul.media.room`).

Console -> service:
    ``{"type": "watch", "session_id": str, "publisher_id"?: str}`` every camera of the session
    (or, with ``publisher_id``, that one again after a ``video.left``)
    ``{"type": "video.answer", "session_id": str, "viewer_id": str, "sdp": str}``
    ``{"type": "unwatch", "session_id": str}``

Service -> console:
    ``{"type": "video.offer", "session_id", "viewer_id", "publisher_id", "sdp", "ice_servers"}``:
    the service offers one camera (send-only video); the console answers with ``video.answer``.
    ``publisher_id`` is ``patient`` or ``third_party:<invitation id>``. A third party's camera
    that starts later is offered when it connects.
    ``{"type": "video.left", "session_id", "viewer_id", "publisher_id", "reason"}``: the
    subscription is gone (failed, replaced, codec changed, session closed...); the console may
    watch that camera again. ``reason: publisher_left``: a third party's camera went away (the
    console drops its picture; it is offered again if it comes back).
    ``{"type": "video.error", "session_id", "error_id"}``: a watch or an answer was refused.

A subscription to the patient made before the patient publishes is kept: frames flow once they
do. Each console socket watches a session at most once (a new ``watch`` without
``publisher_id`` replaces the last); closing the socket ends its subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from visioregul.media import MediaError, MediaEvent

from ..errors import DomainError, error_body
from ..i18n import DEFAULT_LANGUAGE, Catalogue, shipped_catalogue
from ..sessions.services import SessionService
from ..sessions.state import FINAL_STATES
from ..video import PATIENT_FEED, ROOM_MOVED, SESSION_CLOSED, THIRD_PARTY_PREFIX, RoomRegistry
from .notifier import Connection

__all__ = ["VIDEO_TYPES", "ConsoleVideo", "decode_video_message"]

log = logging.getLogger(__name__)

_SESSION_ID = Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")
"""No NUL: PostgreSQL refuses it in the lookup (the socket would drop)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WatchMessage(_Message):
    """Show a session's videos in this console (or one of them again)."""

    type: Literal["watch"]
    session_id: str = _SESSION_ID
    publisher_id: str | None = Field(
        default=None, max_length=64, pattern=r"^(patient|third_party:[0-9a-f]{1,32})$"
    )


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
    stop_listening: Callable[[], None]
    viewers: dict[str, str] = field(default_factory=dict)
    """Publisher id to the viewer id of this console's subscription to it."""


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
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

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
                await self._watch(message.session_id, message.publisher_id)
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
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _watch(self, session_id: str, publisher_id: str | None) -> None:
        detail = await self.service.get(session_id)  # SessionNotFound for an unknown id
        if detail.session.state in FINAL_STATES:
            raise MediaError("room_closed", "the session is closed")
        watch = self._watches.get(session_id)
        if publisher_id is not None and watch is not None:
            # One camera again (its subscription left): the others go on.
            await self._subscribe(session_id, watch, publisher_id)
            return
        await self._unwatch(session_id)
        room = self.rooms.room(session_id)
        stop = self.rooms.listen(
            session_id, lambda kind, details: self._on_room(session_id, kind, details)
        )
        watch = self._watches[session_id] = _Watch(stop)
        await self._subscribe(session_id, watch, PATIENT_FEED)
        for publisher in room.publisher_ids:
            if publisher.startswith(THIRD_PARTY_PREFIX):
                # A third party's camera that cannot be offered leaves the patient's alone.
                await self._offer_camera(session_id, watch, publisher)

    async def _subscribe(self, session_id: str, watch: _Watch, publisher_id: str) -> None:
        """Subscribe this console to one camera and send it the offer."""
        room = self.rooms.room(session_id)
        previous = watch.viewers.pop(publisher_id, "")
        if previous:
            await room.unsubscribe(previous)
        viewer_id = f"{self.username}:{secrets.token_urlsafe(6)}"
        watch.viewers[publisher_id] = viewer_id
        try:
            offer = await room.subscribe(viewer_id, publisher_id=publisher_id)
        except BaseException:
            if watch.viewers.get(publisher_id) == viewer_id:
                del watch.viewers[publisher_id]
            if publisher_id == PATIENT_FEED:
                self._forget(session_id, watch)
            raise
        if (
            self._watches.get(session_id) is not watch
            or watch.viewers.get(publisher_id) != viewer_id
        ):
            await room.unsubscribe(viewer_id)  # unwatched meanwhile
            return
        self.connection.send(
            {
                "type": "video.offer",
                "session_id": session_id,
                "viewer_id": viewer_id,
                "publisher_id": publisher_id,
                "sdp": offer,
                "ice_servers": self.rooms.browser_ice_servers(viewer_id),
            }
        )
        log.info(
            "%s watches %s of session %s as %s", self.username, publisher_id, session_id, viewer_id
        )

    async def _answer(self, message: AnswerMessage) -> None:
        watch = self._watches.get(message.session_id)
        room = self.rooms.find(message.session_id)
        if watch is None or message.viewer_id not in watch.viewers.values() or room is None:
            raise MediaError("unknown_subscriber", "no such subscription")
        await room.accept_answer(message.viewer_id, message.sdp)

    async def _unwatch(self, session_id: str) -> None:
        watch = self._watches.pop(session_id, None)
        if watch is None:
            return
        watch.stop_listening()
        viewers = list(watch.viewers.values())
        watch.viewers.clear()
        room = self.rooms.find(session_id)
        if room is not None:
            await asyncio.gather(*(room.unsubscribe(viewer) for viewer in viewers))

    def _forget(self, session_id: str, watch: _Watch) -> None:
        if self._watches.get(session_id) is watch:
            del self._watches[session_id]
            watch.stop_listening()

    def _later(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _offer_camera(self, session_id: str, watch: _Watch, publisher_id: str) -> None:
        try:
            await self._subscribe(session_id, watch, publisher_id)
        except (MediaError, DomainError) as error:
            log.info("%s: camera %s not offered: %s", self.username, publisher_id, error)

    def _left(self, session_id: str, viewer_id: str, publisher_id: str, reason: str) -> None:
        self.connection.send(
            {
                "type": "video.left",
                "session_id": session_id,
                "viewer_id": viewer_id,
                "publisher_id": publisher_id,
                "reason": reason,
            }
        )

    def _on_room(self, session_id: str, kind: str, details: Mapping[str, object]) -> None:
        watch = self._watches.get(session_id)
        if watch is None:
            return
        if kind in (SESSION_CLOSED, ROOM_MOVED):
            # Closed, or held by another instance now (``moved``: the console watches again,
            # and finds the room where it is).
            reason = "session_closed" if kind == SESSION_CLOSED else "moved"
            self._forget(session_id, watch)
            for publisher_id, viewer_id in list(watch.viewers.items()):
                self._left(session_id, viewer_id, publisher_id, reason)
            watch.viewers.clear()
            return
        participant = str(details.get("participant_id", ""))
        if kind == MediaEvent.PUBLISHER_CONNECTED and participant.startswith(THIRD_PARTY_PREFIX):
            if participant not in watch.viewers:
                # A third party's camera came: offer it to this console too.
                watch.viewers[participant] = ""
                self._later(self._offer_camera(session_id, watch, participant))
        elif kind in (MediaEvent.PUBLISHER_DISCONNECTED, MediaEvent.PUBLISHER_FAILED):
            if not participant.startswith(THIRD_PARTY_PREFIX):
                return  # the patient's subscription stays: it resumes when the patient returns
            if details.get("reason") == "replaced":
                return
            viewer_id = watch.viewers.pop(participant, "")
            if viewer_id:
                self._left(session_id, viewer_id, participant, "publisher_left")
                room = self.rooms.find(session_id)
                if room is not None:
                    self._later(room.unsubscribe(viewer_id))
        elif kind == MediaEvent.SUBSCRIBER_LEFT:
            viewer_id = str(details.get("subscriber_id", ""))
            reason = str(details.get("reason", ""))
            for publisher_id, mine in list(watch.viewers.items()):
                if mine == viewer_id and reason != "unsubscribed":
                    del watch.viewers[publisher_id]
                    self._left(session_id, viewer_id, publisher_id, reason)
