"""The caller's position over the console's WebSocket.

Console -> service:
    ``{"type": "location.ask", "v": 1, "id": str, "session_id": str, "follow": bool}``: ask the
    caller's phone for its position (``follow``: and to keep sending it, if the patient agrees)
    ``{"type": "location.stop", "session_id": str}``: stop following

Service -> console:
    ``{"type": "location.result", "session_id", "id", "ok": true, "location": {...},
    "following": bool}`` once the fix is kept (the room also sees the ``location.received``
    event), or ``"ok": false`` with ``error_id`` and ``message`` (the patient refused, no fix
    in time, no page, no answer, too many requests).
    ``{"type": "location.stopped", "session_id", "stopped": bool}``

Requests run in the background: the socket keeps reading while one waits for the patient.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import DomainError, error_body
from ..i18n import DEFAULT_LANGUAGE, Catalogue, shipped_catalogue
from ..sessions.journal import Actor
from ..sessions.location import Locator
from .notifier import Connection

__all__ = ["LOCATION_TYPES", "AskMessage", "ConsoleLocation", "StopMessage"]

log = logging.getLogger(__name__)

LOCATION_TYPES = frozenset({"location.ask", "location.stop"})
"""Message types this module handles."""

_SESSION_ID = Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")


class AskMessage(BaseModel):
    """A regulator asks for the caller's position."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["location.ask"]
    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    session_id: str = _SESSION_ID
    follow: bool = False


class StopMessage(BaseModel):
    """A regulator stops following the caller's position."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["location.stop"]
    v: Literal[1] = 1
    session_id: str = _SESSION_ID


@dataclass
class ConsoleLocation:
    """One console socket's position requests in flight."""

    locator: Locator
    connection: Connection
    actor: Actor
    catalogue: Catalogue = field(default_factory=shipped_catalogue)
    language: str = DEFAULT_LANGUAGE
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def handle(self, data: Mapping[str, Any]) -> None:
        """Start one request (its result comes on the socket later)."""
        try:
            message: AskMessage | StopMessage = (
                AskMessage.model_validate(data)
                if data.get("type") == "location.ask"
                else StopMessage.model_validate(data)
            )
        except ValidationError:
            self.connection.send(
                {"type": "error", "error_id": "invalid_message", "message": "invalid message"}
            )
            return
        work = self._ask(message) if isinstance(message, AskMessage) else self._stop(message)
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """The socket closed: requests in flight end by themselves."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _ask(self, message: AskMessage) -> None:
        reply: dict[str, Any] = {
            "type": "location.result",
            "session_id": message.session_id,
            "id": message.id,
        }
        try:
            outcome = await self.locator.ask(
                message.session_id, self.actor, message.id, follow=message.follow
            )
        except DomainError as error:
            reply |= {"ok": False} | self._error(error)
        except Exception:  # the log may be down: the console still gets an answer
            log.exception("location request %s on %s failed", message.id, message.session_id)
            reply |= {"ok": False} | self._error(DomainError("internal"))
        else:
            if outcome.ok:
                reply |= {"ok": True, "location": outcome.details}
            else:
                reply |= {"ok": False, "error_id": f"location_{outcome.error}"}
                reply["message"] = self.catalogue.get(
                    self.language, f"location.error.{outcome.error}"
                )
        reply["following"] = self.locator.following(message.session_id)
        self.connection.send(reply)

    async def _stop(self, message: StopMessage) -> None:
        try:
            stopped = await self.locator.stop(message.session_id, self.actor)
        except Exception:  # the log may be down: the follow is stopped all the same
            log.exception("stopping the follow of %s failed", message.session_id)
            stopped = True
        self.connection.send(
            {"type": "location.stopped", "session_id": message.session_id, "stopped": stopped}
        )

    def _error(self, error: DomainError) -> dict[str, Any]:
        body = error_body(error, self.catalogue, self.language)
        return {"error_id": body["error_id"], "message": body["message"]}
