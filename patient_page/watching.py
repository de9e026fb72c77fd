"""The patient's video on a third party's page: one subscription, made over the page's socket.

Only a third party whose invitation allows it watches (the socket checks before calling
:meth:`PatientWatch.watch`); the patient's own page watches nobody. The service offers
send-only video (``video.offer``), the page answers (``video.answer``); a subscription that goes
(failed, codec changed) is told with ``video.left`` and the page asks again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from visioregul.integration.video import RoomRegistry
from visioregul.media import MediaError, MediaEvent

__all__ = ["PatientWatch"]

log = logging.getLogger(__name__)


class PatientWatch:
    """One third party page's subscription to the patient's video."""

    def __init__(
        self,
        rooms: RoomRegistry,
        session_id: str,
        invitation_id: str,
        send: Callable[[dict[str, object]], Coroutine[Any, Any, None]],
        later: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._rooms = rooms
        self._session_id = session_id
        self._invitation_id = invitation_id
        self._send = send
        self._later = later
        self.viewer_id: str | None = None
        self._stop_listening: Callable[[], None] | None = None

    async def watch(self) -> None:
        """Subscribe to the patient's video (again); the offer goes to the page."""
        await self.stop()
        room = self._rooms.room(self._session_id)
        viewer_id = f"third_party:{self._invitation_id}:{secrets.token_urlsafe(6)}"
        self.viewer_id = viewer_id
        self._stop_listening = self._rooms.listen(self._session_id, self._on_room)
        try:
            offer = await room.subscribe(viewer_id, publisher_id="patient")
        except BaseException:
            self.viewer_id = None
            self._forget()
            raise
        await self._send(
            {
                "type": "video.offer",
                "viewer_id": viewer_id,
                "sdp": offer,
                "ice_servers": self._rooms.browser_ice_servers(viewer_id),
            }
        )
        log.info("session %s: a third party watches the patient", self._session_id)

    async def answer(self, viewer_id: str, sdp: str) -> None:
        """The page's answer to the offer."""
        room = self._rooms.find(self._session_id)
        if room is None or viewer_id != self.viewer_id:
            raise MediaError("unknown_subscriber", "no such subscription")
        await room.accept_answer(viewer_id, sdp)

    async def stop(self) -> None:
        """End the subscription (the page left, or the socket closed)."""
        viewer_id, self.viewer_id = self.viewer_id, None
        self._forget()
        room = self._rooms.find(self._session_id)
        if viewer_id is not None and room is not None:
            await room.unsubscribe(viewer_id)

    def _forget(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def _on_room(self, kind: str, details: Mapping[str, object]) -> None:
        viewer_id = self.viewer_id
        if kind != MediaEvent.SUBSCRIBER_LEFT or viewer_id is None:
            return
        if details.get("subscriber_id") != viewer_id or details.get("reason") == "unsubscribed":
            return
        self.viewer_id = None
        self._forget()
        message: dict[str, object] = {
            "type": "video.left",
            "viewer_id": viewer_id,
            "reason": str(details.get("reason", "")),
        }
        self._later(self._send(message))
