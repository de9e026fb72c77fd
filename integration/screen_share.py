"""The regulator's screen, shared with the patient: one share at a time per session.

A regulator (or doctor) of the session's centre shares a screen or a window from the console: the
console publishes one display-capture video track (never a camera) into a room of its own,
``<session id>:screen``, separate from the patient's video room. The patient's page (and any
third party's) subscribes to it while the share lasts.

- One share per session: while one runs, another console's share is refused
  (:class:`ScreenShareBusy`, naming who shares); the console that shares may start again (another
  window), which replaces its own share.
- The share ends when its console stops it (its button, or the browser's own "stop sharing"),
  when that console's socket closes, when its connection to the relay is lost, and with the
  session.
- Every start and stop is in the session's log: ``screen.started`` (by the regulator) and
  ``screen.stopped`` (``reason``: ``stopped``, ``replaced``, ``console_left``,
  ``connection_lost``). A share cut by the session's end is not logged apart: the session's end
  says it.

Pages that show the share listen with :meth:`ScreenShares.listen`: they hear ``started``,
``stopped`` and ``viewer_left`` (a subscription dropped: watch again).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from aiortc import RTCIceServer

from visioregul.media import MediaError, MediaEvent, Room, browser_ice_servers

from .background import BackgroundTasks
from .errors import DomainError
from .sessions.errors import SessionClosed
from .sessions.journal import Actor
from .sessions.services import SessionService, SessionUpdate
from .sessions.state import FINAL_STATES

__all__ = [
    "SCREEN_STARTED",
    "SCREEN_STOPPED",
    "ScreenListener",
    "ScreenShareBusy",
    "ScreenShareInactive",
    "ScreenShares",
    "new_viewer_id",
    "screen_room_id",
]

log = logging.getLogger(__name__)

SCREEN_STARTED = "screen.started"
SCREEN_STOPPED = "screen.stopped"

ScreenListener = Callable[[str, Mapping[str, object]], None]
"""``listener(kind, details)``: ``started``, ``stopped`` or ``viewer_left`` (``viewer_id``)."""

IceServers = Callable[[str], list[RTCIceServer]]
"""The ICE servers of one participant (TURN credentials are per participant)."""

_CLOSING_EVENTS = frozenset({"session.ended", "session.expired"})


class ScreenShareBusy(DomainError):
    """Another console already shares its screen in this session (``sharer``: who)."""

    error_id = "screen_share_busy"


class ScreenShareInactive(DomainError):
    """Nobody shares a screen in this session (a page asked to watch too late)."""

    error_id = "screen_share_inactive"


def screen_room_id(session_id: str) -> str:
    """The id of a session's screen room."""
    return f"{session_id}:screen"


@dataclass(eq=False)
class _Share:
    session_id: str
    owner: object
    """What identifies the sharing console (its socket's own object)."""
    sharer: Actor
    room: Room


