"""Choosing the senders from the settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker

from visioregul.integration.messaging import (
    OutboxSender,
    SmtpSender,
    TwilioSender,
    build_senders,
)
from visioregul.integration.settings import MessagingSettings


async def test_given_the_defaults_when_building_then_one_outbox_for_both_channels() -> None:
    senders = build_senders(MessagingSettings(), async_sessionmaker())

    assert isinstance(senders.sms, OutboxSender)
    assert senders.email is senders.sms
    await senders.close()
    await senders.close()


async def test_given_twilio_and_smtp_when_building_then_the_gateways() -> None:
    senders = build_senders(MessagingSettings(sms="twilio", email="smtp"), async_sessionmaker())

    assert isinstance(senders.sms, TwilioSender)
    assert isinstance(senders.email, SmtpSender)
    await senders.close()
    await senders.close()
