"""Remote control of the caller's camera: switch camera, torch, zoom, and "Photo HD".

``photo`` asks the page for a full-resolution photo: the page answers as soon as it has taken it,
then uploads it over HTTP (never over the socket) to the session's documents, naming the
command's id (:mod:`visioregul.integration.documents`).

The patient page reports what its camera can do and how it is set (:class:`CameraState`) when the
camera starts and after each change; the service keeps the latest per session, in memory, and
tells the consoles following that session. A regulator's command goes to the page that is open
for the session; the page answers with the resulting state or an error, matched by the command's
id. Every command and its outcome go to the session's event log.

Refusals (domain errors, mapped by each edge): a capability the phone lacks
(:class:`RemoteUnavailable`), no page open (:class:`PhoneAbsent`), no answer in time
(:class:`PhoneNoAnswer`), too many commands (:class:`CommandFlood`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import DomainError
from ..ratelimit import RateLimiter, RateLimitExceeded
from .journal import Actor

__all__ = [
    "COMMAND_NAMES",
    "CameraState",
    "CommandFlood",
    "CommandName",
    "CommandOutcome",
    "PhoneAbsent",
    "PhoneNoAnswer",
    "RemoteControl",
    "RemoteUnavailable",
    "ZoomRange",
]

log = logging.getLogger(__name__)

CommandName = Literal["switch_camera", "torch", "zoom", "photo"]
COMMAND_NAMES: tuple[str, ...] = ("switch_camera", "torch", "zoom", "photo")
PROTOCOL_VERSION = 1
"""Version of the command messages (``"v": 1``)."""


class ZoomRange(BaseModel):
    """The zoom the track allows, and its current value."""

    model_config = ConfigDict(extra="forbid")

    min: float = Field(ge=0, le=1000)
    max: float = Field(ge=0, le=1000)
    step: float = Field(default=0, ge=0, le=1000)
    value: float = Field(ge=0, le=1000)


class CameraState(BaseModel):
    """What the phone's camera can do and how it is set, as the page reports it."""

    model_config = ConfigDict(extra="forbid")

    cameras: int = Field(default=1, ge=0, le=16)
    """How many video inputs the browser lists."""
    facing_mode: Literal["user", "environment", ""] = ""
    torch: bool | None = None
    """On or off; None when the camera has no torch."""
    zoom: ZoomRange | None = None
    """None when the camera does not zoom (or gives no range)."""

    def missing(self, name: str) -> bool:
        """Whether this camera cannot do command ``name``."""
        if name == "torch":
            return self.torch is None
        if name == "zoom":
            return self.zoom is None or self.zoom.max <= self.zoom.min
        if name == "photo":
            return False  # any running camera takes a photo (uploaded over HTTP by the page)
        return self.cameras < 2


class RemoteUnavailable(DomainError):
    """The phone cannot do this (no torch, no zoom range, one camera only)."""

    error_id = "remote_unavailable"


class PhoneAbsent(DomainError):
    """No patient page is open for the session: the command was not sent."""

    error_id = "phone_absent"


class PhoneNoAnswer(DomainError):
    """The page did not answer in time (or went away before answering)."""

    error_id = "phone_no_answer"


class CommandFlood(DomainError):
    """Too many commands in a short time."""

    error_id = "command_flood"


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """The page's answer to a command."""

    ok: bool
    state: CameraState | None = None
    error: str = ""
    """The page's reason when not ``ok`` (``not_supported``, ``failed``...)."""


Sender = Callable[[dict[str, Any]], Awaitable[None]]
"""Sends one JSON message to a patient page."""
Watcher = Callable[[dict[str, Any]], None]
"""Receives ``camera.state`` messages for a session (a console)."""
Recorder = Callable[[str, Actor, str, dict[str, Any]], Awaitable[Any]]
"""Appends an event to a session's log (``SessionService.record``)."""


@dataclass
class _Phone:
    send: Sender
    pending: dict[str, asyncio.Future[CommandOutcome]] = field(default_factory=dict)


