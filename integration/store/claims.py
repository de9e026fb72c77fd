"""Side effects done once across every instance that sees the same event.

Each instance of the service watches the same Asterisk: every one of them hears a desk phone's
key, a call's end, a transfer. Reading is fine everywhere; acting (an SMS, a session, a
``Setvar``, an event in a session's log) must happen once. The first instance to insert the
action's key into ``action_claims`` acts; the others see the key taken and stand back. A unique
key, not a lock: nothing to release, and an instance that dies after claiming leaves a row that
says who had the action.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime, utcnow

__all__ = ["KEEP_CLAIMS", "ActionClaim", "claim", "purge_claims"]

KEEP_CLAIMS = timedelta(days=2)
"""How long a claim is kept: far longer than any event can reach a late instance."""


class ActionClaim(Base):
    """One action taken by one instance (see the module's docstring)."""

    __tablename__ = "action_claims"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """What was done, to what: ``feature-code:<press>``, ``call-event:<call>:<event>``."""
    instance: Mapped[str] = mapped_column(String(64))
    """The instance that took it (``service.instance_id``)."""
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


async def claim(db: AsyncSession, key: str, instance: str) -> bool:
    """Take ``key`` for ``instance``: True for the first caller across every instance, False
    for every later one (the key is taken). Commits with the caller's transaction."""
    values = {"key": key, "instance": instance, "claimed_at": utcnow()}
    dialect = db.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ActionClaim).values(values).on_conflict_do_nothing(index_elements=["key"])
    result = await db.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


async def purge_claims(db: AsyncSession, now: datetime | None = None) -> int:
    """Forget claims older than :data:`KEEP_CLAIMS`; return how many."""
    limit = (now or utcnow()) - KEEP_CLAIMS
    result = await db.execute(delete(ActionClaim).where(ActionClaim.claimed_at < limit))
    return int(getattr(result, "rowcount", 0) or 0)
