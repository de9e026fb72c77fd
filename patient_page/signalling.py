"""The patient page's WebSocket, ``/p/<token>/ws``: consent facts and the video's offer/answer.

The same socket serves a third party's page (a relative, a doctor on the way), with the link's
role deciding what it may send (:data:`~visioregul.integration.authorization.LINK_ROLES`): a third
party publishes its own camera under its own participant id (``third_party:<invitation id>``),
never answers a command nor writes, and watches the patient's video only when the regulator
allowed it for that invitation. Its leaving (``end``) is in the session's log.

The socket is authenticated by the link itself: its token and the key cookie that ``/p/<token>``
gave the browser (the cookie is scoped to the link's path, so it comes along). Connecting opens
the link in this browser (``link.opened``, or ``link.taken_over`` from another browser, which is
told so); once this browser's video reaches the relay, the link is bound to it. A link that is
not valid for this browser is closed at once with code 4401 and no detail.

Messages are JSON objects tagged by ``type``.

Page -> service:
    ``{"type": "camera", "state": "allowed" | "denied" | "unavailable", "detail": str}``
    ``{"type": "offer", "sdp": str}`` (video only, sendonly; a new offer replaces the last)
    ``{"type": "candidate", "ufrag": str, "candidate": str | null, "mid": str | null}`` an ICE
    candidate of that offer gathered after it went (trickle ICE; ``null``: gathering ended);
    ``ufrag`` is the offer's: a candidate of a replaced offer is ignored
    ``{"type": "end"}`` (the patient stops the video; the session goes on)
    ``{"type": "text", "text": str}`` (the patient's typed answer, 500 characters at most)
    ``{"type": "ping"}``
    ``{"type": "camera.state", "state": {...}}`` what the camera can do and how it is set, when
    it starts and after each change (``remote_control.CameraState``)
    ``{"type": "command.result", "id": str, "ok": bool, "state": {...}, "error": str}`` the
    answer to a regulator's command
    ``{"type": "location.result", "id": str, "fix": {...} | null, "error": str, "follow": bool}``
    the answer to a position request; ``location.update`` (``fix``) while followed;
    ``location.stopped`` when the patient stops sharing (see ``sessions.location``)
    ``{"type": "photo_mode", "reason": "no_frames" | "weak_link"}`` the page stopped its video
    and sends photos instead (no frame reached the service, or its link is too weak for
    video); ``{"type": "photo_mode_ended"}`` the video goes again (the patient's page only;
    recorded as ``video.photo_mode`` / ``video.photo_mode_ended``)
    ``{"type": "watch"}`` a third party allowed to see the patient asks for the patient's video;
    ``{"type": "video.answer", "viewer_id": str, "sdp": str}`` its answer to ``video.offer``
    ``{"type": "path", ...}`` / ``{"type": "no_path", "reason": str}`` the network path the
    page's own video took, or why it found none (see :mod:`.netpath`)

Service -> page:
    ``{"type": "welcome", "v": 1, "ice_servers": [...], "role": "patient" | "third_party",
    "sees_patient": bool, "trickle": true}`` once connected (``trickle``: candidates may follow
    the offer; ``v``: the protocol's version; messages from the page
    may carry it too, another version is refused; ``sees_patient``: a third party may watch)
    ``{"type": "answer", "sdp": str}``
    ``{"type": "video_live"}`` the service received the first frame of this page's video (the
    page waits for it before saying the regulator sees the picture, and switches to photos
    when it does not come)
    ``{"type": "error", "error_id": str, "message": str}`` (``invalid_message``,
    ``audio_refused``, ``invalid_sdp``...; the socket stays open)
    ``{"type": "ended"}`` when the regulator ends the session (the socket then closes)
    ``{"type": "taken_over"}`` when another browser opened the link before this one's video
    was published (the socket then closes with code 4409; the page says so)
    ``{"type": "pong"}``
    ``{"type": "text", "from": "regulator" | "patient", "text": str, "at": str}`` each typed
    message of the session, both ways, once it is in the session's log
    ``{"type": "command", "v": 1, "id": str, "name": "switch_camera" | "torch" | "zoom" |
    "photo", "value": ...}`` a regulator's command; the page answers with ``command.result``
    (for ``photo``, once taken; the photo itself goes over HTTP, ``POST /p/<token>/documents``)
    ``{"type": "document", "document": {...}}`` a document or photo of the session, either way,
    once it is kept (the page lists and downloads them over HTTP)
    ``{"type": "video.offer", "viewer_id", "sdp", "ice_servers"}`` / ``{"type": "video.left",
    "viewer_id", "reason"}`` the patient's video for a third party that watches
    ``{"type": "location.ask", "v": 1, "id": str, "follow": bool}`` a position request;
    ``{"type": "location.stop", "v": 1}`` the regulator stopped following

The regulator's shared screen (``screen.*`` both ways) is described in :mod:`.screen`.
The page's reports of its own browser and reconnections (``browser_unsupported``,
``reconnecting``) are described in :mod:`.reports`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any, Final, Literal

from aiohttp import WSCloseCode, web
from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from visioregul.integration import appkeys
from visioregul.integration.authorization import (
    PATIENT_SOCKET,
    NotAllowed,
    check_link_role,
    message_rule,
)
from visioregul.integration.documents import Document
from visioregul.integration.errors import DomainError, RefusalError, error_body
from visioregul.integration.language import browser_language
from visioregul.integration.sessions.journal import Actor
from visioregul.integration.sessions.links import PATIENT, THIRD_PARTY, LinkOpening
from visioregul.integration.sessions.location import LocationUnasked
from visioregul.integration.sessions.models import SessionEvent
from visioregul.integration.sessions.remote_control import CameraState, CommandOutcome
from visioregul.integration.sessions.state import SessionFact
from visioregul.integration.sessions.texts import TEXT_SENT
from visioregul.integration.video import ROOM_MOVED, SESSION_CLOSED
from visioregul.media import MAX_CANDIDATE_LENGTH, MediaError, MediaEvent

from .documents import page_json
from .http import DEVICE_COOKIE
from .netpath import NoPathMessage, PathMessage, PathReports
from .reports import PageReport, PageReports, decode_report
from .screen import PatientScreen, ScreenMessage, decode_screen
from .watching import PatientWatch

__all__ = [
    "CLOSE_MOVED",
    "CLOSE_TAKEN_OVER",
    "CLOSE_UNAUTHORIZED",
    "PROTOCOL_VERSION",
    "decode",
    "routes",
]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

CLOSE_UNAUTHORIZED = 4401
"""Close code of a socket whose link is not (or no longer) valid for this browser."""
CLOSE_MOVED = 1012
"""Close code of a socket whose room left this instance (``service restart``): the page
reconnects at once and finds the room where it is now."""
CLOSE_TAKEN_OVER = 4409
"""Close code of a socket whose link another browser opened since (before any binding)."""
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
    """The page's offer, with the ICE candidates gathered when it went."""

    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=_MAX_MESSAGE)