@dataclass
class RemoteControl:
    """The open pages' camera states and the commands in flight, for one service instance."""

    record: Recorder
    timeout: float = 5.0
    """How long a command waits for the page's answer."""
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(20, 10.0))
    """Commands per regulator and session."""
    _phones: dict[str, _Phone] = field(default_factory=dict)
    _states: dict[str, CameraState] = field(default_factory=dict)
    _watchers: dict[str, set[Watcher]] = field(default_factory=dict)

    # -- the patient page ----------------------------------------------------------------------

    def attach(self, session_id: str, send: Sender) -> Callable[[], None]:
        """A page of the session is open and takes commands; returns its detach."""
        phone = _Phone(send)
        self._phones[session_id] = phone

        def detach() -> None:
            if self._phones.get(session_id) is phone:
                del self._phones[session_id]
                self._states.pop(session_id, None)
                self._tell(session_id, None)
            for future in phone.pending.values():
                if not future.done():
                    future.set_exception(PhoneNoAnswer(reason="page_gone"))

        return detach

    def report(self, session_id: str, state: CameraState) -> None:
        """The page's camera state: kept, and told to the consoles following."""
        self._states[session_id] = state
        self._tell(session_id, state)

    def answer(self, session_id: str, command_id: str, outcome: CommandOutcome) -> bool:
        """The page's answer to a command; False when no such command waits."""
        phone = self._phones.get(session_id)
        future = phone.pending.get(command_id) if phone is not None else None
        if future is None or future.done():
            return False
        future.set_result(outcome)
        return True

    # -- the consoles --------------------------------------------------------------------------

    def state(self, session_id: str) -> CameraState | None:
        """The latest state the session's page reported; None when no page is open."""
        return self._states.get(session_id)

    def follow(self, session_id: str, watcher: Watcher) -> Callable[[], None]:
        """Hear the session's camera states (the current one at once); returns the unfollow."""
        self._watchers.setdefault(session_id, set()).add(watcher)
        watcher(self._message(session_id, self._states.get(session_id)))

        def unfollow() -> None:
            watchers = self._watchers.get(session_id)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del self._watchers[session_id]

        return unfollow

    async def command(
        self, session_id: str, actor: Actor, command_id: str, name: str, value: Any
    ) -> CommandOutcome:
        """Send one command to the session's page and wait for its answer.

        Raises :class:`CommandFlood`, :class:`PhoneAbsent`, :class:`RemoteUnavailable` or
        :class:`PhoneNoAnswer`; a refusal by the page comes back as a not ``ok`` outcome.
        """
        try:
            self.limiter.hit(f"{actor.name}\x00{session_id}")
        except RateLimitExceeded as error:
            raise CommandFlood(seconds=error.retry_after) from None
        details: dict[str, Any] = {"id": command_id, "name": name, "value": value}
        phone = self._phones.get(session_id)
        if phone is None:
            await self.record(session_id, actor, "command.refused", details | {"error": "absent"})
            raise PhoneAbsent()
        state = self._states.get(session_id)
        if state is None or state.missing(name) or not _in_range(state, name, value):
            await self.record(
                session_id, actor, "command.refused", details | {"error": "unavailable"}
            )
            raise RemoteUnavailable()
        if command_id in phone.pending:
            raise DomainError("invalid_message")
        future: asyncio.Future[CommandOutcome] = asyncio.get_running_loop().create_future()
        phone.pending[command_id] = future
        await self.record(session_id, actor, "command.sent", details)
        try:
            message = {"type": "command", "v": PROTOCOL_VERSION, "id": command_id}
            await phone.send(message | {"name": name, "value": value})
            async with asyncio.timeout(self.timeout):
                outcome = await future
        except (TimeoutError, PhoneNoAnswer, ConnectionError, RuntimeError) as error:
            reason = "timeout" if isinstance(error, TimeoutError) else "page_gone"
            await self.record(session_id, actor, "command.timeout", details | {"reason": reason})
            raise PhoneNoAnswer(reason=reason) from None
        finally:
            phone.pending.pop(command_id, None)
            if not future.done():
                future.cancel()
        result: dict[str, Any] = details | {"ok": outcome.ok}
        if not outcome.ok:
            result["error"] = outcome.error
        await self.record(session_id, actor, "command.result", result)
        if outcome.ok and outcome.state is not None:
            if outcome.state != state:
                await self.record(
                    session_id, actor, "camera.changed", outcome.state.model_dump(mode="json")
                )
            self.report(session_id, outcome.state)
        return outcome

    # -- helpers -------------------------------------------------------------------------------

    def _tell(self, session_id: str, state: CameraState | None) -> None:
        message = self._message(session_id, state)
        for watcher in list(self._watchers.get(session_id, ())):
            with contextlib.suppress(Exception):  # one console's failure is not the others'
                watcher(message)

    def _message(self, session_id: str, state: CameraState | None) -> dict[str, Any]:
        return {
            "type": "camera.state",
            "session_id": session_id,
            "connected": session_id in self._phones,
            "state": state.model_dump(mode="json") if state is not None else None,
        }


def _in_range(state: CameraState, name: str, value: Any) -> bool:
    """Whether ``value`` suits command ``name`` on this camera."""
    if name == "torch":
        return isinstance(value, bool)
    if name == "zoom":
        zoom = state.zoom
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return zoom is not None and number and zoom.min <= value <= zoom.max
    if name == "photo":
        return value is None
    return value is None or value in ("user", "environment")
