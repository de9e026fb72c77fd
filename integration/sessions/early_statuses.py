"""Gateway reports that overtake the gateway's answer to the send, kept in the store.

Twilio may call back about a message before the service has read Twilio's answer to sending it
(the message's id): the report names an id no invitation holds yet. It is kept here until the
sender stores the id, then applied. In the store, not in memory: with several instances, the
report may reach an instance that did not send the message.

Both sides write, then look for the other's write: the sender stores the id, then takes the
report; the report is stored, then the invitation looked for again. Whichever commits second
sees the first, so a report is never left behind (it may be applied twice: applying is
idempotent).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ..messaging import DeliveryStatus
from ..store.models import Base, UTCDateTime, utcnow

__all__ = ["KEEP_EARLY", "EarlyStatus", "keep_early", "purge_early", "take_early"]

KEEP_EARLY = timedelta(minutes=10)
"""How long a report waits for its message's id (the send's answer takes seconds)."""


class EarlyStatus(Base):
    """A gateway's report about a message id not stored yet."""

    __tablename__ = "early_statuses"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    """A ``DeliveryStatus`` value: the most advanced one reported."""
    error_code: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


async def keep_early(
    db: AsyncSession,
    provider_id: str,
    status: DeliveryStatus,
    error_code: str | None,
    progress: dict[DeliveryStatus, int],
) -> None:
    """Keep a report (the most advanced of those received, by ``progress``)."""
    await purge_early(db)
    kept = await db.get(EarlyStatus, provider_id, with_for_update=True)
    if kept is None:
        db.add(EarlyStatus(provider_id=provider_id, status=status.value, error_code=error_code))
        return
    if progress[status] >= progress[DeliveryStatus(kept.status)]:
        kept.status = status.value
        kept.error_code = error_code
        kept.received_at = utcnow()


async def take_early(
    db: AsyncSession, provider_id: str
) -> tuple[DeliveryStatus, str | None] | None:
    """The report kept for ``provider_id``, removed; None when there is none."""
    kept = await db.scalar(
        select(EarlyStatus).where(EarlyStatus.provider_id == provider_id).with_for_update()
    )
    if kept is None:
        return None
    await db.delete(kept)
    return DeliveryStatus(kept.status), kept.error_code


async def purge_early(db: AsyncSession, now: datetime | None = None) -> int:
    """Forget reports older than :data:`KEEP_EARLY`; return how many."""
    limit = (now or utcnow()) - KEEP_EARLY
    result = await db.execute(delete(EarlyStatus).where(EarlyStatus.received_at < limit))
    return int(getattr(result, "rowcount", 0) or 0)