class CandidateMessage(_Message):
    """An ICE candidate of the page's offer, gathered after the offer went (None: the last)."""

    type: Literal["candidate"]
    ufrag: str = Field(min_length=1, max_length=256)
    candidate: str | None = Field(max_length=MAX_CANDIDATE_LENGTH)
    mid: str | None = Field(default=None, max_length=32)


class EndMessage(_Message):
    """The patient stopped the video."""

    type: Literal["end"]


class TextMessage(_Message):
    """The patient's typed answer (cleaned and bounded by the session domain)."""

    type: Literal["text"]
    text: str = Field(max_length=2000)


class PingMessage(_Message):
    """Keep-alive."""

    type: Literal["ping"]


class CameraStateMessage(_Message):
    """What the camera can do and how it is set."""

    type: Literal["camera.state"]
    state: CameraState


class CommandResultMessage(_Message):
    """The page's answer to a regulator's command."""

    type: Literal["command.result"]
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    ok: bool
    state: CameraState | None = None
    error: str = Field(default="", max_length=64, pattern=r"^[a-z_]*$")


class LocationResultMessage(_Message):
    """The page's answer to a position request: a fix, or why there is none."""

    type: Literal["location.result"]
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    fix: dict[str, JsonValue] | None = Field(default=None, max_length=8)
    """Checked by the domain (absurd values get ``invalid_location``)."""
    error: str = Field(default="", max_length=32, pattern=r"^[a-z_]*$")
    follow: bool = False
    """The patient agreed to be followed."""


