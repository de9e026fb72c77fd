"""SMS through the real ``twilio`` library, talking to a local stand-in for Twilio's API
(:class:`tests.messaging.standins.TwilioStandIn`), which then calls the status callback back,
signed the way Twilio signs it.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from multidict import MultiDict
from pydantic import SecretStr
from pytest_aiohttp import AiohttpServer
from twilio.request_validator import RequestValidator

from visioregul.integration.messaging import (
    Channel,
    DeliveryError,
    DeliveryErrorId,
    DeliveryStatus,
    OutgoingMessage,
    SendResult,
    StatusUpdate,
    TwilioSender,
    parse_status_callback,
    twilio_signature_valid,
)
from visioregul.integration.settings import TwilioSettings

from .standins import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    MESSAGES_PATH,
    SERVICE_SID,
    TwilioStandIn,
)

TO = "+33612345678"
BODY = (
    "SAMU 15 : lien vidéo pour montrer la scène au régulateur, valable jusqu'à 14h32\n"
    "https://visio.samu-75.fr/p/Hx3_uQ8kV0m2Zt9yLw4bN7cR1sE6fA5gJ2pK8dT0qWo"
)
CALLBACK_PATH = "/webhooks/twilio/status"


@dataclass
class Callback:
    """A status callback our side received."""

    params: MultiDict[str]
    signature: str


@dataclass
class Receiver:
    """Our side of the status callback: records what arrives."""

    callbacks: list[Callback] = field(default_factory=list)
    base_url: str = ""
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(CALLBACK_PATH, self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        form = await request.post()
        params = MultiDict((key, str(value)) for key, value in form.items())
        self.callbacks.append(Callback(params, request.headers.get("X-Twilio-Signature", "")))
        self._arrived.set()
        return web.Response(status=204)

    async def wait_for(self, count: int) -> list[Callback]:
        async with asyncio.timeout(5):
            while len(self.callbacks) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.callbacks


@pytest.fixture
async def stand_in(aiohttp_server: AiohttpServer) -> AsyncIterator[tuple[TwilioStandIn, str]]:
    """The stand-in and its base URL (what ``api_base_url`` is set to)."""
    twilio = TwilioStandIn()
    server = await aiohttp_server(twilio.app())
    try:
        yield twilio, str(server.make_url("")).rstrip("/")
    finally:
        await twilio.close()


@pytest.fixture
async def receiver(aiohttp_server: AiohttpServer) -> Receiver:
    """Our status callback endpoint."""
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    receiver.base_url = str(server.make_url("")).rstrip("/")
    return receiver


MakeSender = Callable[..., TwilioSender]


@pytest.fixture
async def make_sender() -> AsyncIterator[MakeSender]:
    """Build senders, closed after the test."""
    senders: list[TwilioSender] = []

    def make(api_base_url: str, **overrides: Any) -> TwilioSender:
        values: dict[str, Any] = {
            "account_sid": ACCOUNT_SID,
            "auth_token": SecretStr(AUTH_TOKEN),
            "from_number": FROM_NUMBER,
            "api_base_url": api_base_url,
            "timeout": 5.0,
        }
        values.update(overrides)
        sender = TwilioSender(TwilioSettings(**values))
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        await sender.close()


def sms(status_callback: str | None = None, to: str = TO) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key="inv-42",
        channel=Channel.SMS,
        to=to,
        text=BODY,
        status_callback=status_callback,
    )


async def bounded(awaitable: Awaitable[SendResult]) -> SendResult:
    return await asyncio.wait_for(awaitable, 10)


async def test_given_a_from_number_when_sending_then_the_exact_request_and_a_queued_result(
    stand_in: tuple[TwilioStandIn, str], receiver: Receiver, make_sender: MakeSender
) -> None:
    twilio, base_url = stand_in
    callback_url = f"{receiver.base_url}{CALLBACK_PATH}?invitation=inv-42"

    result = await bounded(make_sender(base_url).send(sms(callback_url)))

    assert result == SendResult(status=DeliveryStatus.QUEUED, provider_id=f"SM{1:032x}")
    assert len(twilio.requests) == 1
    request = twilio.requests[0]
    assert (request.method, request.path) == ("POST", MESSAGES_PATH)
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.authorization == (
        "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    )
    assert request.form == {
        "To": [TO],
        "Body": [BODY],
        "From": [FROM_NUMBER],
        "StatusCallback": [callback_url],
    }


async def test_given_a_messaging_service_when_sending_then_it_replaces_the_from_number(
    stand_in: tuple[TwilioStandIn, str], make_sender: MakeSender
) -> None:
    twilio, base_url = stand_in
    twilio.status = "accepted"
    sender = make_sender(base_url, messaging_service_sid=SERVICE_SID)

    result = await bounded(sender.send(sms()))

    assert twilio.requests[0].form == {
        "To": [TO],
        "Body": [BODY],
        "MessagingServiceSid": [SERVICE_SID],
    }
    assert result.status is DeliveryStatus.QUEUED


async def test_given_a_signed_status_callback_when_checking_then_valid_and_parsed(
    stand_in: tuple[TwilioStandIn, str], receiver: Receiver, make_sender: MakeSender
) -> None:
    _, base_url = stand_in
    callback_url = f"{receiver.base_url}{CALLBACK_PATH}?invitation=inv-42"

    result = await bounded(make_sender(base_url).send(sms(callback_url)))
    callbacks = await receiver.wait_for(2)

    for callback in callbacks:
        assert twilio_signature_valid(AUTH_TOKEN, callback_url, callback.params, callback.signature)
    updates = [parse_status_callback(callback.params) for callback in callbacks]
    assert result.provider_id is not None
    assert updates == [
        StatusUpdate(result.provider_id, DeliveryStatus.SENT),
        StatusUpdate(result.provider_id, DeliveryStatus.DELIVERED),
    ]


async def test_given_a_status_callback_when_tampered_with_then_invalid(
    stand_in: tuple[TwilioStandIn, str], receiver: Receiver, make_sender: MakeSender
) -> None:
    twilio, base_url = stand_in
    twilio.callback_statuses = ("delivered",)
    callback_url = f"{receiver.base_url}{CALLBACK_PATH}?invitation=inv-42"
    await bounded(make_sender(base_url).send(sms(callback_url)))
    (callback,) = await receiver.wait_for(1)
    params, signature = callback.params, callback.signature
    assert twilio_signature_valid(AUTH_TOKEN, callback_url, params, signature)

    replayed = MultiDict(params)
    replayed["MessageStatus"] = "failed"
    other_url = f"{receiver.base_url}{CALLBACK_PATH}?invitation=inv-43"
    forged = RequestValidator("not-the-auth-token").compute_signature(callback_url, params)

    assert not twilio_signature_valid(AUTH_TOKEN, callback_url, params, ""), "unsigned"
    assert not twilio_signature_valid(AUTH_TOKEN, callback_url, params, forged), "wrong key"
    assert not twilio_signature_valid(AUTH_TOKEN, callback_url, replayed, signature), "replayed"
    assert not twilio_signature_valid(AUTH_TOKEN, other_url, params, signature), "other URL"
    assert not twilio_signature_valid("", callback_url, params, signature), "no token"
    empty_key = RequestValidator("").compute_signature(callback_url, params)
    assert not twilio_signature_valid("", callback_url, params, empty_key), "empty-key HMAC"


async def test_given_an_undelivered_callback_when_parsing_then_the_error_code(
    stand_in: tuple[TwilioStandIn, str], receiver: Receiver, make_sender: MakeSender
) -> None:
    twilio, base_url = stand_in
    twilio.callback_statuses = ("sent", "undelivered")
    twilio.callback_error_code = "30003"
    callback_url = f"{receiver.base_url}{CALLBACK_PATH}"

    result = await bounded(make_sender(base_url).send(sms(callback_url)))
    callbacks = await receiver.wait_for(2)

    assert result.provider_id is not None
    assert parse_status_callback(callbacks[1].params) == StatusUpdate(
        result.provider_id, DeliveryStatus.UNDELIVERED, "30003"
    )


@pytest.mark.parametrize(
    ("status", "payload", "error_id", "retryable"),
    [
        pytest.param(
            400,
            {
                "code": 21211,
                "message": "The 'To' number +33600000000 is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            },
            DeliveryErrorId.INVALID_DESTINATION,
            False,
            id="21211-invalid-number",
        ),
        pytest.param(
            400,
            {
                "code": 21610,
                "message": "Attempt to send to unsubscribed recipient",
                "more_info": "https://www.twilio.com/docs/errors/21610",
                "status": 400,
            },
            DeliveryErrorId.GATEWAY_REFUSED,
            False,
            id="21610-unsubscribed",
        ),
        pytest.param(
            429,
            {"code": 20429, "message": "Too Many Requests", "status": 429},
            DeliveryErrorId.GATEWAY_REFUSED,
            True,
            id="20429-too-many-requests",
        ),
        pytest.param(
            503,
            {"code": 20503, "message": "Service unavailable", "status": 503},
            DeliveryErrorId.GATEWAY_UNREACHABLE,
            True,
            id="20503-unavailable",
        ),
    ],
)
async def test_given_a_twilio_error_when_sending_then_the_mapped_delivery_error(
    stand_in: tuple[TwilioStandIn, str],
    make_sender: MakeSender,
    status: int,
    payload: dict[str, Any],
    error_id: DeliveryErrorId,
    retryable: bool,
) -> None:
    twilio, base_url = stand_in
    twilio.error = (status, payload)

    with pytest.raises(DeliveryError) as caught:
        await bounded(make_sender(base_url).send(sms()))

    error = caught.value
    assert (error.error_id, error.retryable, error.provider_code) == (
        error_id,
        retryable,
        str(payload["code"]),
    )
    assert error.sent_nothing is False, "Twilio answered: it had the request"
    assert str(payload["message"]) in error.message


async def test_given_a_wrong_auth_token_when_sending_then_refused_not_retryable(
    stand_in: tuple[TwilioStandIn, str], make_sender: MakeSender
) -> None:
    _, base_url = stand_in
    sender = make_sender(base_url, auth_token=SecretStr("wrong-token"))

    with pytest.raises(DeliveryError) as caught:
        await bounded(sender.send(sms()))

    assert (caught.value.error_id, caught.value.retryable, caught.value.provider_code) == (
        DeliveryErrorId.GATEWAY_REFUSED,
        False,
        "20003",
    )


async def test_given_an_answer_that_is_not_json_when_sending_then_not_a_refusal_nor_resent(
    stand_in: tuple[TwilioStandIn, str], make_sender: MakeSender
) -> None:
    """A proxy's error page says nothing about the message: it may have been taken, so it is
    not to be sent again by itself."""
    twilio, base_url = stand_in
    twilio.garbage = True

    with pytest.raises(DeliveryError) as caught:
        await bounded(make_sender(base_url).send(sms()))

    assert caught.value.error_id is DeliveryErrorId.GATEWAY_UNREACHABLE
    assert caught.value.retryable is False


async def test_given_twilio_hangs_when_sending_then_timeout_within_the_limit(
    stand_in: tuple[TwilioStandIn, str], make_sender: MakeSender
) -> None:
    twilio, base_url = stand_in
    twilio.hang = True
    sender = make_sender(base_url, timeout=0.5)
    started = time.monotonic()

    with pytest.raises(DeliveryError) as caught:
        await bounded(sender.send(sms()))

    elapsed = time.monotonic() - started
    assert caught.value.error_id is DeliveryErrorId.GATEWAY_TIMEOUT
    assert caught.value.retryable is True
    assert caught.value.sent_nothing is False
    assert 0.4 < elapsed < 1.5
    assert len(twilio.requests) == 1, "the request reached the stand-in"


async def test_given_twilio_is_down_when_sending_then_unreachable_at_once(
    closed_port: int, make_sender: MakeSender
) -> None:
    sender = make_sender(f"http://127.0.0.1:{closed_port}")
    started = time.monotonic()

    with pytest.raises(DeliveryError) as caught:
        await bounded(sender.send(sms()))

    assert caught.value.error_id is DeliveryErrorId.GATEWAY_UNREACHABLE
    assert caught.value.retryable is True
    assert caught.value.sent_nothing is True, "no connection: may be tried again by itself"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"account_sid": ""},
        {"auth_token": SecretStr("")},
        {"from_number": "", "messaging_service_sid": ""},
    ],
)
async def test_given_missing_settings_when_sending_then_not_configured_and_no_request(
    stand_in: tuple[TwilioStandIn, str], make_sender: MakeSender, overrides: dict[str, Any]
) -> None:
    twilio, base_url = stand_in

    with pytest.raises(DeliveryError) as caught:
        await bounded(make_sender(base_url, **overrides).send(sms()))

    assert caught.value.error_id is DeliveryErrorId.NOT_CONFIGURED
    assert caught.value.retryable is False
    assert twilio.requests == []


@pytest.mark.parametrize("to", ["0612345678", "+33 6 12 34 56 78", "+33612345678\n", ""])
async def test_given_a_number_not_in_e164_when_sending_then_invalid_and_no_request(
    stand_in: tuple[TwilioStandIn, str], make_sender: MakeSender, to: str
) -> None:
    twilio, base_url = stand_in

    with pytest.raises(DeliveryError) as caught:
        await bounded(make_sender(base_url).send(sms(to=to)))

    assert caught.value.error_id is DeliveryErrorId.INVALID_DESTINATION
    assert twilio.requests == []


async def test_given_a_sender_when_closing_twice_then_safe_and_it_can_send_again(
    stand_in: tuple[TwilioStandIn, str], make_sender: MakeSender
) -> None:
    twilio, base_url = stand_in
    sender = make_sender(base_url)
    await bounded(sender.send(sms()))

    await sender.close()
    await sender.close()
    await bounded(sender.send(sms()))

    assert len(twilio.requests) == 2


@pytest.mark.parametrize(
    ("twilio_status", "expected"),
    [
        ("accepted", DeliveryStatus.QUEUED),
        ("queued", DeliveryStatus.QUEUED),
        ("sending", DeliveryStatus.QUEUED),
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("undelivered", DeliveryStatus.UNDELIVERED),
        ("failed", DeliveryStatus.FAILED),
    ],
)
def test_given_each_twilio_status_when_parsing_a_callback_then_ours(
    twilio_status: str, expected: DeliveryStatus
) -> None:
    params = {"MessageSid": "SM1", "MessageStatus": twilio_status}

    assert parse_status_callback(params) == StatusUpdate("SM1", expected, None)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"MessageStatus": "delivered"}, "MessageSid"),
        ({"MessageSid": "SM1"}, "MessageStatus"),
        ({"MessageSid": "SM1", "MessageStatus": "received"}, "unknown"),
        ({"MessageSid": "", "MessageStatus": "delivered"}, "MessageSid"),
    ],
)
def test_given_an_incomplete_callback_when_parsing_then_value_error(
    params: dict[str, str], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        parse_status_callback(params)


async def test_given_an_email_when_sending_by_sms_then_a_programming_error() -> None:
    message = OutgoingMessage(
        idempotency_key="k", channel=Channel.EMAIL, to="appelant@example.org", text="x"
    )

    with pytest.raises(ValueError, match="SMS"):
        await TwilioSender(TwilioSettings()).send(message)
