"""Screenshots: a still of the patient's video, taken by the service at the regulator's click.

The service asks the session's room for the publisher's next keyframe (a keyframe request goes
to the patient's phone at once) and decodes that one frame to JPEG, on the side
(:meth:`visioregul.media.Room.capture_still`). The JPEG is kept in the file storage under the
session's prefix, its record (``session_files``, kind ``screenshot``) and the event
``still.taken`` (who, when) are written in one transaction, and every console following the
session hears of it through the session's log. Files go with their session at the retention
purge.

A screenshot asked while no video flows is refused with :class:`StillUnavailable` after a
bounded wait, never left hanging.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from visioregul.media import MediaError

from .errors import DomainError
from .ratelimit import RateLimiter, RateLimitExceeded
from .sessions.errors import SessionClosed
from .sessions.housekeeping import session_files_prefix
from .sessions.models import SessionFile
from .sessions.services import Actor, SessionService
from .sessions.state import FINAL_STATES
from .storage import FileNotStored, FileStorage
from .store.models import utcnow
from .video import RoomRegistry

__all__ = [
    "SCREENSHOT",
    "STILL_TIMEOUT",
    "Still",
    "StillNotFound",
    "StillUnavailable",
    "Stills",
    "TooManyStills",
]

log = logging.getLogger(__name__)

SCREENSHOT = "screenshot"
"""The ``kind`` of a still taken from the video."""
JPEG = "image/jpeg"
STILL_TIMEOUT = 2.0
"""Seconds to wait for the publisher's keyframe: a phone answers a request within a few hundred
milliseconds; past this the video is not flowing."""
STILLS_PER_MINUTE = 30
"""Per session: far more than a regulator clicks, few enough that a flood of requests cannot keep
the decoder busy or fill the disk."""


class StillUnavailable(DomainError):
    """No picture can be taken now: no video flows from the patient (``reason`` says what the
    relay found: ``no_publisher``, ``still_timeout``, ``still_failed``, ``room_closed``)."""

    error_id = "still_unavailable"


class TooManyStills(DomainError):
    """Screenshots asked too fast in one session; ``retry_after`` in seconds."""

    error_id = "too_many_stills"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after


class StillNotFound(DomainError):
    """No such still in this session (or its file is gone)."""

    error_id = "still_not_found"


@dataclass(frozen=True, slots=True)
class Still:
    """A still as the edges show it."""

    id: str
    session_id: str
    number: int
    """Its rank among the session's screenshots, from 1 (in its download name)."""
    taken_at: datetime
    taken_by: str
    content_type: str
    size: int


class Stills:
    """Takes, lists and reads back the screenshots of sessions."""

    def __init__(
        self,
        service: SessionService,
        rooms: RoomRegistry,
        storage: FileStorage,
        *,
        timeout: float = STILL_TIMEOUT,
        per_minute: int = STILLS_PER_MINUTE,
    ) -> None:
        """Stills of ``service``'s sessions, from ``rooms``, kept in ``storage``."""
        self._service = service
        self._rooms = rooms
        self._storage = storage
        self._timeout = timeout
        self._limiter = RateLimiter(per_minute, 60.0)

    async def take(self, session_id: str, actor: Actor) -> Still:
        """Take a screenshot of the session's video now, keep it, and log ``still.taken``.

        Raises ``SessionNotFound``, ``SessionClosed``, :class:`TooManyStills`, or
        :class:`StillUnavailable` when no video flows (within :data:`STILL_TIMEOUT`).
        """
        detail = await self._service.get(session_id)
        if detail.session.state in FINAL_STATES:
            raise SessionClosed(state=detail.session.state)
        try:
            self._limiter.hit(session_id)
        except RateLimitExceeded as exceeded:
            raise TooManyStills(exceeded.retry_after) from None
        room = self._rooms.find(session_id)
        if room is None:
            raise StillUnavailable(reason="no_publisher")
        try:
            jpeg = await room.capture_still(timeout=self._timeout)
        except MediaError as error:
            log.info("session %s: no still (%s)", session_id, error.error_id)
            raise StillUnavailable(reason=error.error_id) from error
        return await self.keep(session_id, actor, jpeg)

    async def keep(self, session_id: str, actor: Actor, jpeg: bytes) -> Still:
        """Keep ``jpeg`` as a screenshot of the session taken by ``actor`` now, and log
        ``still.taken``; ``SessionClosed`` once the session has ended."""
        still_id = secrets.token_hex(16)
        key = f"{session_files_prefix(session_id)}/stills/{still_id}.jpg"
        await self._storage.put(key, jpeg)
        row = SessionFile(
            id=still_id,
            session_id=session_id,
            kind=SCREENSHOT,
            taken_at=utcnow(),
            taken_by=actor.name,
            content_type=JPEG,
            size=len(jpeg),
            storage_key=key,
        )
        try:
            await self._service.record_with_rows(
                session_id,
                actor,
                "still.taken",
                {"still_id": still_id, "size": len(jpeg), "content_type": JPEG},
                [row],
            )
        except BaseException:
            # Not recorded (the session ended meanwhile...): keep no file nobody can reach.
            await self._storage.delete(key)
            raise
        log.info("session %s: still %s taken by %s", session_id, still_id, actor.name)
        stills = await self.list(session_id)
        return next(still for still in stills if still.id == still_id)

    async def list(self, session_id: str) -> list[Still]:
        """The session's screenshots, newest first."""
        async with self._service.db() as db:
            rows = list(
                await db.scalars(
                    select(SessionFile)
                    .where(SessionFile.session_id == session_id, SessionFile.kind == SCREENSHOT)
                    .order_by(SessionFile.taken_at, SessionFile.id)
                )
            )
        return [_still(row, number) for number, row in reversed(list(enumerate(rows, 1)))]

    async def read(self, session_id: str, still_id: str) -> tuple[Still, bytes]:
        """A still of the session and its bytes; :class:`StillNotFound` otherwise."""
        for still in await self.list(session_id):
            if still.id == still_id:
                break
        else:
            raise StillNotFound()
        async with self._service.db() as db:
            key = await db.scalar(select(SessionFile.storage_key).where(SessionFile.id == still_id))
        try:
            return still, await self._storage.get(key or "")
        except (FileNotStored, ValueError):
            log.warning("session %s: the file of still %s is missing", session_id, still_id)
            raise StillNotFound() from None


def _still(row: SessionFile, number: int) -> Still:
    return Still(
        id=row.id,
        session_id=row.session_id,
        number=number,
        taken_at=row.taken_at,
        taken_by=row.taken_by,
        content_type=row.content_type,
        size=row.size,
    )
