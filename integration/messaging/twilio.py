"""SMS through Twilio's Messages API, with the official ``twilio`` library.

Sending goes through ``Client.messages.create_async`` on an :class:`AsyncTwilioHttpClient`.
Delivery news comes back later on the status callback URL; :func:`twilio_signature_valid` and
:func:`parse_status_callback` are what its HTTP route needs.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from ..settings import TwilioSettings
from .port import (
    Channel,
    DeliveryError,
    DeliveryErrorId,
    DeliveryStatus,
    OutgoingMessage,
    SendResult,
    StatusUpdate,
)

__all__ = [
    "TWILIO_API_BASE_URL",
    "TwilioSender",
    "delivery_status",
    "parse_status_callback",
    "twilio_signature_valid",
]

_logger = logging.getLogger(__name__)

TWILIO_API_BASE_URL = "https://api.twilio.com"
"""Where the library sends Messages API requests."""

_STATUSES: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    # Still with Twilio, on its way to the carrier.
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    # Read receipts exist on some channels (RCS, WhatsApp): read implies delivered.
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}

# Twilio error codes that say the number itself cannot receive the SMS.
# https://www.twilio.com/docs/api/errors
_INVALID_DESTINATION_CODES = frozenset(
    {
        21211,  # Invalid 'To' phone number
        21214,  # 'To' phone number cannot be reached
        21217,  # Phone number does not appear to be valid
        21401,  # Invalid phone number
        21612,  # The 'To' phone number is not currently reachable via SMS
        21614,  # 'To' number is not a valid mobile number
    }
)

_E164_RE = re.compile(r"\+[1-9][0-9]{6,14}")


def delivery_status(twilio_status: str) -> DeliveryStatus:
    """Map a Twilio message status (``queued``, ``delivered``...) to ours.

    Raises :class:`ValueError` for a status that outgoing messages never have (``received``).
    """
    try:
        return _STATUSES[twilio_status]
    except KeyError:
        raise ValueError(f"unknown Twilio message status: {twilio_status!r}") from None


class _BaseUrlHttpClient(AsyncTwilioHttpClient):
    """The library's aiohttp client, sending to ``api_base_url`` and always with a timeout.

    Only the URL's origin, the timeout and the way the Basic credentials are handed to aiohttp
    change; the library still builds the request and parses the answer.
    """

    def __init__(self, api_base_url: str, timeout: float) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self._api_base_url = api_base_url.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send the request built by the library, to ``api_base_url``."""
        if url.startswith(TWILIO_API_BASE_URL + "/"):
            url = self._api_base_url + url[len(TWILIO_API_BASE_URL) :]
        if auth is not None:
            # aiohttp 3.14 deprecates the ``auth`` argument the library uses: same header,
            # written here.
            headers = {**(headers or {}), "Authorization": aiohttp.encode_basic_auth(*auth)}
        # The library passes its per-request timeout (None) to aiohttp, where None means
        # "no timeout at all": the client's own timeout would otherwise never apply.
        return await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )


