"""Which instance holds each live room, under a lease, in PostgreSQL.

A room's media live in one process: the instance that holds the room answers its patient's and
its consoles' sockets, the others pass those sockets to it. The holder renews the leases of all
its rooms in one statement every few seconds; a lease that has run out (its holder died, or lost
PostgreSQL) may be taken by any instance. Times are PostgreSQL's own clock, never an instance's,
so that instances whose clocks drift apart still agree on who holds a room.

Only several instances on PostgreSQL use this table: one instance on SQLite holds every room.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime

__all__ = [
    "Holder",
    "RoomOwner",
    "claim_room",
    "expire_instance",
    "find_holder",
    "release_instance",
    "release_room",
    "renew_leases",
]


class RoomOwner(Base):
    """The instance holding one session's room (see the module's docstring)."""

    __tablename__ = "room_owners"

    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("visio_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    instance: Mapped[str] = mapped_column(String(64), index=True)
    """``service.instance_id`` of the holder."""
    direct_url: Mapped[str] = mapped_column(String(300))
    """Where the other instances reach the holder (``service.direct_url``)."""
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class Holder:
    """The instance holding a room."""

    instance: str
    direct_url: str
    previous: str | None = None
    """When this claim took the room from another instance (its lease had run out): that one."""
    live: bool = True
    """False when the session has ended (or does not exist): nobody holds its room."""


async def find_holder(db: AsyncSession, session_id: str) -> Holder | None:
    """The instance whose lease on the room runs, or None."""
    row = (
        await db.execute(
            text(
                "SELECT instance, direct_url FROM room_owners "
                "WHERE session_id = :session AND lease_until > now()"
            ),
            {"session": session_id},
        )
    ).first()
    return Holder(row.instance, row.direct_url) if row else None


async def claim_room(
    db: AsyncSession, session_id: str, instance: str, direct_url: str, lease: float
) -> Holder:
    """Take the room for ``instance`` unless another instance's lease runs; return the holder.

    Commits with the caller's transaction; the row is locked until then, so two instances that
    claim at once are served one after the other.
    """
    row = (
        await db.execute(
            text(
                "SELECT instance, direct_url, lease_until > now() AS live FROM room_owners "
                "WHERE session_id = :session FOR UPDATE"
            ),
            {"session": session_id},
        )
    ).first()
    values = {"session": session_id, "instance": instance, "url": direct_url, "lease": lease}
    if row is None:
        # Only an open session's room is held by anybody (an ended one has none to hold).
        inserted = (
            await db.execute(
                text(
                    "INSERT INTO room_owners "
                    "(session_id, instance, direct_url, claimed_at, lease_until) "
                    "SELECT id, :instance, :url, now(), "
                    "now() + make_interval(secs => :lease) FROM visio_sessions "
                    "WHERE id = CAST(:session AS VARCHAR) AND state NOT IN ('ended', 'expired') "
                    "ON CONFLICT (session_id) DO NOTHING RETURNING instance"
                ),
                values,
            )
        ).first()
        if inserted is not None:
            return Holder(instance, direct_url)
        taken = await db.scalar(
            text("SELECT 1 FROM room_owners WHERE session_id = :session"), values
        )
        if taken:  # another instance inserted it meanwhile: ask again, locked
            return await claim_room(db, session_id, instance, direct_url, lease)
        return Holder(instance, direct_url, live=False)
    if row.instance != instance and row.live:
        return Holder(row.instance, row.direct_url)
    previous = row.instance if row.instance != instance else None
    await db.execute(
        text(
            "UPDATE room_owners SET instance = :instance, direct_url = :url, "
            + ("claimed_at = now(), " if previous else "")
            + "lease_until = now() + make_interval(secs => :lease) WHERE session_id = :session"
        ),
        values,
    )
    return Holder(instance, direct_url, previous)


async def renew_leases(db: AsyncSession, instance: str, lease: float) -> set[str]:
    """Renew every lease ``instance`` still holds; return the sessions it holds."""
    result = await db.execute(
        text(
            "UPDATE room_owners SET lease_until = now() + make_interval(secs => :lease) "
            "WHERE instance = :instance RETURNING session_id"
        ),
        {"instance": instance, "lease": lease},
    )
    return {row.session_id for row in result}


async def expire_instance(db: AsyncSession, instance: str, direct_url: str) -> int:
    """End the leases of an instance known to be gone (nothing listens at its direct URL)."""
    result = await db.execute(
        text(
            "UPDATE room_owners SET lease_until = now() - interval '1 second' "
            "WHERE instance = :instance AND direct_url = :url AND lease_until > now()"
        ),
        {"instance": instance, "url": direct_url},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release_room(db: AsyncSession, session_id: str, instance: str) -> None:
    """Give the room up (its session ended, or this instance stops)."""
    await db.execute(
        text("DELETE FROM room_owners WHERE session_id = :session AND instance = :instance"),
        {"session": session_id, "instance": instance},
    )


async def release_instance(db: AsyncSession, instance: str) -> int:
    """Give up every room of ``instance`` (it stops, or starts again holding none)."""
    result = await db.execute(
        text("DELETE FROM room_owners WHERE instance = :instance"), {"instance": instance}
    )
    return int(getattr(result, "rowcount", 0) or 0)
