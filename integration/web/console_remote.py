"""Remote control of the caller's camera over the console's WebSocket.

Console -> service:
    ``{"type": "command", "v": 1, "id": str, "session_id": str,
    "name": "switch_camera" | "torch" | "zoom", "value": ...}``

Service -> console:
    ``{"type": "camera.state", "session_id", "connected": bool, "state": {...} | null}``: what
    the caller's camera can do, for each session the console watches (at once, then on change).
    ``{"type": "command.result", "session_id", "id", "name", "ok": true, "state": {...}}``, or
    with ``"ok": false`` and ``error_id``/``message`` (the phone cannot, no page, no answer in
    time, too many commands, the page's own failure).

A console follows a session's camera while it watches its video (``watch``/``unwatch``).
Commands run in the background: the socket keeps reading while one waits for the phone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from ..errors import DomainError, error_body
from ..i18n import DEFAULT_LANGUAGE, Catalogue, shipped_catalogue
from ..sessions.journal import Actor
from ..sessions.remote_control import CommandName, RemoteControl
from .notifier import Connection

__all__ = ["REMOTE_TYPES", "CommandMessage", "ConsoleRemote"]

log = logging.getLogger(__name__)

REMOTE_TYPES = frozenset({"command"})
"""Message types this module handles."""


class CommandMessage(BaseModel):
    """A regulator's command to the caller's camera."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["command"]
    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    session_id: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")
    name: CommandName
    value: JsonValue = None


@dataclass
class ConsoleRemote:
    """The camera states one console socket follows, and its commands in flight."""

    remote: RemoteControl
    connection: Connection
    actor: Actor
    catalogue: Catalogue = field(default_factory=shipped_catalogue)
    language: str = DEFAULT_LANGUAGE
    _follows: dict[str, Callable[[], None]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def observe(self, data: Mapping[str, Any]) -> None:
        """A ``watch``/``unwatch`` the console sent (already allowed): follow the camera too."""
        session_id = data.get("session_id")
        if data.get("type") not in ("watch", "unwatch") or not isinstance(session_id, str):
            return
        unfollow = self._follows.pop(session_id, None)
        if unfollow is not None:
            unfollow()
        if data.get("type") == "watch":
            self._follows[session_id] = self.remote.follow(session_id, self.connection.send)

    def handle(self, data: Mapping[str, Any]) -> None:
        """Start one command (its result comes on the socket later)."""
        try:
            message = CommandMessage.model_validate(data)
        except ValidationError:
            self.connection.send(
                {"type": "error", "error_id": "invalid_message", "message": "invalid message"}
            )
            return
        task = asyncio.create_task(self._run(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """The socket closed: stop following; commands in flight end by themselves."""
        for unfollow in self._follows.values():
            unfollow()
        self._follows.clear()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, message: CommandMessage) -> None:
        reply: dict[str, Any] = {
            "type": "command.result",
            "session_id": message.session_id,
            "id": message.id,
            "name": message.name,
        }
        try:
            outcome = await self.remote.command(
                message.session_id, self.actor, message.id, message.name, message.value
            )
        except DomainError as error:
            body = error_body(error, self.catalogue, self.language)
            reply |= {"ok": False, "error_id": body["error_id"], "message": body["message"]}
        except Exception:  # the log may be down: the console still gets an answer
            log.exception("command %s on session %s failed", message.id, message.session_id)
            body = error_body(DomainError("internal"), self.catalogue, self.language)
            reply |= {"ok": False, "error_id": "internal", "message": body["message"]}
        else:
            if outcome.ok:
                state = outcome.state.model_dump(mode="json") if outcome.state else None
                reply |= {"ok": True, "state": state}
            else:
                unsupported = outcome.error == "not_supported"
                error_id = "remote_unavailable" if unsupported else "remote_failed"
                body = error_body(DomainError(error_id), self.catalogue, self.language)
                reply |= {"ok": False, "error_id": error_id, "message": body["message"]}
        self.connection.send(reply)
