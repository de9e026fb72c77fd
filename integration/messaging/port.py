"""What the session domain needs from a messaging gateway, and nothing about any gateway.

A sender takes an :class:`OutgoingMessage` and either returns a :class:`SendResult` (the gateway
took the message) or raises :class:`DeliveryError` (it did not, or we cannot tell). Later news
about a message (delivered, undelivered) arrives separately as a :class:`StatusUpdate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = [
    "Channel",
    "DeliveryError",
    "DeliveryErrorId",
    "DeliveryStatus",
    "MessageSender",
    "OutgoingMessage",
    "SendResult",
    "StatusUpdate",
]


class Channel(StrEnum):
    """How a message travels."""

    SMS = "sms"
    EMAIL = "email"


class DeliveryStatus(StrEnum):
    """Where a message is on its way to the recipient, from our side to their phone or mailbox."""

    PENDING = "pending"
    """Not yet handed over to a gateway."""
    QUEUED = "queued"
    """The gateway took it and has not passed it on yet."""
    SENT = "sent"
    """Passed on to the next hop (the mobile carrier, the mail relay)."""
    DELIVERED = "delivered"
    """The recipient's phone or mailbox has it."""
    SIMULATED = "simulated"
    """Kept in the local outbox (development, demo): nothing left the service."""
    UNDELIVERED = "undelivered"
    """The carrier could not deliver it (phone off for too long, number out of service...)."""
    FAILED = "failed"
    """The gateway gave up before sending it."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to send."""

    idempotency_key: str
    """Same key, same message: a sender that can, sends it once however often it is asked."""
    channel: Channel
    to: str
    """A phone number in E.164 for SMS, an e-mail address for e-mail."""
    text: str
    """The SMS body, or the plain-text part of the e-mail."""
    subject: str | None = None
    """E-mail only."""
    html: str | None = None
    """E-mail only: the HTML alternative of ``text``."""
    status_callback: str | None = None
    """Public URL the gateway calls back with delivery news, where it supports that (Twilio)."""


@dataclass(frozen=True)
class SendResult:
    """What the gateway said when it took a message."""

    status: DeliveryStatus
    provider_id: str | None = None
    """The gateway's id for the message (Twilio's ``SM...`` sid, the e-mail's Message-ID)."""
    error_code: str | None = None
    """The gateway's own error code, when it took the message but already reports a problem."""
    error_message: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """Later news about a message, from the gateway's status callback."""

    provider_id: str
    """Same as :attr:`SendResult.provider_id`."""
    status: DeliveryStatus
    error_code: str | None = None
    """The gateway's error code for an undelivered or failed message (e.g. Twilio ``30003``)."""


class MessageSender(Protocol):
    """A way to send messages: the outbox, Twilio, SMTP."""

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Hand ``message`` to the gateway.

        Returns within the sender's configured timeout, or raises :class:`DeliveryError`.
        """
        ...


class DeliveryErrorId(StrEnum):
    """Stable slugs of :class:`DeliveryError` (the console translates them)."""

    GATEWAY_UNREACHABLE = "gateway_unreachable"
    """No connection to the gateway (down, refused, reset)."""
    GATEWAY_TIMEOUT = "gateway_timeout"
    """The gateway did not answer in time; it may or may not have taken the message."""
    GATEWAY_REFUSED = "gateway_refused"
    """The gateway answered no (bad credentials, recipient opted out, policy, rate limit)."""
    INVALID_DESTINATION = "invalid_destination"
    """The number or address cannot receive this message."""
    NOT_CONFIGURED = "not_configured"
    """The sender lacks settings it needs (credentials, sender number)."""


_RETRYABLE_BY_DEFAULT = frozenset(
    {DeliveryErrorId.GATEWAY_UNREACHABLE, DeliveryErrorId.GATEWAY_TIMEOUT}
)


class DeliveryError(Exception):
    """A message the gateway did not take, or that we cannot tell whether it took.

    ``error_id`` is a stable slug; ``message`` is English, for logs; ``provider_code`` is the
    gateway's own code when it gave one (Twilio ``21211``, SMTP ``550``). ``retryable`` says
    whether sending the same message again later may succeed: by default, only when the gateway
    could not be reached or did not answer. ``sent_nothing`` says the gateway surely did not
    take the message (no connection was made): only then may it be sent again by itself, with
    no risk of reaching the patient twice.
    """

    def __init__(
        self,
        error_id: DeliveryErrorId | str,
        message: str,
        *,
        retryable: bool | None = None,
        provider_code: str | None = None,
        sent_nothing: bool = False,
    ) -> None:
        # A slug given as a string must still be one of ours (ValueError otherwise).
        slug = DeliveryErrorId(error_id)
        super().__init__(f"{slug}: {message}")
        self.error_id = slug
        self.message = message
        self.retryable = slug in _RETRYABLE_BY_DEFAULT if retryable is None else retryable
        self.provider_code = provider_code
        self.sent_nothing = sent_nothing

    def __repr__(self) -> str:
        return (
            f"DeliveryError({self.error_id.value!r}, {self.message!r}, "
            f"retryable={self.retryable}, provider_code={self.provider_code!r}, "
            f"sent_nothing={self.sent_nothing})"
        )
