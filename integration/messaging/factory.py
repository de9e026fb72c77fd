"""Choosing the senders from the settings (called once, by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..settings import MessagingSettings
from .outbox import OutboxSender
from .port import MessageSender
from .smtp import SmtpSender
from .twilio import TwilioSender

__all__ = ["Senders", "build_senders"]


@runtime_checkable
class _Closable(Protocol):
    async def close(self) -> None: ...


@dataclass(frozen=True)
class Senders:
    """The sender of each channel."""

    sms: MessageSender
    email: MessageSender

    async def close(self) -> None:
        """Release what the senders hold (Twilio's HTTP session); safe to call more than once."""
        closed: list[object] = []
        for sender in (self.sms, self.email):
            if isinstance(sender, _Closable) and not any(sender is c for c in closed):
                closed.append(sender)
                await sender.close()


def build_senders(
    settings: MessagingSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> Senders:
    """The outbox or Twilio for SMS, the outbox or SMTP for e-mail, as ``settings`` say.

    Makes no connection: a misconfigured gateway shows up on the first send, as a
    :class:`~.port.DeliveryError`, without stopping the service (and its telephony) from starting.
    """
    outbox = OutboxSender(sessionmaker)
    sms: MessageSender = outbox if settings.sms == "outbox" else TwilioSender(settings.twilio)
    email: MessageSender = (
        outbox
        if settings.email == "outbox"
        else SmtpSender(settings.smtp, sender_name=settings.sender_name)
    )
    return Senders(sms=sms, email=email)
