"""The caller's position, asked by the regulator from the room.

A regulator asks (:meth:`Locator.ask`); the request goes to the patient page open for the session,
which explains why and asks the browser. The page answers with a fix (latitude, longitude,
accuracy) or the reason there is none (``denied``, ``timeout``, ``unavailable``,
``unsupported``). A fix is reverse-geocoded (the address, when the provider answers in time) and
kept with the session: a ``session_locations`` row and the event ``location.received`` in one
transaction, so the room, the history and the CAD all see it.

When the regulator asks to follow and the patient agrees, the page keeps sending fixes while the
session lasts (:meth:`Locator.update`); the service keeps at most one every
``follow_interval`` seconds unless the phone moved ``follow_distance`` metres. A page cannot send
a position nobody asked for: outside a request or a follow the patient agreed to, it is refused.

Refusals (domain errors, mapped by each edge): no page open (:class:`LocationPhoneGone`), no
answer in time (:class:`LocationNoAnswer`), too many requests (:class:`LocationFlood`), absurd
values (:class:`InvalidLocation`), a position nobody asked for (:class:`LocationUnasked`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..errors import DomainError
from ..ratelimit import RateLimiter, RateLimitExceeded
from ..store.models import Base, UTCDateTime, utcnow
from .journal import Actor

__all__ = [
    "LOCATION_ERRORS",
    "Fix",
    "InvalidLocation",
    "LocationFlood",
    "LocationNoAnswer",
    "LocationOutcome",
    "LocationPhoneGone",
    "LocationUnasked",
    "Locator",
    "SessionLocation",
    "distance_metres",
]

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
LocationError = Literal["denied", "timeout", "unavailable", "unsupported"]
LOCATION_ERRORS: tuple[str, ...] = ("denied", "timeout", "unavailable", "unsupported")
"""Why a page has no position: the patient or the browser refused, no fix in time, no
position source, no geolocation in this browser."""
MAX_ACCURACY = 100_000.0
"""Metres: a browser's coarsest fix (from the network) is a few kilometres; past this it is not
a position."""


class SessionLocation(Base):
    """One fix of the caller's phone, kept with the session (purged with it)."""

    __tablename__ = "session_locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("visio_sessions.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    """When the service received it."""
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    accuracy: Mapped[float] = mapped_column(Float)
    """Metres (the browser's 95 % radius)."""
    source: Mapped[str] = mapped_column(String(16))
    """``asked`` (a regulator's request) or ``follow`` (while following)."""
    address: Mapped[str | None] = mapped_column(String(300))
    """The reverse-geocoded address; None when off or failed."""
    asked_by: Mapped[str] = mapped_column(String(128))
    """The regulator who asked (or started following)."""


class Fix(BaseModel):
    """A position as the page reports it; absurd values are refused."""

    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)
    accuracy: float = Field(ge=0, le=MAX_ACCURACY, allow_inf_nan=False)
    """Metres."""


class InvalidLocation(DomainError):
    """The position holds absurd values (out of range, not a number, accuracy negative or
    huge)."""

    error_id = "invalid_location"


class LocationPhoneGone(DomainError):
    """No patient page is open for the session: the request was not sent."""

    error_id = "location_phone_gone"


class LocationNoAnswer(DomainError):
    """The page did not answer in time (or went away before answering)."""

    error_id = "location_no_answer"


class LocationFlood(DomainError):
    """Too many requests in a short time."""

    error_id = "location_flood"


class LocationUnasked(DomainError):
    """A position nobody asked for (no request waiting, no follow the patient agreed to)."""

    error_id = "location_unasked"


@dataclass(frozen=True, slots=True)
class LocationOutcome:
    """What became of one request: a kept fix, or the page's reason."""

    ok: bool
    details: dict[str, Any] = field(default_factory=dict)
    """The ``location.received`` event's details when ``ok``."""
    error: str = ""
    """The page's reason when not ``ok`` (one of :data:`LOCATION_ERRORS`)."""


@dataclass(frozen=True, slots=True)
class _Answer:
    ok: bool
    fix: Fix | None
    error: str
    follow: bool


class Geocoder(Protocol):
    """Turns coordinates into an address (``integration.geocoding.ReverseGeocoder``)."""

    async def address(self, latitude: float, longitude: float) -> str | None:
        """The address, or None."""