class LocationUpdateMessage(_Message):
    """A fix while the patient lets the regulator follow."""

    type: Literal["location.update"]
    fix: dict[str, JsonValue] = Field(max_length=8)


class LocationStoppedMessage(_Message):
    """The patient stopped sharing their position."""

    type: Literal["location.stopped"]


class PhotoModeMessage(_Message):
    """The page stopped its video and sends photos instead."""

    type: Literal["photo_mode"]
    reason: Literal["no_frames", "weak_link"]


class PhotoModeEndedMessage(_Message):
    """The page's video goes again: no more photos by themselves."""

    type: Literal["photo_mode_ended"]


class WatchMessage(_Message):
    """A third party asks for the patient's video."""

    type: Literal["watch"]


class VideoAnswerMessage(_Message):
    """A third party's answer to the service's ``video.offer``."""

    type: Literal["video.answer"]
    viewer_id: str = Field(min_length=1, max_length=128)
    sdp: str = Field(min_length=1, max_length=_MAX_MESSAGE)


PatientMessage = Annotated[
    CameraMessage
    | WatchMessage
    | VideoAnswerMessage
    | OfferMessage
    | CandidateMessage
    | EndMessage
    | PingMessage
    | TextMessage
    | CameraStateMessage
    | CommandResultMessage
    | LocationResultMessage
    | LocationUpdateMessage
    | LocationStoppedMessage
    | PathMessage
    | NoPathMessage
    | PhotoModeMessage
    | PhotoModeEndedMessage,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[PatientMessage] = TypeAdapter(PatientMessage)


def _text_message(event: SessionEvent) -> dict[str, object]:
    """The page's message for a typed message of the session's log, either way."""
    return {
        "type": "text",
        "from": "regulator" if event.type == TEXT_SENT else "patient",
        "text": str(event.details.get("text", "")),
        "at": event.at.isoformat(),
    }


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
    connection = _PatientConnection(request, ws)
    await connection.run()
    return ws


class _PatientConnection:
    """One page's socket: opens the link in its browser, relays its messages, binds the link
    once its video reaches the relay, and lets go when another browser takes the link."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.request = request
        self.ws = ws
        self.service = request.app[appkeys.SESSION_SERVICE]
        self.rooms = request.app[appkeys.ROOMS]
        self.gone = asyncio.Event()
        """Set when the session ended or another browser took the link: say so, then close."""
        self.published = False
        """This socket's offer was answered: its participant's next first frame is this
        browser's."""
        self.binding = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.opening: LinkOpening | None = None
        self.participant_id = PATIENT
        """Whose camera this page publishes: the patient, or ``third_party:<invitation id>``."""
        self.watch: PatientWatch | None = None
        """A third party's subscription to the patient's video."""
        self.paths: PathReports | None = None
        """This page's reports of its own video's network path."""
        self.reports: PageReports | None = None
        """What the page says of its browser and its reconnections."""

    @property
    def role(self) -> str:
        """The link's role (``patient`` or ``third_party``)."""
        return self.opening.role if self.opening else PATIENT

    async def run(self) -> None:
        """Open the link, then serve the page until either side closes."""
        opening = await self.service.links.open(
            self.request.match_info["token"],
            self.request.cookies.get(DEVICE_COOKIE),
            role=None,
            on_taken_over=self._on_taken_over,
        )
        if opening is None:
            await self.ws.close(code=CLOSE_UNAUTHORIZED)
            return
        self.opening = opening
        session_id = opening.session_id
        self.reports = PageReports(self.service, session_id)
        third_party = opening.role == THIRD_PARTY
        if third_party:
            self.participant_id = f"{THIRD_PARTY}:{opening.invitation_id}"
        self.paths = PathReports(self.service, session_id, self.participant_id, self._service_view)
        if third_party:
            self.watch = PatientWatch(
                self.rooms, session_id, opening.invitation_id, self._send, self._later
            )
        if opening.taken_over:
            # The browser left behind may be sending already: its video is not this link's any
            # more, and its first frame must not bind the link to it.
            room = self.rooms.find(session_id)
            if room is not None:
                await room.unpublish(self.participant_id)
        stop_listening = self.rooms.listen(
            session_id, lambda kind, details: self._on_room(opening, kind, details)
        )
        texts = self.request.app[appkeys.TEXTS]
        stop_texts: Callable[[], None] = lambda: None  # noqa: E731
        stop_documents: Callable[[], None] = lambda: None  # noqa: E731
        detach_remote: Callable[[], None] = lambda: None  # noqa: E731
        if not third_party:
            # Texts, documents and commands are the patient's: a third party's phone is never
            # controlled.
            texts.page_language(session_id, browser_language(self.request))
            stop_texts = texts.listen(session_id, self._on_text)
            stop_documents = self.request.app[appkeys.DOCUMENTS].listen(
                session_id, self._on_document
            )
            detach_remote = self.request.app[appkeys.REMOTE_CONTROL].attach(
                session_id, self._send_command
            )
        sockets = self.request.app[appkeys.PATIENT_SOCKETS]
        sockets.add(self.ws)
        screen = PatientScreen(
            self.request.app[appkeys.SCREEN_SHARES], session_id, opening.role, self._send
        )
        detach_location: Callable[[], None] = lambda: None  # noqa: E731
        if not third_party:
            # Only the patient's phone is located.
            detach_location = self.request.app[appkeys.LOCATOR].attach(
                session_id, self._send_command
            )
        log.info("%s page of session %s connected", opening.role, session_id)
        try:
            await self.ws.send_json(
                {
                    "type": "welcome",
                    "v": PROTOCOL_VERSION,
                    "ice_servers": self.rooms.browser_ice_servers(
                        f"{self.participant_id}-{session_id}"
                    ),
                    "role": opening.role,
                    "sees_patient": opening.sees_patient,
                    "trickle": True,
                }
            )
            screen.greet()
            if not third_party:
                # A page that connects again missed what its old socket could not carry: the
                # regulator's newest message (the page shows it once, known by its time).
                latest = await texts.latest_from_regulator(session_id)
                if latest is not None:
                    await self.ws.send_json(_text_message(latest))
            async for message in self.ws:
                if message.type is not web.WSMsgType.TEXT or self.gone.is_set():
                    continue
                shown = decode_screen(message.data)
                report = decode_report(message.data) if shown is None else None
                if shown is not None:
                    reply = await _handle_screen(self.request, screen, shown)
                elif report is not None:
                    reply = await _handle_report(self, report)
                else:
                    reply = await _handle(self, session_id, message.data)
                if reply is not None and reply.get("type") == "answer":
                    self.published = True
                if reply is not None and not self.ws.closed:
                    await self.ws.send_json(reply)
        finally:
            opening.release()
            detach_remote()
            detach_location()
            stop_listening()
            stop_texts()
            await screen.close()
            stop_documents()
            sockets.discard(self.ws)
            if self.watch is not None:
                await asyncio.gather(self.watch.stop(), return_exceptions=True)
            await asyncio.gather(*self.tasks, return_exceptions=True)
            log.info("%s page of session %s disconnected", opening.role, session_id)

    def _service_view(self) -> str | None:
        """The type of this page's candidate in the pair the service's end nominated."""
        room = self.opening and self.rooms.find(self.opening.session_id)
        return room.publisher_remote_type(self.participant_id) if room else None

    def _later(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send_command(self, message: dict[str, object]) -> None:
        """A regulator's command to this page (ConnectionError when the page is gone)."""
        if self.ws.closed or self.gone.is_set():
            raise ConnectionError("the patient page is gone")
        await self.ws.send_json(message)

    async def _close(self, code: int) -> None:
        await self.ws.close(code=code)

    async def _say(self, message: dict[str, object], code: int) -> None:
        if not self.ws.closed:
            await self.ws.send_json(message)
            await self.ws.close(code=code)

    def _on_text(self, event: SessionEvent) -> None:
        """A typed message of this session, either way, is in its log: show it on the page."""
        self._later(self._send(_text_message(event)))

    def _on_document(self, document: Document) -> None:
        """A document of this session is kept, either way: the page lists it."""
        body = page_json(self.request.match_info["token"], document)
        self._later(self._send({"type": "document", "document": body}))

    async def _send(self, message: dict[str, object]) -> None:
        if not self.ws.closed and not self.gone.is_set():
            await self.ws.send_json(message)

    def _on_taken_over(self) -> None:
        if not self.gone.is_set():
            self.gone.set()
            self._later(self._say({"type": "taken_over"}, CLOSE_TAKEN_OVER))

    def _on_room(self, opening: LinkOpening, kind: str, details: Mapping[str, object]) -> None:
        if kind == SESSION_CLOSED and not self.gone.is_set():
            self.gone.set()
            self._later(self._say({"type": "ended"}, WSCloseCode.OK))
        elif kind == ROOM_MOVED and not self.gone.is_set():
            # Another instance holds the room now: the page reconnects and finds it there.
            self.gone.set()
            self._later(self._close(CLOSE_MOVED))
        elif (
            kind in (MediaEvent.PUBLISHER_STALLED, MediaEvent.PUBLISHER_RESUMED)
            and details.get("participant_id") == self.participant_id
        ):
            # Its own picture froze (or moves again): the page stops saying it is seen.
            stalled = kind == MediaEvent.PUBLISHER_STALLED
            self._later(self._send({"type": "video_stalled" if stalled else "video_resumed"}))
        elif (
            kind == MediaEvent.FIRST_FRAME
            and details.get("participant_id") == self.participant_id
            and self.published
            and not self.binding
        ):
            self.binding = True
            self._later(self._bind(opening))
        if (
            kind == MediaEvent.FIRST_FRAME
            and details.get("participant_id") == self.participant_id
            and self.published
        ):
            self._later(self._send({"type": "video_live"}))

    async def _bind(self, opening: LinkOpening) -> None:
        try:
            bound = await self.service.links.bind(opening.invitation_id, opening.device_key)
        except Exception:  # the video goes on; the next publication tries again
            log.exception("session %s: binding the link failed", opening.session_id)
            bound = False
        if not bound:
            self.binding = False


async def _handle(
    connection: _PatientConnection, session_id: str, text: str
) -> dict[str, object] | None:
    """Act on one message; the reply to send, if any."""
    request = connection.request
    message = decode(text)
    # The link opened the socket for its session alone; a type without a rule is refused.
    if message is None or message_rule(PATIENT_SOCKET, message.type) is None:
        return _error(request, DomainError("invalid_message"))
    service = request.app[appkeys.SESSION_SERVICE]
    rooms = request.app[appkeys.ROOMS]
    role = connection.role
    actor = Actor(role)
    opening = connection.opening
    assert opening is not None
    try:
        check_link_role(message.type, role)
        if isinstance(message, PingMessage):
            return {"type": "pong"}
        if isinstance(message, CameraMessage):
            if role == THIRD_PARTY:
                # A third party's camera says nothing of the patient's: no state change.
                details = {"invitation_id": opening.invitation_id, "state": message.state}
                if message.detail:
                    details["detail"] = message.detail
                await service.record(session_id, actor, "third_party.camera", details)
            elif message.state == "allowed":
                await service.record(
                    session_id, actor, "camera.allowed", {}, fact=SessionFact.CAMERA_ALLOWED
                )
            else:
                await service.record(
                    session_id, actor, f"camera.{message.state}", {"detail": message.detail}
                )
            return None
        if isinstance(message, TextMessage):
            await request.app[appkeys.TEXTS].answer(session_id, actor, message.text)
            return None
        if isinstance(message, CameraStateMessage):
            request.app[appkeys.REMOTE_CONTROL].report(session_id, message.state)
            return None
        if isinstance(message, CommandResultMessage):
            outcome = CommandOutcome(message.ok, message.state, message.error)
            request.app[appkeys.REMOTE_CONTROL].answer(session_id, message.id, outcome)
            return None
        if isinstance(message, LocationResultMessage | LocationUpdateMessage):
            if actor.name != "patient":
                raise LocationUnasked()  # only the patient's phone is located
            locator = request.app[appkeys.LOCATOR]
            if isinstance(message, LocationResultMessage):
                locator.answer(
                    session_id,
                    message.id,
                    fix=message.fix,
                    error=message.error,
                    follow=message.follow,
                )
            else:
                await locator.update(session_id, message.fix)
            return None
        if isinstance(message, PhotoModeMessage):
            await service.record(session_id, actor, "video.photo_mode", {"reason": message.reason})
            return None
        if isinstance(message, PhotoModeEndedMessage):
            await service.record(session_id, actor, "video.photo_mode_ended", {})
            return None
        if isinstance(message, LocationStoppedMessage):
            await request.app[appkeys.LOCATOR].patient_stopped(session_id, actor)
            return None
        if isinstance(message, OfferMessage):
            answer = await rooms.room(session_id).publish(
                message.sdp, participant_id=connection.participant_id
            )
            return {"type": "answer", "sdp": answer}
        if isinstance(message, CandidateMessage):
            await rooms.room(session_id).add_publisher_candidate(
                connection.participant_id, message.ufrag, message.candidate, message.mid
            )
            return None
        if isinstance(message, PathMessage | NoPathMessage):
            # Always about this page's own publication: recorded under its participant.
            assert connection.paths is not None
            await connection.paths.report(actor, message)
            return None
        if isinstance(message, WatchMessage):
            if not opening.sees_patient or connection.watch is None:
                raise NotAllowed()  # the regulator did not allow this third party to see
            await connection.watch.watch()
            return None
        if isinstance(message, VideoAnswerMessage):
            if connection.watch is None:
                raise NotAllowed()
            await connection.watch.answer(message.viewer_id, message.sdp)
            return None
        # EndMessage: the patient or a third party leaves; only the regulator ends the session.
        if role == THIRD_PARTY:
            await service.record(
                session_id, actor, "third_party.left", {"invitation_id": opening.invitation_id}
            )
            if connection.watch is not None:
                await connection.watch.stop()
        else:
            await service.record(session_id, actor, "patient.left", {})
        room = rooms.find(session_id)
        if room is not None:
            await room.unpublish(connection.participant_id)
        return None
    except (DomainError, MediaError) as error:
        log.info("session %s: %s's message refused: %s", session_id, role, error)
        return _error(request, error)


async def _handle_screen(
    request: web.Request, screen: PatientScreen, message: ScreenMessage
) -> dict[str, object] | None:
    """Act on one of the page's messages about the regulator's shared screen."""
    if message_rule(PATIENT_SOCKET, message.type) is None:
        return _error(request, DomainError("invalid_message"))
    try:
        return await screen.handle(message)
    except (DomainError, MediaError) as error:
        log.info("session %s: screen message refused: %s", screen.session_id, error)
        return _error(request, error)


async def _handle_report(
    connection: _PatientConnection, report: PageReport
) -> dict[str, object] | None:
    """Record what the page says of its browser or its reconnection (the patient's only)."""
    if message_rule(PATIENT_SOCKET, report.type) is None or connection.reports is None:
        return _error(connection.request, DomainError("invalid_message"))
    try:
        check_link_role(report.type, connection.role)
        await connection.reports.handle(Actor(connection.role), report)
    except DomainError as error:
        log.info("report %s refused: %s", report.type, error)
        return _error(connection.request, error)
    return None


def _error(request: web.Request, error: RefusalError) -> dict[str, object]:
    """The page's error message: the same id and catalogue message as the HTTP API's."""
    body = error_body(error, request.app[appkeys.CATALOGUE], browser_language(request))
    return {"type": "error", "error_id": body["error_id"], "message": body["message"]}
