"""Messaging: how invitations reach the caller (SMS through Twilio, e-mail through SMTP) or stay
in the local outbox (development, demo).

The session domain depends on :class:`MessageSender` and the types of :mod:`.port` only;
:func:`build_senders` picks the implementations from the settings.
"""

import logging

from .factory import Senders, build_senders
from .gsm7 import SMS_GSM7_MAX, gsm7_length
from .invitations import InvitationRole, RenderedMessage, format_expiry, render_invitation
from .outbox import OutboxSender, recent_outbox
from .port import (
    Channel,
    DeliveryError,
    DeliveryErrorId,
    DeliveryStatus,
    MessageSender,
    OutgoingMessage,
    SendResult,
    StatusUpdate,
)
from .smtp import SmtpSender
from .twilio import TwilioSender, delivery_status, parse_status_callback, twilio_signature_valid

__all__ = [
    "SMS_GSM7_MAX",
    "Channel",
    "DeliveryError",
    "DeliveryErrorId",
    "DeliveryStatus",
    "InvitationRole",
    "MessageSender",
    "OutboxSender",
    "OutgoingMessage",
    "RenderedMessage",
    "SendResult",
    "Senders",
    "SmtpSender",
    "StatusUpdate",
    "TwilioSender",
    "build_senders",
    "delivery_status",
    "format_expiry",
    "gsm7_length",
    "parse_status_callback",
    "recent_outbox",
    "render_invitation",
    "twilio_signature_valid",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
