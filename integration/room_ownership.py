"""Which instance holds each live room, seen from one instance.

One instance alone (SQLite, or PostgreSQL without ``service.direct_url``) holds every room and
asks nothing of the store. Several instances on PostgreSQL record the holder of each room under a
lease (:mod:`.store.room_owners`): the first instance that needs a room (a patient's page, a
console watching) claims it; the others pass that room's sockets and requests to the holder.

The holder renews its leases every :data:`RENEW_EVERY` seconds. When it cannot (PostgreSQL lost,
or another instance took a room whose lease ran out), it stops acting on those rooms at once:
:attr:`RoomOwnership.on_lost` closes them here, and their pages reconnect to the new holder.
An instance that finds nothing listening at a holder's direct URL ends that holder's leases
(:meth:`RoomOwnership.holder_gone`): a process killed with ``kill -9`` loses its rooms within a
second, not at the end of its leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .errors import DomainError
from .sessions.journal import SessionUpdate
from .store.room_owners import (
    Holder,
    claim_room,
    expire_instance,
    find_holder,
    release_instance,
    release_room,
    renew_leases,
)

__all__ = [
    "LEASE",
    "RENEW_EVERY",
    "InstanceUnreachable",
    "RoomHere",
    "RoomOwnership",
    "RoomThere",
]

log = logging.getLogger(__name__)

LEASE = 8.0
"""Seconds a lease runs without renewal: how long the rooms of a machine that vanished without
closing its sockets (power lost, network cut) wait before another instance takes them."""
_SESSION_ID = re.compile(r"[0-9a-f]{32}")
"""What a session's id looks like (``secrets.token_hex(16)``): anything else has no room."""
_CLOSING_EVENTS = frozenset({"session.ended", "session.expired"})
RENEW_EVERY = 2.0
_MARGIN = 1.0
"""Seconds before its leases run out that an instance which could not renew them stops acting
on their rooms (a commit's delay, clocks read at different moments)."""
"""Seconds between renewals: a renewal may fail three times before the lease runs out."""


class InstanceUnreachable(DomainError):
    """The instance holding the session's room does not answer now: try again in a moment."""

    error_id = "instance_unreachable"


@dataclass(frozen=True, slots=True)
class RoomHere:
    """This instance holds the room."""

    previous: str | None = None
    """The instance it was taken from (its lease had run out), when it was just taken."""


@dataclass(frozen=True, slots=True)
class RoomThere:
    """Another instance holds the room: reach it at ``direct_url``."""

    instance: str
    direct_url: str


