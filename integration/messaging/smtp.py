"""E-mail through an SMTP relay, with aiosmtplib.

One connection per message: invitations are rare (a few per hour per regulator), and a fresh
connection never finds a relay that silently dropped an idle one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from ..settings import SmtpSettings
from ..store.models import utcnow
from .port import (
    Channel,
    DeliveryError,
    DeliveryErrorId,
    DeliveryStatus,
    OutgoingMessage,
    SendResult,
)

__all__ = ["SmtpSender", "message_id_for"]

_logger = logging.getLogger(__name__)


def message_id_for(idempotency_key: str, from_address: str) -> str:
    """The ``Message-ID`` of the e-mail sent for ``idempotency_key``.

    Derived from the key, so a send retried after a timeout carries the same id and the relay or
    the recipient's mail client can recognise the copy. Hashed: the key stays ours.
    """
    domain = from_address.rpartition("@")[2] or "visioregul.invalid"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<visioregul.{digest}@{domain}>"


class SmtpSender:
    """A :class:`~.port.MessageSender` for e-mail through an SMTP relay.

    ``sender_name`` is the display name of ``From`` (``MessagingSettings.sender_name``).
    ``tls_context`` replaces the system's trusted certificates, e.g. for a relay signed by a
    private authority; by default certificates are checked against the system's.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        sender_name: str = "SAMU 15",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = settings
        self._sender_name = sender_name
        self._tls_context = tls_context
        self._local_hostname: str | None = None

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send ``message`` as a multipart/alternative e-mail (plain text and HTML).

        Returns ``sent`` once the relay accepted it; raises :class:`DeliveryError` otherwise,
        within ``settings.timeout`` whatever the relay does.
        """
        if message.channel is not Channel.EMAIL:
            raise ValueError(f"SmtpSender sends e-mail, not {message.channel}")
        email = self._build(message)
        settings = self._settings
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            username=settings.username or None,
            password=settings.password.get_secret_value() if settings.username else None,
            timeout=settings.timeout,
            use_tls=settings.security == "tls",
            # "none" means no TLS at all, not "TLS if offered": an opportunistic upgrade with
            # certificate checks could fail against a relay that never promised TLS.
            start_tls=settings.security == "starttls",
            tls_context=self._tls_context,
        )
        # aiosmtplib's timeout applies to each step; the deadline bounds the whole exchange.
        deadline = asyncio.get_running_loop().time() + settings.timeout
        connected = False
        try:
            async with asyncio.timeout_at(deadline):
                try:
                    # The name said in EHLO: aiosmtplib would look it up (socket.getfqdn, a DNS
                    # query) for every connection. Once is enough.
                    if self._local_hostname is None:
                        self._local_hostname = await asyncio.to_thread(socket.getfqdn)
                    client.local_hostname = self._local_hostname
                    await client.connect()
                    # From here the relay may take the message, even if the exchange breaks.
                    connected = True
                    await client.send_message(email, recipients=[message.to])
                except BaseException:
                    # Drop the connection at once: a polite QUIT to a relay that is not
                    # answering would outlast the deadline.
                    client.close()
                    raise
        except (TimeoutError, aiosmtplib.SMTPTimeoutError) as exc:
            raise DeliveryError(
                DeliveryErrorId.GATEWAY_TIMEOUT,
                f"SMTP relay {settings.host}:{settings.port} did not answer within "
                f"{settings.timeout:g} s",
            ) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            raise _refusal(refused.code, f"recipient refused: {refused.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            # Sender refused, data refused, authentication failed, bad greeting...
            raise _refusal(exc.code, exc.message) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise DeliveryError(
                DeliveryErrorId.GATEWAY_REFUSED, f"SMTP relay: {exc.message}", retryable=False
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # A certificate that does not verify will not verify next time either.
            tls_failure = _is_tls_failure(exc)
            raise DeliveryError(
                DeliveryErrorId.GATEWAY_UNREACHABLE,
                f"SMTP relay {settings.host}:{settings.port} "
                f"{'failed TLS' if tls_failure else 'unreachable'}: {exc}",
                retryable=not tls_failure,
                sent_nothing=not connected,
            ) from exc
        # The relay has the message: whatever happens to the goodbye, it is sent.
        await _quit_quietly(client, deadline)
        message_id = email["Message-ID"]
        _logger.info("e-mail %s handed to %s:%s", message_id, settings.host, settings.port)
        return SendResult(status=DeliveryStatus.SENT, provider_id=message_id)

    async def close(self) -> None:
        """Nothing to release (one connection per message); safe to call more than once."""

    def _build(self, message: OutgoingMessage) -> EmailMessage:
        settings = self._settings
        subject = message.subject or ""
        # Python's email package writes CR or LF in a header value as they are (3.11), which
        # would let a value add headers of its own: refuse them outright.
        if _has_line_break(message.to):
            raise DeliveryError(
                DeliveryErrorId.INVALID_DESTINATION,
                "line break in the recipient's address refused",
                retryable=False,
            )
        if _has_line_break(settings.from_address) or _has_line_break(self._sender_name):
            raise DeliveryError(
                DeliveryErrorId.NOT_CONFIGURED,
                "line break in messaging.smtp.from_address or messaging.sender_name refused",
                retryable=False,
            )
        if _has_line_break(subject):
            # The subject comes from our own templates: a line break there is a bug.
            raise ValueError("line break in the e-mail subject refused")
        try:
            # Parsing as one addr-spec also refuses a list ("a@x, b@y") or a display name.
            recipient = Address(addr_spec=message.to)
        except (ValueError, IndexError) as exc:
            raise DeliveryError(
                DeliveryErrorId.INVALID_DESTINATION,
                f"not a single e-mail address: {exc}",
                retryable=False,
            ) from exc
        try:
            sender = Address(display_name=self._sender_name, addr_spec=settings.from_address)
        except (ValueError, IndexError) as exc:
            raise DeliveryError(
                DeliveryErrorId.NOT_CONFIGURED,
                f"messaging.smtp.from_address is not an e-mail address: {exc}",
                retryable=False,
            ) from exc

        email = EmailMessage()
        email["From"] = sender
        email["To"] = recipient
        email["Subject"] = subject
        email["Date"] = format_datetime(utcnow())
        email["Message-ID"] = message_id_for(message.idempotency_key, settings.from_address)
        # RFC 3834: an automatic message; vacation replies and the like should not answer it.
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(message.text)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        return email


def _has_line_break(value: str) -> bool:
    return "\r" in value or "\n" in value or "\0" in value


def _is_tls_failure(exc: BaseException) -> bool:
    # aiosmtplib may wrap the ssl module's error: look down the chain (a few links suffice).
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _refusal(code: int, text: str) -> DeliveryError:
    # 4xx is a temporary refusal (greylisting, mailbox busy): the same message may pass later.
    return DeliveryError(
        DeliveryErrorId.GATEWAY_REFUSED,
        f"SMTP {code}: {text}",
        retryable=400 <= code < 500,
        provider_code=str(code),
    )


async def _quit_quietly(client: aiosmtplib.SMTP, deadline: float) -> None:
    try:
        async with asyncio.timeout_at(deadline):
            await client.quit()
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        _logger.debug("SMTP QUIT failed after the message was accepted: %s", exc)
        client.close()
