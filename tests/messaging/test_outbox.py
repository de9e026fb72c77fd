"""The local outbox, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.integration.messaging import (
    Channel,
    DeliveryStatus,
    OutboxSender,
    OutgoingMessage,
    SendResult,
    recent_outbox,
)
from visioregul.integration.store.models import OutboxMessage


def sms(
    key: str, text: str = "SAMU 15 : lien vidéo https://visio.example/p/abc"
) -> OutgoingMessage:
    return OutgoingMessage(idempotency_key=key, channel=Channel.SMS, to="+33612345678", text=text)


async def count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_given_a_message_when_sending_then_stored_and_reported_delivered(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sender = OutboxSender(sessionmaker)

    result = await sender.send(sms("inv-1"))

    async with sessionmaker() as session:
        stored = (await recent_outbox(session))[0]
    assert result == SendResult(status=DeliveryStatus.SIMULATED, provider_id=f"outbox-{stored.id}")
    assert (stored.idempotency_key, stored.channel, stored.to) == (
        "inv-1",
        "sms",
        "+33612345678",
    )
    assert stored.text == "SAMU 15 : lien vidéo https://visio.example/p/abc"
    assert stored.subject is None and stored.html is None
    assert stored.created_at.tzinfo is not None


async def test_given_an_email_when_sending_then_subject_and_html_are_kept(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    message = OutgoingMessage(
        idempotency_key="inv-mail",
        channel=Channel.EMAIL,
        to="appelant@example.org",
        text="Bonjour,\n",
        subject="SAMU 15 : lien vidéo",
        html="<p>Bonjour,</p>",
    )

    await OutboxSender(sessionmaker).send(message)

    async with sessionmaker() as session:
        stored = (await recent_outbox(session))[0]
    assert (stored.channel, stored.to, stored.subject, stored.text, stored.html) == (
        "email",
        "appelant@example.org",
        "SAMU 15 : lien vidéo",
        "Bonjour,\n",
        "<p>Bonjour,</p>",
    )


async def test_given_the_same_key_twice_when_sending_then_stored_once_with_the_same_result(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sender = OutboxSender(sessionmaker)

    first = await sender.send(sms("inv-2"))
    second = await sender.send(sms("inv-2"))

    assert second == first
    assert await count(sessionmaker) == 1


async def test_given_the_same_key_at_once_when_sending_then_stored_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two tasks sending the same invitation together: the unique key decides, not a look-up."""
    sender = OutboxSender(sessionmaker)

    async with asyncio.timeout(30):
        results = await asyncio.gather(*(sender.send(sms("inv-3")) for _ in range(5)))

    assert len(set(results)) == 1
    assert await count(sessionmaker) == 1


async def test_given_a_reused_key_with_other_words_when_sending_then_the_first_is_kept(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sender = OutboxSender(sessionmaker)
    first = await sender.send(sms("inv-4", text="first"))

    second = await sender.send(sms("inv-4", text="second"))

    assert second == first
    async with sessionmaker() as session:
        assert [m.text for m in await recent_outbox(session)] == ["first"]


async def test_given_several_messages_when_listing_then_newest_first_within_the_limit(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sender = OutboxSender(sessionmaker)
    for key in ("a", "b", "c"):
        await sender.send(sms(key))

    async with sessionmaker() as session:
        recent = await recent_outbox(session, limit=2)
        everything = await recent_outbox(session)

    assert [m.idempotency_key for m in recent] == ["c", "b"]
    assert [m.idempotency_key for m in everything] == ["c", "b", "a"]


async def test_given_an_outbox_sender_when_closing_twice_then_nothing_happens(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sender = OutboxSender(sessionmaker)

    await sender.close()
    await sender.close()
