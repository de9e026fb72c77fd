"""The centre's declared positions, in the store: the desk-phone endpoints (``PJSIP/1001``) that
calls and consoles may be at.

A position is declared once (from ``console.positions`` at start, ``visioregul position add``, or
by giving it to an account) and must match ``telephony.position_pattern`` in full. Functions take
the caller's ``AsyncSession`` and never commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .store.models import DEFAULT_CENTRE_ID, Account, Position

__all__ = [
    "POSITION_MAX_LENGTH",
    "InvalidPosition",
    "check_position",
    "declare_positions",
    "declared_positions",
    "find_positions",
    "remove_position",
]

POSITION_MAX_LENGTH = 64


class InvalidPosition(ValueError):
    """A position that cannot name a desk phone of the centre (or does not match the pattern)."""

    error_id = "invalid-position"

    def __init__(self, message: str, position: str) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def check_position(position: str, pattern: str | None = None) -> str:
    """``position`` without surrounding spaces; raise :class:`InvalidPosition` when it is empty,
    too long, or does not match ``pattern`` (``telephony.position_pattern``) in full."""
    cleaned = position.strip()
    if not cleaned or len(cleaned) > POSITION_MAX_LENGTH:
        raise InvalidPosition(
            f"position must be 1 to {POSITION_MAX_LENGTH} characters long, e.g. PJSIP/1001",
            position,
        )
    if pattern is not None and not re.fullmatch(pattern, cleaned):
        raise InvalidPosition(
            f"position {cleaned!r} does not match the position pattern {pattern!r}", position
        )
    return cleaned


async def find_positions(
    db: AsyncSession, endpoints: Iterable[str], *, centre_id: int = DEFAULT_CENTRE_ID
) -> dict[str, Position]:
    """The declared positions among ``endpoints``, by endpoint."""
    wanted = set(endpoints)
    if not wanted:
        return {}
    rows = await db.scalars(
        select(Position).where(Position.centre_id == centre_id, Position.endpoint.in_(wanted))
    )
    return {position.endpoint: position for position in rows}


async def declare_positions(
    db: AsyncSession,
    endpoints: Iterable[str],
    *,
    pattern: str | None = None,
    centre_id: int = DEFAULT_CENTRE_ID,
) -> list[Position]:
    """Declare each of ``endpoints`` (those already declared are left as they are); the
    positions, in the order given. Everything is checked before anything is added."""
    cleaned = list(dict.fromkeys(check_position(endpoint, pattern) for endpoint in endpoints))
    known = await find_positions(db, cleaned, centre_id=centre_id)
    for endpoint in cleaned:
        if endpoint not in known:
            known[endpoint] = Position(centre_id=centre_id, endpoint=endpoint)
            db.add(known[endpoint])
    await db.flush()
    return [known[endpoint] for endpoint in cleaned]


async def declared_positions(db: AsyncSession, *, centre_id: int = DEFAULT_CENTRE_ID) -> list[str]:
    """Every declared position of the centre, sorted (for the telephony's position directory)."""
    rows = await db.scalars(
        select(Position.endpoint).where(Position.centre_id == centre_id).order_by(Position.endpoint)
    )
    return list(rows)


async def remove_position(
    db: AsyncSession, endpoint: str, *, centre_id: int = DEFAULT_CENTRE_ID
) -> bool:
    """Withdraw a position (accounts lose it too); whether it was declared."""
    await db.execute(
        update(Account)
        .where(Account.centre_id == centre_id, Account.position == endpoint)
        .values(position=None)
    )
    result = await db.execute(
        delete(Position).where(Position.centre_id == centre_id, Position.endpoint == endpoint)
    )
    return bool(getattr(result, "rowcount", 0))
