"""The local outbox: messages are stored in the database instead of being sent.

Used in development and demos (and as the default), so that nothing leaves the machine; the
console lists the stored messages and a developer opens the links from there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..store.models import OutboxMessage
from .port import DeliveryStatus, OutgoingMessage, SendResult

__all__ = ["OutboxSender", "recent_outbox"]

_logger = logging.getLogger(__name__)

_IDEMPOTENCY_KEY_MAX_LENGTH = 128


class OutboxSender:
    """A :class:`~.port.MessageSender` that stores messages in ``outbox_messages``.

    Each send is its own transaction: like a real gateway, the outbox has taken the message once
    ``send`` returns, whatever happens to the caller's transaction. A message whose idempotency
    key is already stored is not stored again, and gets the first one's result.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Store ``message`` (once per idempotency key) and report it simulated: never
        delivered, since nothing left the service."""
        key = message.idempotency_key
        if not key or len(key) > _IDEMPOTENCY_KEY_MAX_LENGTH:
            raise ValueError(
                f"idempotency key must be 1 to {_IDEMPOTENCY_KEY_MAX_LENGTH} characters"
            )
        async with self._sessionmaker.begin() as session:
            row = OutboxMessage(
                idempotency_key=key,
                channel=message.channel.value,
                to=message.to,
                subject=message.subject,
                text=message.text,
                html=message.html,
            )
            try:
                # Insert first and let the unique key decide: a look-up first would race with a
                # concurrent send of the same message (and, on SQLite, could not then write).
                async with session.begin_nested():
                    session.add(row)
            except IntegrityError:
                existing = await session.scalar(
                    select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
                )
                if existing is None:
                    raise
                if (existing.channel, existing.to, existing.text) != (
                    message.channel.value,
                    message.to,
                    message.text,
                ):
                    _logger.warning(
                        "outbox: key %r was already used for another message; keeping the first",
                        key,
                    )
                row = existing
        return _result(row)

    async def close(self) -> None:
        """Nothing to release (the engine belongs to the caller); safe to call more than once."""


def _result(row: OutboxMessage) -> SendResult:
    return SendResult(status=DeliveryStatus.SIMULATED, provider_id=f"outbox-{row.id}")


async def recent_outbox(session: AsyncSession, limit: int = 50) -> Sequence[OutboxMessage]:
    """The ``limit`` most recent outbox messages, newest first."""
    if limit < 1:
        raise ValueError(f"limit must be positive: {limit}")
    result = await session.scalars(
        select(OutboxMessage)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    return result.all()