class ScreenShares:
    """The screens shared in open sessions."""

    def __init__(self, service: SessionService, ice_servers: IceServers) -> None:
        self._service = service
        self._ice_servers = ice_servers
        self._shares: dict[str, _Share] = {}
        self._listeners: dict[str, set[ScreenListener]] = {}
        self._background = BackgroundTasks("screen share task", log)
        self._closed = False

    # -- questions -----------------------------------------------------------------------------

    def active(self, session_id: str) -> bool:
        """Whether a screen is shared in the session."""
        return session_id in self._shares

    def sharer(self, session_id: str) -> str | None:
        """Who shares (the account's username), if anyone."""
        share = self._shares.get(session_id)
        return share.sharer.name if share else None

    def browser_ice_servers(self, participant_id: str) -> list[dict[str, object]]:
        """The ICE servers of a page's ``RTCPeerConnection`` for this participant."""
        return browser_ice_servers(self._ice_servers(participant_id))

    def listen(self, session_id: str, listener: ScreenListener) -> Callable[[], None]:
        """Hear one session's share start and stop; returns the function that stops listening."""
        self._listeners.setdefault(session_id, set()).add(listener)

        def stop() -> None:
            listeners = self._listeners.get(session_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[session_id]

        return stop

    # -- the sharing console -------------------------------------------------------------------

    async def prepare(self, session_id: str, owner: object) -> None:
        """Check that ``owner`` may share now: the session is open and nobody else shares.

        Raises ``SessionNotFound``, :class:`SessionClosed` or :class:`ScreenShareBusy`.
        """
        await self._check_open(session_id)
        current = self._shares.get(session_id)
        if current is not None and current.owner is not owner:
            raise ScreenShareBusy(sharer=current.sharer.name)

    async def start(self, session_id: str, sharer: Actor, owner: object, offer_sdp: str) -> str:
        """Publish a console's screen (its ``sendonly`` video offer); returns the answer SDP.

        Raises ``SessionNotFound``/:class:`SessionClosed` for a session that is not open,
        :class:`ScreenShareBusy` while another console shares, :class:`MediaError` for an offer
        the relay refuses (audio, more than one video, not SDP).
        """
        if self._closed:
            raise MediaError("room_closed", "the service is stopping")
        await self.prepare(session_id, owner)
        holder: list[_Share] = []

        def on_event(kind: str, details: Mapping[str, object]) -> None:
            if holder:
                self._on_room(holder[0], kind, details)

        room = Room(
            screen_room_id(session_id),
            ice_servers=self._ice_servers(f"server-{session_id}-screen"),
            on_event=on_event,
        )
        share = _Share(session_id, owner, sharer, room)
        holder.append(share)
        try:
            answer = await share.room.publish(offer_sdp, participant_id=sharer.name)
        except BaseException:
            await share.room.close()
            raise
        # Checked again: the session may have ended, or another console started, meanwhile.
        current = self._shares.get(session_id)
        if self._closed or (current is not None and current.owner is not owner):
            await share.room.close()
            if current is not None:
                raise ScreenShareBusy(sharer=current.sharer.name)
            raise MediaError("room_closed", "the service is stopping")
        if current is not None:
            await self._end(current, "replaced", tell=False)
        self._shares[session_id] = share
        log.info("session %s: %s shares a screen", session_id, sharer.name)
        try:
            await self._service.record(session_id, sharer, SCREEN_STARTED, {})
        except DomainError:
            # The session ended while the offer was answered: nothing was shown.
            await self._end(share, "session_ended", record=False)
            raise
        self._tell(session_id, "started", {"sharer": sharer.name})
        return answer

    async def stop(self, session_id: str, owner: object, reason: str = "stopped") -> bool:
        """End the share of ``owner`` in the session; whether there was one."""
        share = self._shares.get(session_id)
        if share is None or share.owner is not owner:
            return False
        await self._end(share, reason)
        return True

    async def stop_all(self, owner: object, reason: str = "console_left") -> None:
        """End every share of ``owner`` (its console's socket closed)."""
        for share in [share for share in self._shares.values() if share.owner is owner]:
            await self._end(share, reason)

    # -- the pages that watch ------------------------------------------------------------------

    async def watch(self, session_id: str, viewer_id: str) -> str:
        """Subscribe a page to the shared screen; returns the service's offer (``sendonly``).

        Raises :class:`ScreenShareInactive` when nobody shares.
        """
        share = self._shares.get(session_id)
        if share is None:
            raise ScreenShareInactive()
        # The share's room has one publisher, the console that shares (under the sharer's name).
        return await share.room.subscribe(viewer_id, publisher_id=share.sharer.name)

    async def answer(self, session_id: str, viewer_id: str, answer_sdp: str) -> None:
        """A page's ``recvonly`` answer to :meth:`watch`'s offer."""
        share = self._shares.get(session_id)
        if share is None:
            raise ScreenShareInactive()
        await share.room.accept_answer(viewer_id, answer_sdp)

    async def unwatch(self, session_id: str, viewer_id: str) -> None:
        """A page stops watching (its socket closed); an unknown viewer is ignored."""
        share = self._shares.get(session_id)
        if share is not None:
            await share.room.unsubscribe(viewer_id)

    # -- life cycle ----------------------------------------------------------------------------

    def on_session(self, update: SessionUpdate) -> None:
        """Session listener: a session that ends or expires ends its share."""
        if update.event.type not in _CLOSING_EVENTS:
            return
        share = self._shares.get(update.session.id)
        if share is not None:
            self._background.spawn(self._end(share, "session_ended", record=False))

    async def close(self) -> None:
        """Close every share (the service stops); safe to call more than once."""
        self._closed = True
        shares = list(self._shares.values())
        self._shares.clear()
        for share in shares:
            await share.room.close()
        await self._background.wait_all()

    # -- inside --------------------------------------------------------------------------------

    async def _check_open(self, session_id: str) -> None:
        detail = await self._service.get(session_id)  # SessionNotFound for an unknown id
        if detail.session.state in FINAL_STATES:
            raise SessionClosed()

    async def _end(
        self, share: _Share, reason: str, *, record: bool = True, tell: bool = True
    ) -> None:
        if self._shares.get(share.session_id) is share:
            del self._shares[share.session_id]
        elif share.room.closed:
            return  # ended already
        await share.room.close()
        log.info(
            "session %s: screen share of %s ended (%s)", share.session_id, share.sharer.name, reason
        )
        if record:
            try:
                await self._service.record(
                    share.session_id, share.sharer, SCREEN_STOPPED, {"reason": reason}
                )
            except SessionClosed:
                log.debug("session %s closed: screen.stopped not logged", share.session_id)
            except DomainError as error:
                log.info("session %s: screen.stopped not logged (%s)", share.session_id, error)
        if tell:
            self._tell(share.session_id, "stopped", {"reason": reason})

    def _on_room(self, share: _Share, kind: str, details: Mapping[str, object]) -> None:
        if kind in (MediaEvent.PUBLISHER_DISCONNECTED, MediaEvent.PUBLISHER_FAILED):
            reason = str(details.get("reason", "failed"))
            if (
                reason not in ("replaced", "room_closed")
                and self._shares.get(share.session_id) is share
            ):
                self._spawn(self._end(share, "connection_lost"))
        elif kind == MediaEvent.SUBSCRIBER_LEFT:
            reason = str(details.get("reason", ""))
            if reason not in ("unsubscribed", "room_closed", "replaced"):
                viewer = str(details.get("subscriber_id", ""))
                self._tell(share.session_id, "viewer_left", {"viewer_id": viewer})

    def _tell(self, session_id: str, kind: str, details: Mapping[str, object]) -> None:
        for listener in list(self._listeners.get(session_id, ())):
            try:
                listener(kind, details)
            except Exception:  # one broken listener must not starve the others
                log.exception("screen listener %r failed", listener)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self._background.spawn(coroutine)


def new_viewer_id(role: str) -> str:
    """A page's subscription id: its role and a random part."""
    return f"{role}:{secrets.token_urlsafe(6)}"
