"""The regulator's shared screen on a patient's (or third party's) page, over its socket.

Service -> page:
    ``{"type": "screen.started"}`` a regulator shares a screen (at once on connecting when one
    already does): the page asks to watch it.
    ``{"type": "screen.offer", "sdp": str, "ice_servers": [...]}`` the service's ``sendonly``
    video offer; the page answers ``recvonly``.
    ``{"type": "screen.stopped"}`` the share ended: the page shows its own view again.
    ``{"type": "screen.left"}`` this page's subscription dropped (the share goes on): watch
    again.

Page -> service:
    ``{"type": "screen.watch"}``, ``{"type": "screen.answer", "sdp": str}``

A page only receives: nothing it sends can share a screen. Its subscription ends with its socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from visioregul.integration.errors import DomainError
from visioregul.integration.screen_share import ScreenShares, new_viewer_id

__all__ = ["SCREEN_TYPES", "PatientScreen", "ScreenMessage", "decode_screen"]

log = logging.getLogger(__name__)

SCREEN_TYPES = frozenset({"screen.watch", "screen.answer"})
"""Message types this module handles."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1


class WatchScreen(_Message):
    """Show the shared screen on this page."""

    type: Literal["screen.watch"]


class AnswerScreen(_Message):
    """The page's answer to ``screen.offer``."""

    type: Literal["screen.answer"]
    sdp: str = Field(min_length=1, max_length=64 * 1024)


ScreenMessage = Annotated[WatchScreen | AnswerScreen, Field(discriminator="type")]
_ADAPTER: TypeAdapter[ScreenMessage] = TypeAdapter(ScreenMessage)


def decode_screen(text: str) -> ScreenMessage | None:
    """A screen message of the page, or None when it is not one."""
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError:
        return None


Send = Callable[[dict[str, object]], Coroutine[Any, Any, None]]


class PatientScreen:
    """The shared screen as one page's socket sees it."""

    def __init__(self, shares: ScreenShares, session_id: str, role: str, send: Send) -> None:
        self.shares = shares
        self.session_id = session_id
        self.viewer_id = new_viewer_id(role)
        self._send = send
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop_listening = shares.listen(session_id, self._on_share)

    def greet(self) -> None:
        """Once the page is welcomed: tell it about a share that already runs."""
        if self.shares.active(self.session_id):
            self._later({"type": "screen.started"})

    async def handle(self, message: ScreenMessage) -> dict[str, object] | None:
        """Act on one of the page's screen messages; the reply, if any.

        Raises ``ScreenShareInactive`` when the share ended meanwhile, ``MediaError`` for an
        answer the relay refuses.
        """
        if isinstance(message, WatchScreen):
            offer = await self.shares.watch(self.session_id, self.viewer_id)
            return {
                "type": "screen.offer",
                "sdp": offer,
                "ice_servers": self.shares.browser_ice_servers(self.viewer_id),
            }
        await self.shares.answer(self.session_id, self.viewer_id, message.sdp)
        return None

    async def close(self) -> None:
        """The socket closed: stop listening and watching."""
        self._stop_listening()
        try:
            await self.shares.unwatch(self.session_id, self.viewer_id)
        except DomainError:
            log.debug("session %s: screen subscription already gone", self.session_id)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _on_share(self, kind: str, details: Mapping[str, object]) -> None:
        if kind == "started":
            self._later({"type": "screen.started"})
        elif kind == "stopped":
            self._later({"type": "screen.stopped"})
        elif kind == "viewer_left" and details.get("viewer_id") == self.viewer_id:
            self._later({"type": "screen.left"})

    def _later(self, message: dict[str, Any]) -> None:
        task = asyncio.create_task(self._send(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