class RoomOwnership:
    """The rooms this instance holds, and where the others are."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession] | None,
        instance: str,
        direct_url: str = "",
    ) -> None:
        """``db`` None: one instance, holding every room."""
        self._db = db
        self.instance = instance
        self.direct_url = direct_url
        self._held: dict[str, float] = {}
        """Session to the loop time it was claimed at."""
        self._task: asyncio.Task[None] | None = None
        self._releasing: set[asyncio.Task[None]] = set()
        self._renewed_at: float | None = None
        self._stopping = False
        self.taken_over = 0
        """Rooms taken from an instance that was gone, since the start."""
        self.lost = 0
        """Rooms another instance took from this one, since the start."""
        self.on_lost: list[Callable[[set[str]], None]] = []
        """Called with the sessions whose rooms this instance no longer holds."""
        self.on_taken: list[Callable[[str, str], None]] = []
        """Called with ``(session_id, previous instance)`` when a room is taken over here."""

    @property
    def shared(self) -> bool:
        """Whether several instances share the rooms."""
        return self._db is not None

    @property
    def held(self) -> frozenset[str]:
        """Sessions whose room this instance holds (claimed, several instances only)."""
        return frozenset(self._held)

    async def start(self) -> None:
        """Forget the rooms a previous run of this instance held, then renew leases forever."""
        if self._db is None or self._task is not None:
            return
        async with self._db.begin() as db:
            count = await release_instance(db, self.instance)
        if count:
            log.info("%d rooms of this instance's previous run given up", count)
        self._renewed_at = asyncio.get_running_loop().time() - _MARGIN
        self._task = asyncio.create_task(self._renew_forever(), name="room-leases")

    async def close(self) -> None:
        """Stop renewing and give every room up, so that another instance takes them at once
        (a rolling restart: the pages reconnect to another instance)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._db is None or not self._held:
            return
        try:
            async with asyncio.timeout(3), self._db.begin() as db:
                await release_instance(db, self.instance)
        except Exception:  # the leases run out by themselves
            log.warning("rooms not given up at stop; their leases will run out", exc_info=True)
        self._held.clear()

    async def claim(self, session_id: str) -> RoomHere | RoomThere:
        """Where the room is: here (claimed now if nobody holds it), or at another instance."""
        if self._db is None or not _SESSION_ID.fullmatch(session_id):
            return RoomHere()  # not a session's id: refused here as usual
        if self._stopping:
            # Handing rooms over: a page or console asking now tries again, elsewhere.
            raise InstanceUnreachable()
        async with self._db.begin() as db:
            holder = await claim_room(db, session_id, self.instance, self.direct_url, LEASE)
        return self._placed(session_id, holder)

    async def find(self, session_id: str) -> RoomThere | None:
        """The other instance holding the room, or None (here, or nobody): claims nothing."""
        if self._db is None or not _SESSION_ID.fullmatch(session_id):
            return None
        async with self._db() as db:
            holder = await find_holder(db, session_id)
        if holder is None or holder.instance == self.instance:
            return None
        return RoomThere(holder.instance, holder.direct_url)

    async def holder_gone(self, there: RoomThere) -> None:
        """Nothing listens at ``there``'s direct URL: its process is gone, its leases end."""
        if self._db is None:
            return
        async with self._db.begin() as db:
            count = await expire_instance(db, there.instance, there.direct_url)
        if count:
            log.warning(
                "instance %s is gone (nothing at %s): its %d rooms may be taken",
                there.instance,
                there.direct_url,
                count,
            )

    def on_session(self, update: SessionUpdate) -> None:
        """Session listener: the room of a session that ends or expires is nobody's."""
        if update.event.type in _CLOSING_EVENTS and update.session.id in self._held:
            task = asyncio.create_task(self._release_quietly(update.session.id))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

    async def _release_quietly(self, session_id: str) -> None:
        try:
            await self.release(session_id)
        except Exception:  # harmless: nobody claims an ended session's room; the row goes with
            # the session's purge, or at this instance's next start
            log.warning("room of session %s not given up", session_id, exc_info=True)

    async def release(self, session_id: str) -> None:
        """The session ended: its room is nobody's."""
        if self._db is None or session_id not in self._held:
            return
        del self._held[session_id]
        async with self._db.begin() as db:
            await release_room(db, session_id, self.instance)

    def _placed(self, session_id: str, holder: Holder) -> RoomHere | RoomThere:
        if holder.instance != self.instance:
            return RoomThere(holder.instance, holder.direct_url)
        if not holder.live:
            return RoomHere()  # ended: served here, where it is refused as usual
        self._held.setdefault(session_id, asyncio.get_running_loop().time())
        if holder.previous is not None:
            self.taken_over += 1
            log.warning(
                "room of session %s taken over from instance %s", session_id, holder.previous
            )
            for callback in self.on_taken:
                callback(session_id, holder.previous)
        return RoomHere(holder.previous)

    async def _renew_forever(self) -> None:
        assert self._db is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(RENEW_EVERY)
            started = loop.time()
            assert self._renewed_at is not None
            # The leases run until at least LEASE after the last renewal began (PostgreSQL's
            # clock read inside it): stop acting a margin before, whatever this attempt does.
            deadline = self._renewed_at + LEASE - _MARGIN
            try:
                wait = max(0.1, min(RENEW_EVERY, deadline - started))
                async with asyncio.timeout(wait), self._db.begin() as db:
                    still = await renew_leases(db, self.instance, LEASE)
            except Exception as error:
                if self._held and loop.time() + RENEW_EVERY >= deadline:
                    # The next attempt would end after the leases: another instance may take
                    # these rooms then, so they close here now.
                    log.error("room leases not renewed (%s): their rooms close here", error)
                    self._lose(set(self._held))
                else:
                    log.warning("room leases not renewed: %s", error)
                continue
            self._renewed_at = started
            # A room claimed while the renewal ran may be missing from its answer: not lost.
            lost = {s for s, at in self._held.items() if at < started and s not in still}
            if lost:
                log.warning("%d rooms are held by another instance now", len(lost))
                self._lose(lost)

    def _lose(self, sessions: set[str]) -> None:
        for session_id in sessions:
            if self._held.pop(session_id, None) is not None:
                self.lost += 1
        for callback in self.on_lost:
            try:
                callback(sessions)
            except Exception:  # one holder's failure must not keep the others open
                log.exception("closing lost rooms failed")