class TwilioSender:
    """A :class:`~.port.MessageSender` for SMS through Twilio.

    The HTTP client (an aiohttp session) is made on the first send, inside the running event
    loop, and released by :meth:`close`.
    """

    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        self._http: _BaseUrlHttpClient | None = None
        self._client: Any = None

    def _configuration_problem(self) -> str | None:
        settings = self._settings
        if not settings.account_sid or not settings.auth_token.get_secret_value():
            return "messaging.twilio.account_sid and auth_token are required"
        if not settings.from_number and not settings.messaging_service_sid:
            return "messaging.twilio.from_number or messaging_service_sid is required"
        return None

    def _twilio_client(self) -> Any:
        if self._client is None:
            settings = self._settings
            self._http = _BaseUrlHttpClient(settings.api_base_url, settings.timeout)
            self._client = Client(
                settings.account_sid,
                settings.auth_token.get_secret_value(),
                http_client=self._http,
                # The library reads TWILIO_* variables (region, edge...) from os.environ when
                # given no mapping, or an empty one: the settings are the only source here.
                environment={"VISIOREGUL": "1"},
            )
        return self._client

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Ask Twilio to send ``message``; the result is usually ``queued``.

        Raises :class:`DeliveryError` within ``settings.timeout``. After a timeout Twilio may
        still have taken the message: sending it again may deliver it twice.
        """
        if message.channel is not Channel.SMS:
            raise ValueError(f"TwilioSender sends SMS, not {message.channel}")
        problem = self._configuration_problem()
        if problem is not None:
            raise DeliveryError(DeliveryErrorId.NOT_CONFIGURED, problem, retryable=False)
        if not _E164_RE.fullmatch(message.to):
            raise DeliveryError(
                DeliveryErrorId.INVALID_DESTINATION,
                "destination is not a phone number in E.164",
                retryable=False,
            )
        settings = self._settings
        arguments: dict[str, Any] = {"to": message.to, "body": message.text}
        if settings.messaging_service_sid:
            arguments["messaging_service_sid"] = settings.messaging_service_sid
        else:
            arguments["from_"] = settings.from_number
        if message.status_callback:
            arguments["status_callback"] = message.status_callback
        try:
            # aiohttp bounds each request already; this also bounds what the library does.
            async with asyncio.timeout(settings.timeout):
                created = await self._twilio_client().messages.create_async(**arguments)
        except TimeoutError as exc:
            raise DeliveryError(
                DeliveryErrorId.GATEWAY_TIMEOUT,
                f"Twilio did not answer within {settings.timeout:g} s",
            ) from exc
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _api_error(exc) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise DeliveryError(
                DeliveryErrorId.GATEWAY_UNREACHABLE,
                f"Twilio's certificate does not verify: {exc!r}",
                retryable=False,
                sent_nothing=True,
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            # No connection was made: Twilio surely has nothing.
            raise DeliveryError(
                DeliveryErrorId.GATEWAY_UNREACHABLE,
                f"Twilio unreachable: {exc!r}",
                sent_nothing=True,
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            # The connection broke after the request may have left: Twilio may have the message.
            raise DeliveryError(
                DeliveryErrorId.GATEWAY_UNREACHABLE, f"Twilio connection lost: {exc!r}"
            ) from exc
        except (TwilioException, ValueError) as exc:
            # An answer the library could not read (not JSON, a proxy's error page...): Twilio
            # may have taken the message, so this is not a refusal; and not to be sent again
            # by itself, which could reach the patient twice.
            raise DeliveryError(
                DeliveryErrorId.GATEWAY_UNREACHABLE,
                f"unreadable answer from Twilio: {exc!r}",
                retryable=False,
            ) from exc
        sid = created.sid
        try:
            status = delivery_status(str(created.status))
        except ValueError:
            _logger.warning("Twilio message %s: unexpected status %r", sid, created.status)
            status = DeliveryStatus.QUEUED
        _logger.info("SMS %s handed to Twilio: %s", sid, created.status)
        return SendResult(
            status=status,
            provider_id=sid,
            error_code=str(created.error_code) if created.error_code else None,
            error_message=created.error_message or None,
        )

    async def close(self) -> None:
        """Close the HTTP session; safe to call more than once (a later send opens a new one)."""
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()


def _api_error(exc: TwilioRestException | TwilioServiceException) -> DeliveryError:
    try:
        status = int(exc.status)
    except (TypeError, ValueError):
        status = 0
    code = exc.code
    text = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
    message = f"Twilio refused the message (HTTP {status}, code {code}): {text}"
    provider_code = str(code) if code is not None else None
    if code in _INVALID_DESTINATION_CODES:
        return DeliveryError(
            DeliveryErrorId.INVALID_DESTINATION,
            message,
            retryable=False,
            provider_code=provider_code,
        )
    if status >= 500:
        # Twilio got the request: in rare cases it still sends the message after a 5xx, so the
        # regulator may retry, but it is not sent again by itself.
        return DeliveryError(
            DeliveryErrorId.GATEWAY_UNREACHABLE, message, provider_code=provider_code
        )
    # 429: too many requests, try again later; any other 4xx (unsubscribed recipient 21610,
    # bad credentials 20003, sender not allowed 21606...) will say the same next time.
    return DeliveryError(
        DeliveryErrorId.GATEWAY_REFUSED,
        message,
        retryable=status == 429,
        provider_code=provider_code,
    )


def twilio_signature_valid(
    auth_token: str, url: str, params: Mapping[str, str], signature: str
) -> bool:
    """Whether a callback really comes from Twilio (its ``X-Twilio-Signature`` header).

    ``url`` is the full URL Twilio called, as configured (the public URL, with its query
    string), not as rebuilt from the request behind a proxy; ``params`` the form fields (a
    multidict keeps repeated ones). Without an auth token nothing is valid: anyone can compute
    an HMAC keyed with the empty string.
    """
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))


def parse_status_callback(params: Mapping[str, str]) -> StatusUpdate:
    """Read a Twilio message status callback's form fields.

    Raises :class:`ValueError` when ``MessageSid`` or ``MessageStatus`` is missing or the
    status is unknown.
    """
    sid = params.get("MessageSid") or params.get("SmsSid")
    if not sid:
        raise ValueError("status callback without MessageSid")
    status = params.get("MessageStatus") or params.get("SmsStatus")
    if not status:
        raise ValueError("status callback without MessageStatus")
    error_code = params.get("ErrorCode") or None
    return StatusUpdate(provider_id=sid, status=delivery_status(status), error_code=error_code)
