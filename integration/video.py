"""The video rooms of open sessions: one :class:`media.Room` per session, and its events logged.

A room is created when the patient's page or a console first needs it, and closed when its
session ends or expires, or when the service stops. What a room reports becomes the session's
log (recorded in order by one background task, never blocking the media):

- the first frame of the patient's publication: ``video.live`` (fact ``VIDEO_LIVE``);
- the patient's publisher gone or failed while live: ``video.lost`` (fact ``VIDEO_LOST``);
- a third party's camera live / lost: ``third_party.video_live`` / ``third_party.video_lost``
  (no state change: the session follows the patient);
- the patient's publisher connected but sending no frame for 2 s: ``video.stalled`` (the picture
  is frozen), then ``video.resumed`` with ``stalled_ms`` when frames come again (or the page's
  new connection sends its first frame);
- a subscription to the patient's video up / gone (a console, or a third party allowed to see):
  ``video.viewer_joined`` / ``video.viewer_left``. A console's subscriptions to third parties'
  cameras are not logged: they come and go with those cameras.

Parties that hold a room (the patient's socket, the consoles' sockets) listen to a session's
media events with :meth:`RoomRegistry.listen`; they also hear ``session_closed`` when the
session ends, after which the room is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCIceServer

from visioregul.media import MediaError, MediaEvent, Room, browser_ice_servers, ice_servers
from visioregul.media.stall import STALL_AFTER

from .background import BackgroundTasks
from .errors import DomainError
from .sessions.errors import SessionClosed
from .sessions.services import SYSTEM, Actor, SessionService, SessionUpdate
from .sessions.state import SessionFact
from .settings import VideoSettings

__all__ = [
    "PATIENT_FEED",
    "ROOM_MOVED",
    "SESSION_CLOSED",
    "THIRD_PARTY_PREFIX",
    "RelayFigures",
    "RoomListener",
    "RoomRegistry",
]

log = logging.getLogger(__name__)

SESSION_CLOSED = "session_closed"
"""The kind a listener hears when its session ends or expires (the room is closed)."""

ROOM_MOVED = "room_moved"
"""The kind a listener hears when the room leaves this instance (another instance holds it now):
the sockets holding it close, and the pages and consoles find it where it is."""

RoomListener = Callable[[str, Mapping[str, object]], None]
"""``listener(kind, details)``: a :class:`MediaEvent` kind, or :data:`SESSION_CLOSED`."""

_CLOSING_EVENTS = frozenset({"session.ended", "session.expired"})
_PATIENT = Actor("patient")
_THIRD_PARTY = Actor("third_party")
PATIENT_FEED = "patient"
"""The patient's participant id in a room."""
THIRD_PARTY_PREFIX = "third_party:"
"""A third party's participant id is this and its invitation's id."""


@dataclass(frozen=True, slots=True)
class RelayFigures:
    """The rooms' figures for monitoring."""

    rooms: int
    publishers: int
    viewers: int
    frames_relayed: int
    """Since the service started, closed rooms included."""
    bytes_relayed: int
    """Since the service started, closed rooms included."""


@dataclass
class _Entry:
    room: Room
    live: bool = False
    third_parties_live: set[str] = field(default_factory=set)
    """Third parties' participant ids whose camera reached the relay."""
    viewers: set[str] = field(default_factory=set)
    """Subscribers that got connected (each leaves the log once)."""
    stalled_at: float | None = None
    """Loop time of the last frame before the patient's picture froze, while it is frozen."""


def _viewer(viewer_id: str) -> dict[str, Any]:
    """A viewer's log details: consoles name their subscriptions ``<username>:<random>``, a
    third party's page ``third_party:<invitation id>:<random>``."""
    if viewer_id.startswith(THIRD_PARTY_PREFIX):
        invitation_id = viewer_id.split(":")[1]
        return {"viewer_id": viewer_id, "viewer": "third_party", "invitation_id": invitation_id}
    return {"viewer_id": viewer_id, "viewer": viewer_id.rpartition(":")[0] or viewer_id}


def _third_party(participant_id: object) -> str | None:
    """The invitation id of a third party's participant id, or None (the patient)."""
    text = str(participant_id or "")
    return text[len(THIRD_PARTY_PREFIX) :] if text.startswith(THIRD_PARTY_PREFIX) else None


_CLOSED_REMEMBERED = 10_000


