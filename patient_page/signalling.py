"""The patient page's WebSocket, ``/p/<token>/ws``: consent facts and the video's offer/answer.

The socket is authenticated by the link itself: its token and the key cookie that ``/p/<token>``
gave the browser that opened it (the cookie is scoped to the link's path, so it comes along).
Anything else is closed at once with code 4401 and no detail.

Messages are JSON objects tagged by ``type``.

Page -> service:
    ``{"type": "camera", "state": "allowed" | "denied" | "unavailable", "detail": str}``
    ``{"type": "offer", "sdp": str}`` (video only, sendonly; a new offer replaces the last)
    ``{"type": "end"}`` (the patient stops the video; the session goes on)
    ``{"type": "ping"}``

Service -> page:
    ``{"type": "welcome", "v": 1, "ice_servers": [...]}`` once connected (``v``: the
    protocol's version; messages from the page may carry it too, another version is refused)
    ``{"type": "answer", "sdp": str}``
    ``{"type": "error", "error_id": str, "message": str}`` (``invalid_message``,
    ``audio_refused``, ``invalid_sdp``...; the socket stays open)
    ``{"type": "ended"}`` when the regulator ends the session (the socket then closes)
    ``{"type": "pong"}``
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Annotated, Final, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from visioregul.integration import appkeys
from visioregul.integration.sessions.services import Actor
from visioregul.integration.sessions.state import SessionFact
from visioregul.integration.video import SESSION_CLOSED
from visioregul.integration.web.errors import ApiError
from visioregul.media import MediaError

from .http import DEVICE_COOKIE

__all__ = ["CLOSE_UNAUTHORIZED", "PROTOCOL_VERSION", "decode", "routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

CLOSE_UNAUTHORIZED = 4401
"""Close code of a socket whose link is not (or no longer) valid for this browser."""
_MAX_MESSAGE = 64 * 1024
"""An offer with every candidate stays well under this."""


PROTOCOL_VERSION: Final = 1
"""Version of the message types; a page may state it (``"v": 1``), another version is refused."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = PROTOCOL_VERSION


class CameraMessage(_Message):
    """What became of the camera request on the phone."""

    type: Literal["camera"]
    state: Literal["allowed", "denied", "unavailable"]
    detail: str = Field(default="", max_length=200, pattern=r"^[^\x00]*$")
    """The browser's error name (``NotAllowedError``...), shown to the regulator (no NUL: the
    timeline's JSON could not hold it on PostgreSQL)."""


class OfferMessage(_Message):
    """The page's offer, with all its ICE candidates."""

    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=_MAX_MESSAGE)


class EndMessage(_Message):
    """The patient stopped the video."""

    type: Literal["end"]


class PingMessage(_Message):
    """Keep-alive."""

    type: Literal["ping"]


PatientMessage = Annotated[
    CameraMessage | OfferMessage | EndMessage | PingMessage, Field(discriminator="type")
]
_ADAPTER: TypeAdapter[PatientMessage] = TypeAdapter(PatientMessage)


def decode(text: str) -> PatientMessage | None:
    """The page's message, or None when it is not one."""
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError:
        return None


@routes.get("/p/{token}/ws")
async def patient_socket(request: web.Request) -> web.StreamResponse:
    """The patient page's signalling socket."""
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=_MAX_MESSAGE)
    await ws.prepare(request)
    service = request.app[appkeys.SESSION_SERVICE]
    opening = await service.check_link(
        request.match_info["token"], request.cookies.get(DEVICE_COOKIE)
    )
    if opening is None or opening.role != "patient":
        await ws.close(code=CLOSE_UNAUTHORIZED)
        return ws
    session_id = opening.session_id
    rooms = request.app[appkeys.ROOMS]
    sockets = request.app[appkeys.PATIENT_SOCKETS]
    actor = Actor(opening.role)
    ended = asyncio.Event()
    closing: set[asyncio.Task[None]] = set()

    async def say_ended() -> None:
        if not ws.closed:
            await ws.send_json({"type": "ended"})
            await ws.close()

    def on_room(kind: str, details: Mapping[str, object]) -> None:
        if kind == SESSION_CLOSED and not ended.is_set():
            ended.set()
            task = asyncio.create_task(say_ended())
            closing.add(task)
            task.add_done_callback(closing.discard)

    stop_listening = rooms.listen(session_id, on_room)
    sockets.add(ws)
    log.info("patient page of session %s connected", session_id)
    try:
        await ws.send_json(
            {
                "type": "welcome",
                "v": PROTOCOL_VERSION,
                "ice_servers": rooms.browser_ice_servers(f"patient-{session_id}"),
            }
        )
        async for message in ws:
            if message.type is not web.WSMsgType.TEXT:
                continue
            reply = await _handle(request, session_id, actor, message.data)
            if reply is not None and not ws.closed:
                await ws.send_json(reply)
    finally:
        stop_listening()
        sockets.discard(ws)
        await asyncio.gather(*closing, return_exceptions=True)
        log.info("patient page of session %s disconnected", session_id)
    return ws


async def _handle(
    request: web.Request, session_id: str, actor: Actor, text: str
) -> dict[str, object] | None:
    """Act on one message; the reply to send, if any."""
    message = decode(text)
    if message is None:
        return _error("invalid_message", "not a message of this page")
    service = request.app[appkeys.SESSION_SERVICE]
    rooms = request.app[appkeys.ROOMS]
    try:
        if isinstance(message, PingMessage):
            return {"type": "pong"}
        if isinstance(message, CameraMessage):
            if message.state == "allowed":
                await service.record(
                    session_id, actor, "camera.allowed", {}, fact=SessionFact.CAMERA_ALLOWED
                )
            else:
                await service.record(
                    session_id, actor, f"camera.{message.state}", {"detail": message.detail}
                )
            return None
        if isinstance(message, OfferMessage):
            answer = await rooms.room(session_id).publish(message.sdp, participant_id="patient")
            return {"type": "answer", "sdp": answer}
        # EndMessage: the patient leaves; only the regulator ends the session.
        await service.record(session_id, actor, "patient.left", {})
        room = rooms.find(session_id)
        if room is not None:
            await room.unpublish()
        return None
    except MediaError as error:
        log.info("session %s: patient's offer refused: %s", session_id, error)
        return _error(error.error_id, error.message)
    except ApiError as error:
        return _error(error.error_id, error.error_id.replace("_", " "))


def _error(error_id: str, message: str) -> dict[str, object]:
    return {"type": "error", "error_id": error_id, "message": message}