Sender = Callable[[dict[str, Any]], Awaitable[None]]
"""Sends one JSON message to a patient page."""
Recorder = Callable[[str, Actor, str, dict[str, Any]], Awaitable[Any]]
"""Appends an event to a session's log (``SessionService.record``)."""
RowRecorder = Callable[[str, Actor, str, dict[str, Any], Sequence[Base]], Awaitable[Any]]
"""Appends an event with rows in one transaction (``SessionService.record_with_rows``)."""


@dataclass
class _Phone:
    send: Sender
    pending: dict[str, asyncio.Future[_Answer]] = field(default_factory=dict)


@dataclass
class _Follow:
    asked_by: Actor
    last: Fix | None = None
    last_at: float = -math.inf
    busy: bool = False


@dataclass
class Locator:
    """Requests for the caller's position and the follows in progress, for one instance."""

    record: Recorder
    record_with_rows: RowRecorder
    geocoder: Geocoder
    timeout: float = 60.0
    """How long a request waits for the page (the patient reads, then agrees)."""
    follow_interval: float = 10.0
    follow_distance: float = 20.0
    imprecise_above: float = 500.0
    """Metres: a less accurate fix is kept marked ``imprecise``."""
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(10, 60.0))
    """Requests per regulator and session."""
    clock: Callable[[], float] = time.monotonic
    _phones: dict[str, _Phone] = field(default_factory=dict)
    _follows: dict[str, _Follow] = field(default_factory=dict)
    _offers: dict[str, Actor] = field(default_factory=dict)
    """Sessions whose regulator asked to follow: the patient's first update starts it."""

    # -- the patient page ----------------------------------------------------------------------

    def attach(self, session_id: str, send: Sender) -> Callable[[], None]:
        """A page of the session is open and takes requests; returns its detach."""
        phone = _Phone(send)
        self._phones[session_id] = phone

        def detach() -> None:
            if self._phones.get(session_id) is phone:
                del self._phones[session_id]
                # A new page asks again: following does not outlive the page that agreed.
                self._follows.pop(session_id, None)
                self._offers.pop(session_id, None)
            for future in phone.pending.values():
                if not future.done():
                    future.set_exception(LocationNoAnswer(reason="page_gone"))

        return detach

    def answer(
        self,
        session_id: str,
        request_id: str,
        *,
        fix: dict[str, Any] | None,
        error: str = "",
        follow: bool = False,
    ) -> None:
        """The page's answer to request ``request_id``.

        Raises :class:`LocationUnasked` when no such request waits, :class:`InvalidLocation`
        for absurd values (the request then ends as ``unavailable``).
        """
        phone = self._phones.get(session_id)
        future = phone.pending.get(request_id) if phone is not None else None
        if future is None or future.done():
            raise LocationUnasked()
        if fix is None:
            reason = error if error in LOCATION_ERRORS else "unavailable"
            future.set_result(_Answer(False, None, reason, False))
            return
        try:
            parsed = _parse(fix)
        except InvalidLocation:
            future.set_result(_Answer(False, None, "unavailable", False))
            raise
        future.set_result(_Answer(True, parsed, "", follow))

    async def update(self, session_id: str, fix: dict[str, Any]) -> bool:
        """A fix sent while following; whether it was kept (False: too soon, too close).

        Raises :class:`LocationUnasked` unless the patient agreed to be followed,
        :class:`InvalidLocation` for absurd values.
        """
        if session_id not in self._phones:
            raise LocationUnasked()
        follow = self._follows.get(session_id)
        if follow is None:
            offered_by = self._offers.pop(session_id, None)
            if offered_by is None:
                raise LocationUnasked()
            parsed = _parse(fix)
            follow = self._follows[session_id] = _Follow(offered_by)
            await self.record(session_id, offered_by, "location.follow_started", {})
        else:
            parsed = _parse(fix)
        now = self.clock()
        moved = follow.last is None or (
            self.follow_distance > 0
            and distance_metres(follow.last, parsed) >= self.follow_distance
        )
        if follow.busy or (now - follow.last_at < self.follow_interval and not moved):
            return False
        follow.busy = True
        follow.last, follow.last_at = parsed, now
        try:
            await self._keep(session_id, follow.asked_by, parsed, "follow", {})
        finally:
            follow.busy = False
        return True

    async def patient_stopped(self, session_id: str, actor: Actor) -> None:
        """The patient stopped sharing their position."""
        self._offers.pop(session_id, None)
        if self._follows.pop(session_id, None) is not None:
            await self.record(session_id, actor, "location.follow_stopped", {"by": "patient"})

    # -- the consoles --------------------------------------------------------------------------

    def following(self, session_id: str) -> bool:
        """Whether the session's page sends its position as it moves."""
        return session_id in self._follows

    async def ask(
        self, session_id: str, actor: Actor, request_id: str, *, follow: bool = False
    ) -> LocationOutcome:
        """Ask the session's page for the caller's position and wait for it (kept on success).

        Raises :class:`LocationFlood`, :class:`LocationPhoneGone` or :class:`LocationNoAnswer`;
        a refusal on the phone comes back as a not ``ok`` outcome (also in the log).
        """
        try:
            self.limiter.hit(f"{actor.name}\x00{session_id}")
        except RateLimitExceeded as error:
            raise LocationFlood(seconds=error.retry_after) from None
        details: dict[str, Any] = {"id": request_id, "follow": follow}
        phone = self._phones.get(session_id)
        if phone is None:
            await self.record(session_id, actor, "location.failed", details | {"error": "absent"})
            raise LocationPhoneGone()
        if request_id in phone.pending:
            raise DomainError("invalid_message")
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        phone.pending[request_id] = future
        await self.record(session_id, actor, "location.asked", details)
        try:
            message = {"type": "location.ask", "v": PROTOCOL_VERSION, "id": request_id}
            await phone.send(message | {"follow": follow})
            async with asyncio.timeout(self.timeout):
                answer = await future
        except (TimeoutError, LocationNoAnswer, ConnectionError, RuntimeError) as error:
            reason = "timeout" if isinstance(error, TimeoutError) else "page_gone"
            await self.record(session_id, actor, "location.failed", details | {"error": reason})
            if reason == "page_gone":
                raise LocationPhoneGone() from None
            raise LocationNoAnswer(reason=reason) from None
        finally:
            phone.pending.pop(request_id, None)
            if not future.done():
                future.cancel()
        if not answer.ok or answer.fix is None:
            await self.record(
                session_id, actor, "location.failed", details | {"error": answer.error}
            )
            return LocationOutcome(False, error=answer.error)
        kept = await self._keep(session_id, actor, answer.fix, "asked", {"id": request_id})
        if follow and self._phones.get(session_id) is phone and session_id not in self._follows:
            if answer.follow:  # the patient agreed already
                self._follows[session_id] = _Follow(actor, answer.fix, self.clock())
                await self.record(session_id, actor, "location.follow_started", {"id": request_id})
            else:  # the page asks the patient; their first update starts it
                self._offers[session_id] = actor
        return LocationOutcome(True, kept)

    async def stop(self, session_id: str, actor: Actor) -> bool:
        """The regulator stops following; whether a follow was in progress."""
        offered = self._offers.pop(session_id, None) is not None
        if self._follows.pop(session_id, None) is None and not offered:
            return False
        phone = self._phones.get(session_id)
        if phone is not None:
            # A page that is going stops with it.
            with contextlib.suppress(ConnectionError, RuntimeError):
                await phone.send({"type": "location.stop", "v": PROTOCOL_VERSION})
        await self.record(session_id, actor, "location.follow_stopped", {"by": "regulator"})
        return True

    # -- helpers -------------------------------------------------------------------------------

    async def _keep(
        self, session_id: str, actor: Actor, fix: Fix, source: str, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """Geocode, then keep the fix: its row and its event in one transaction."""
        address = await self.geocoder.address(fix.latitude, fix.longitude)
        row = SessionLocation(
            session_id=session_id,
            at=utcnow(),
            latitude=fix.latitude,
            longitude=fix.longitude,
            accuracy=fix.accuracy,
            source=source,
            address=address,
            asked_by=actor.name,
        )
        details = extra | {
            "latitude": fix.latitude,
            "longitude": fix.longitude,
            "accuracy": fix.accuracy,
            "address": address,
            "imprecise": fix.accuracy > self.imprecise_above,
            "source": source,
        }
        await self.record_with_rows(session_id, actor, "location.received", details, [row])
        return details


def _parse(fix: dict[str, Any]) -> Fix:
    try:
        return Fix.model_validate(fix)
    except ValidationError:
        raise InvalidLocation() from None


def distance_metres(a: Fix, b: Fix) -> float:
    """Great-circle distance between two fixes (haversine, mean Earth radius)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))