class RoomRegistry:
    """One room per open session, created on demand."""

    def __init__(self, service: SessionService, settings: VideoSettings) -> None:
        self._service = service
        self._settings = settings
        self._rooms: dict[str, _Entry] = {}
        # Recently ended sessions, so that a late "watch" cannot reopen a room; bounded, since
        # callers check the session's state first and this only covers the race.
        self._closed_sessions: OrderedDict[str, None] = OrderedDict()
        self._listeners: dict[str, set[RoomListener]] = {}
        self._records: asyncio.Queue[tuple[str, Actor, str, dict[str, Any], SessionFact | None]]
        self._records = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._background = BackgroundTasks("video background task", log)
        self._closed = False
        # What closed rooms relayed (frames, bytes): the totals must only ever grow.
        self._relayed_before = (0, 0)

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start recording room events (inside the application's cleanup context)."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._record_forever(), name="video-records")

    async def close(self) -> None:
        """Close every room, then stop recording; safe to call more than once."""
        self._closed = True
        rooms = [entry.room for entry in self._rooms.values()]
        self._rooms.clear()
        await asyncio.gather(*(room.close() for room in rooms), return_exceptions=True)
        await self._background.wait_all()
        # Let what the rooms reported reach the log, within reason.
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._records.join()
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    # -- rooms ---------------------------------------------------------------------------------

    def ice_servers(self, participant_id: str) -> list[RTCIceServer]:
        """The ICE servers of one participant (TURN credentials are per participant)."""
        video = self._settings
        return ice_servers(
            stun_urls=video.stun_urls,
            turn_urls=video.turn_urls,
            turn_secret=video.turn_secret.get_secret_value() or None,
            participant_id=participant_id,
        )

    def browser_ice_servers(self, participant_id: str) -> list[dict[str, object]]:
        """:meth:`ice_servers` as a page's ``RTCPeerConnection`` takes them."""
        return browser_ice_servers(self.ice_servers(participant_id))

    def room(self, session_id: str) -> Room:
        """The session's room, created on first use.

        Raises :class:`MediaError` ``room_closed`` once the session has ended (or the service is
        stopping): callers check that the session is open before asking.
        """
        if self._closed or session_id in self._closed_sessions:
            raise MediaError("room_closed", f"the video of session {session_id} is closed")
        entry = self._rooms.get(session_id)
        if entry is None:
            room = Room(
                session_id,
                ice_servers=self.ice_servers(f"server-{session_id}"),
                on_event=lambda kind, details: self._on_event(session_id, kind, details),
            )
            entry = self._rooms[session_id] = _Entry(room)
            log.info("video room of session %s opened", session_id)
        return entry.room

    def figures(self) -> RelayFigures:
        """What the rooms hold now, and what they relayed since the service started."""
        frames, size = self._relayed_before
        publishers = viewers = 0
        for entry in self._rooms.values():
            stats = entry.room.stats()
            publishers += len(stats.publishers)
            viewers += len(stats.subscribers)
            frames += stats.frames_relayed
            size += stats.bytes_relayed
        return RelayFigures(len(self._rooms), publishers, viewers, frames, size)

    def find(self, session_id: str) -> Room | None:
        """The session's room if it exists."""
        entry = self._rooms.get(session_id)
        return entry.room if entry else None

    def listen(self, session_id: str, listener: RoomListener) -> Callable[[], None]:
        """Hear one session's media events; returns the function that stops listening."""
        self._listeners.setdefault(session_id, set()).add(listener)

        def stop() -> None:
            listeners = self._listeners.get(session_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[session_id]

        return stop

    def on_session(self, update: SessionUpdate) -> None:
        """Session listener: a session that ends or expires closes its room."""
        if update.event.type not in _CLOSING_EVENTS:
            return
        session_id = update.session.id
        self._closed_sessions[session_id] = None
        while len(self._closed_sessions) > _CLOSED_REMEMBERED:
            self._closed_sessions.popitem(last=False)
        self._tell(session_id, SESSION_CLOSED, {"room_id": session_id})
        self._drop(session_id)

    def move_out(self, session_ids: set[str]) -> None:
        """These sessions' rooms are held by another instance now: close them here, and tell
        their listeners (:data:`ROOM_MOVED`); nothing is logged of their endings."""
        for session_id in session_ids:
            self._tell(session_id, ROOM_MOVED, {"room_id": session_id})
            self._drop(session_id)

    def _drop(self, session_id: str) -> None:
        """Close the session's room here, keeping what it relayed in the totals."""
        entry = self._rooms.pop(session_id, None)
        if entry is not None:
            stats = entry.room.stats()
            frames, size = self._relayed_before
            self._relayed_before = (frames + stats.frames_relayed, size + stats.bytes_relayed)
            self._spawn(self._close_room(session_id, entry.room))

    def record_moved(self, session_id: str, previous: str, here: str) -> None:
        """The room was taken over here from an instance that is gone: say so in the log (the
        pages reconnect here, and the video comes back)."""
        details = {"from_instance": previous, "to_instance": here}
        self._record(session_id, SYSTEM, "video.moved", details, None)

    async def _close_room(self, session_id: str, room: Room) -> None:
        await room.close()
        log.info("video room of session %s closed", session_id)

    # -- events --------------------------------------------------------------------------------

    def _on_event(self, session_id: str, kind: str, details: Mapping[str, object]) -> None:
        entry = self._rooms.get(session_id)
        if entry is not None:
            self._log_event(session_id, entry, kind, details)
        self._tell(session_id, kind, details)

    def _log_event(
        self, session_id: str, entry: _Entry, kind: str, details: Mapping[str, object]
    ) -> None:
        invitation_id = _third_party(details.get("participant_id"))
        if invitation_id is not None:
            self._log_third_party(session_id, entry, kind, details, invitation_id)
            return
        if (
            kind in (MediaEvent.SUBSCRIBER_CONNECTED, MediaEvent.SUBSCRIBER_LEFT)
            and details.get("publisher_id", PATIENT_FEED) != PATIENT_FEED
        ):
            return  # a console's picture of a third party: it follows that third party's camera
        if kind in (MediaEvent.PUBLISHER_STALLED, MediaEvent.PUBLISHER_RESUMED):
            self._log_stall(session_id, entry, kind, details)
        elif kind == MediaEvent.FIRST_FRAME:
            if entry.stalled_at is not None:  # a new connection ends the stall of the old one
                self._log_stall(session_id, entry, MediaEvent.PUBLISHER_RESUMED, details)
            if not entry.live:
                entry.live = True
                facts = {k: details[k] for k in ("codec", "width", "height") if k in details}
                self._record(session_id, _PATIENT, "video.live", facts, SessionFact.VIDEO_LIVE)
        elif kind in (MediaEvent.PUBLISHER_DISCONNECTED, MediaEvent.PUBLISHER_FAILED):
            reason = str(details.get("reason", "failed"))
            if entry.live and reason not in ("replaced", "room_closed"):
                entry.live = False
                entry.stalled_at = None  # the loss says more than the stall
                self._record(
                    session_id, SYSTEM, "video.lost", {"reason": reason}, SessionFact.VIDEO_LOST
                )
        elif kind == MediaEvent.SUBSCRIBER_CONNECTED:
            viewer = str(details.get("subscriber_id", ""))
            entry.viewers.add(viewer)
            self._record(session_id, SYSTEM, "video.viewer_joined", _viewer(viewer), None)
        elif kind == MediaEvent.SUBSCRIBER_LEFT:
            viewer = str(details.get("subscriber_id", ""))
            reason = str(details.get("reason", ""))
            if viewer in entry.viewers and reason != "room_closed":
                entry.viewers.discard(viewer)
                self._record(
                    session_id,
                    SYSTEM,
                    "video.viewer_left",
                    {**_viewer(viewer), "reason": reason},
                    None,
                )

    def _log_stall(
        self, session_id: str, entry: _Entry, kind: str, details: Mapping[str, object]
    ) -> None:
        now = asyncio.get_running_loop().time()
        facts: dict[str, Any] = {"participant_id": str(details.get("participant_id", ""))}
        if kind == MediaEvent.PUBLISHER_STALLED:
            if entry.stalled_at is None:
                entry.stalled_at = now - STALL_AFTER
                self._record(session_id, SYSTEM, "video.stalled", facts, None)
        elif entry.stalled_at is not None:
            stalled_ms = details.get("stalled_ms")
            if not isinstance(stalled_ms, int):
                stalled_ms = round((now - entry.stalled_at) * 1000)
            entry.stalled_at = None
            self._record(
                session_id, SYSTEM, "video.resumed", {**facts, "stalled_ms": stalled_ms}, None
            )

    def _log_third_party(
        self,
        session_id: str,
        entry: _Entry,
        kind: str,
        details: Mapping[str, object],
        invitation_id: str,
    ) -> None:
        participant_id = str(details.get("participant_id"))
        facts = {"invitation_id": invitation_id}
        if kind == MediaEvent.FIRST_FRAME and participant_id not in entry.third_parties_live:
            entry.third_parties_live.add(participant_id)
            self._record(session_id, _THIRD_PARTY, "third_party.video_live", facts, None)
        elif kind in (MediaEvent.PUBLISHER_DISCONNECTED, MediaEvent.PUBLISHER_FAILED):
            reason = str(details.get("reason", "failed"))
            if (
                reason in ("replaced", "room_closed")
                or participant_id not in entry.third_parties_live
            ):
                return
            entry.third_parties_live.discard(participant_id)
            if reason != "unpublished":  # leaving by themselves is logged as third_party.left
                self._record(
                    session_id,
                    SYSTEM,
                    "third_party.video_lost",
                    {**facts, "reason": reason},
                    None,
                )

    def _tell(self, session_id: str, kind: str, details: Mapping[str, object]) -> None:
        for listener in list(self._listeners.get(session_id, ())):
            try:
                listener(kind, details)
            except Exception:  # one broken listener must not starve the others
                log.exception("video listener %r failed", listener)

    def _record(
        self,
        session_id: str,
        actor: Actor,
        kind: str,
        details: dict[str, Any],
        fact: SessionFact | None,
    ) -> None:
        self._records.put_nowait((session_id, actor, kind, details, fact))

    async def _record_forever(self) -> None:
        """Write room events to the sessions' logs, one at a time, in the order they happened."""
        while True:
            session_id, actor, kind, details, fact = await self._records.get()
            try:
                await self._service.record(session_id, actor, kind, details, fact=fact)
            except SessionClosed:
                log.debug("session %s closed: %s not logged", session_id, kind)
            except DomainError as error:
                log.info("session %s: %s not logged (%s)", session_id, kind, error.error_id)
            except Exception:
                log.exception("session %s: %s could not be logged", session_id, kind)
            finally:
                self._records.task_done()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self._background.spawn(coroutine)
