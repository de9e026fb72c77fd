"""Invitations through real gateways, with the service from ``create_app`` over real HTTP.

SMS go through the real ``twilio`` library to the Twilio stand-in, whose status callbacks come
back, signed, to the service's own ``POST /webhooks/twilio/status``; e-mail goes through
aiosmtplib to a real SMTP server (aiosmtpd). See :mod:`tests.messaging.standins`. The service
listens on a port chosen beforehand, so that its ``public_url`` (links, callback URL, signature)
is its real address.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_aiohttp import AiohttpClient, AiohttpServer
from sqlalchemy import func, select

from tests.messaging.standins import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    MESSAGES_PATH,
    TwilioStandIn,
    sign,
    start_smtp_server,
)
from tests.store.conftest import NewDatabase, backend, new_database  # noqa: F401  (fixtures)
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.sessions.delivery import _RETRY_DELAYS
from visioregul.integration.sessions.early_statuses import EarlyStatus
from visioregul.integration.sessions.models import Invitation
from visioregul.integration.sessions.retry_tokens import RetryToken
from visioregul.integration.sessions.tokens import hash_token
from visioregul.integration.settings import (
    DatabaseSettings,
    MessagingSettings,
    ServiceSettings,
    SmtpSettings,
    TwilioSettings,
)
from visioregul.integration.web.twilio_callbacks import TWILIO_STATUS_PATH

from .conftest import login, make_settings
from .helpers import (
    LINK,
    Client,
    add_regulator,
    detail,
    event_types,
    events_of,
    free_port,
    has_event,
    open_session,
    wait_detail,
)

pytestmark = pytest.mark.timeout(60)

CALLER = "+33612345678"
SUBJECT_FR = "SAMU 15 : lien vidéo pour montrer la scène au régulateur"


@dataclass
class Service:
    """A running service, a console logged in to it, and the address it announces."""

    client: Client
    csrf: str
    public_url: str

    @property
    def callback_url(self) -> str:
        return self.public_url + TWILIO_STATUS_PATH

    async def invitation_row(self, invitation_id: str) -> Invitation:
        async with self.client.app[appkeys.DB]() as db:
            row = await db.get(Invitation, invitation_id)
        assert row is not None
        return row

    async def retry(self, session_id: str, invitation_id: str) -> dict[str, Any]:
        response = await self.client.post(
            f"/console/api/sessions/{session_id}/invitations/{invitation_id}/retry",
            headers={"X-CSRF-Token": self.csrf},
        )
        assert response.status == 202, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    async def callback(self, params: dict[str, str], signature: str | None) -> tuple[int, Any]:
        """POST a status callback as Twilio would; the answer's status and body."""
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        response = await self.client.post(TWILIO_STATUS_PATH, data=params, headers=headers)
        body = await response.json() if response.status != 204 else None
        return response.status, body


StartService = Callable[[MessagingSettings], Awaitable[Service]]


@pytest.fixture
def start_service(aiohttp_client: AiohttpClient, tmp_path: Path) -> StartService:
    """Start the service on its own SQLite file in ``tmp_path`` (the same file each time)."""

    async def start(messaging: MessagingSettings) -> Service:
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        settings = make_settings(tmp_path)
        settings.service = ServiceSettings(data_dir=tmp_path, public_url=public_url)
        settings.messaging = messaging
        app = create_app(settings)
        client = await aiohttp_client(app, server_kwargs={"port": port})
        await add_regulator(app)
        return Service(client, await login(client), public_url)

    return start


@pytest.fixture
async def twilio(aiohttp_server: AiohttpServer) -> AsyncIterator[tuple[TwilioStandIn, str]]:
    """The Twilio stand-in and its base URL."""
    stand_in = TwilioStandIn()
    server = await aiohttp_server(stand_in.app())
    try:
        yield stand_in, str(server.make_url("")).rstrip("/")
    finally:
        await stand_in.close()


def by_twilio(api_base_url: str, timeout: float = 5.0) -> MessagingSettings:
    return MessagingSettings(
        sms="twilio",
        twilio=TwilioSettings(
            account_sid=ACCOUNT_SID,
            auth_token=SecretStr(AUTH_TOKEN),
            from_number=FROM_NUMBER,
            api_base_url=api_base_url,
            timeout=timeout,
        ),
    )


def is_subsequence(expected: list[str], actual: list[str]) -> bool:
    remaining = iter(actual)
    return all(kind in remaining for kind in expected)


def delivery_status(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body["invitations"][-1]["delivery_status"] == status


async def until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


# -- SMS through Twilio ------------------------------------------------------------------------


async def test_given_twilio_when_inviting_then_one_exact_request_and_the_delivery_followed(
    start_service: StartService, twilio: tuple[TwilioStandIn, str]
) -> None:
    stand_in, base_url = twilio
    service = await start_service(by_twilio(base_url))

    session = await open_session(service.client, service.csrf)
    body = await wait_detail(
        service.client, session["id"], delivery_status("delivered"), "the delivered callback"
    )

    assert len(stand_in.requests) == 1
    request = stand_in.requests[0]
    assert (request.method, request.path) == ("POST", MESSAGES_PATH)
    assert set(request.form) == {"To", "Body", "From", "StatusCallback"}
    assert request.form["To"] == [CALLER]
    assert request.form["From"] == [FROM_NUMBER]
    assert request.form["StatusCallback"] == [service.callback_url]
    link = LINK.search(request.form["Body"][0])
    assert link is not None
    assert link.group(0) == f"{service.public_url}/p/{link.group(1)}"
    (invitation,) = body["invitations"]
    row = await service.invitation_row(invitation["id"])
    assert row.token_hash == hash_token(link.group(1)), "the link of this invitation"
    assert row.provider_id == stand_in.sid(1)
    sent = events_of(body, "invitation.sent")
    assert [event["details"] for event in sent] == [
        {
            "invitation_id": invitation["id"],
            "channel": "sms",
            "status": "queued",
            "provider_id": stand_in.sid(1),
            "state": "invited",
            "previous_state": "created",
        }
    ]
    # Twilio's "sent" may arrive before its answer was read (then only "delivered" is logged).
    types = event_types(body)
    assert [t for t in types if t != "invitation.status"] == [
        "session.created",
        "invitation.created",
        "invitation.sent",
        "invitation.delivered",
    ], types
    assert body["state"] == "invited"
    await stand_in.callbacks_done()
    assert stand_in.callback_answers == [204, 204]
    # The link in the SMS opens the session.
    assert (await service.client.get(f"/p/{link.group(1)}")).status == 200


async def test_given_a_callback_faster_than_twilios_answer_then_its_status_is_not_lost(
    start_service: StartService, twilio: tuple[TwilioStandIn, str]
) -> None:
    stand_in, base_url = twilio
    stand_in.callback_before_answer = True
    stand_in.callback_statuses = ("delivered",)
    service = await start_service(by_twilio(base_url))

    session = await open_session(service.client, service.csrf)
    body = await wait_detail(
        service.client, session["id"], delivery_status("delivered"), "the early callback applied"
    )

    assert stand_in.callback_answers == [204]
    assert event_types(body)[-2:] == ["invitation.sent", "invitation.delivered"]
    assert len(events_of(body, "invitation.delivered")) == 1


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_given_two_instances_when_the_early_callback_reaches_the_other_then_it_is_applied(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    twilio: tuple[TwilioStandIn, str],
    new_database: NewDatabase,  # noqa: F811
) -> None:
    stand_in, base_url = twilio
    stand_in.callback_before_answer = True
    stand_in.callback_statuses = ("delivered",)
    url = await new_database()
    # The load balancer's address is the other instance's: Twilio's callback reaches it, not
    # the instance that sent the message and waits for Twilio's answer.
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    clients = []
    for name, server_port in (("visio-a", free_port()), ("visio-b", port)):
        settings = make_settings(tmp_path / name)
        settings.service = ServiceSettings(
            data_dir=tmp_path / name, public_url=public_url, instance_id=name
        )
        settings.database = DatabaseSettings(url=url)
        settings.messaging = by_twilio(base_url)
        clients.append(
            await aiohttp_client(create_app(settings), server_kwargs={"port": server_port})
        )
    sender, other = clients
    await add_regulator(sender.app)

    session = await open_session(sender, await login(sender))
    body = await wait_detail(
        sender, session["id"], delivery_status("delivered"), "the early callback applied"
    )

    assert stand_in.callback_answers == [204]
    assert len(events_of(body, "invitation.delivered")) == 1
    async with other.app[appkeys.DB]() as db:
        assert await db.scalar(select(func.count()).select_from(EarlyStatus)) == 0


async def test_given_status_callbacks_then_only_correctly_signed_ones_count_and_only_once(
    start_service: StartService, twilio: tuple[TwilioStandIn, str]
) -> None:
    stand_in, base_url = twilio
    stand_in.callback_statuses = ()
    service = await start_service(by_twilio(base_url))
    session = await open_session(service.client, service.csrf)
    before = await wait_detail(
        service.client, session["id"], has_event("invitation.sent"), "the send"
    )
    assert before["invitations"][0]["delivery_status"] == "queued"
    delivered = stand_in.callback_params(stand_in.sid(1), "delivered", to=CALLER)
    signature = sign(service.callback_url, delivered)

    refusals = {
        "unsigned": await service.callback(delivered, None),
        "empty signature": await service.callback(delivered, ""),
        "another key": await service.callback(
            delivered, sign(service.callback_url, delivered, "not-the-auth-token")
        ),
        "another URL": await service.callback(
            delivered, sign(service.public_url + "/elsewhere", delivered)
        ),
        "altered after signing": await service.callback(
            {**delivered, "MessageStatus": "failed", "SmsStatus": "failed"}, signature
        ),
    }

    for name, (status, body) in refusals.items():
        assert (status, body["error_id"]) == (403, "twilio_signature"), name
    assert await detail(service.client, session["id"]) == before, "nothing changed"

    assert await service.callback(delivered, signature) == (204, None)
    after = await detail(service.client, session["id"])
    assert after["invitations"][0]["delivery_status"] == "delivered"
    (event,) = events_of(after, "invitation.delivered")
    assert event["actor"] == "gateway"
    assert event["details"]["invitation_id"] == before["invitations"][0]["id"]

    # Twilio retries and reorders callbacks: a replay, or a "sent" after "delivered", is no news.
    assert await service.callback(delivered, signature) == (204, None)
    late = stand_in.callback_params(stand_in.sid(1), "sent", to=CALLER)
    assert await service.callback(late, sign(service.callback_url, late)) == (204, None)
    assert await detail(service.client, session["id"]) == after


async def test_given_a_failed_callback_then_the_invitation_fails_with_twilios_code(
    start_service: StartService, twilio: tuple[TwilioStandIn, str]
) -> None:
    stand_in, base_url = twilio
    stand_in.callback_statuses = ("sent", "failed")
    stand_in.callback_error_code = "30003"
    service = await start_service(by_twilio(base_url))

    session = await open_session(service.client, service.csrf)
    body = await wait_detail(
        service.client, session["id"], has_event("invitation.failed"), "the failed callback"
    )

    (invitation,) = body["invitations"]
    assert (invitation["delivery_status"], invitation["error_code"]) == ("failed", "30003")
    (failed,) = events_of(body, "invitation.failed")
    assert failed["actor"] == "gateway"
    assert failed["details"] == {
        "invitation_id": invitation["id"],
        "status": "failed",
        "error_code": "30003",
    }
    assert len(stand_in.requests) == 1


async def test_given_twilio_down_then_failed_after_the_automatic_retries_then_resent_by_hand(
    start_service: StartService, aiohttp_server: AiohttpServer
) -> None:
    """Connection refused: surely nothing was sent, so the service tries again by itself."""
    port = free_port()
    service = await start_service(by_twilio(f"http://127.0.0.1:{port}"))
    started = time.monotonic()

    session = await open_session(service.client, service.csrf)
    body = await wait_detail(
        service.client,
        session["id"],
        has_event("invitation.failed"),
        "the failure",
        timeout=sum(_RETRY_DELAYS) + 5,
    )

    elapsed = time.monotonic() - started
    assert sum(_RETRY_DELAYS) <= elapsed < sum(_RETRY_DELAYS) + 2, elapsed
    (invitation,) = body["invitations"]
    assert (invitation["delivery_status"], invitation["error_code"]) == (
        "failed",
        "gateway_unreachable",
    )
    (failed,) = events_of(body, "invitation.failed")
    assert failed["details"] == {
        "invitation_id": invitation["id"],
        "error_id": "gateway_unreachable",
        "provider_code": None,
        "retryable": True,
    }
    assert (await service.invitation_row(invitation["id"])).attempts == 1 + len(_RETRY_DELAYS)
    assert body["state"] == "created"

    # Twilio is back: the regulator sends it again, the same link.
    stand_in = TwilioStandIn(callback_statuses=())
    await aiohttp_server(stand_in.app(), port=port)
    try:
        retried = await service.retry(session["id"], invitation["id"])
        assert (retried["id"], retried["delivery_status"]) == (invitation["id"], "pending")
        body = await wait_detail(
            service.client, session["id"], delivery_status("queued"), "the send by hand"
        )
    finally:
        await stand_in.close()

    assert len(stand_in.requests) == 1
    link = LINK.search(stand_in.requests[0].form["Body"][0])
    assert link is not None
    row = await service.invitation_row(invitation["id"])
    assert row.token_hash == hash_token(link.group(1)), "the link the first attempt carried"
    assert [i["id"] for i in body["invitations"]] == [invitation["id"]]
    assert is_subsequence(
        ["invitation.failed", "invitation.retried", "invitation.sent"], event_types(body)
    ), event_types(body)
    assert body["state"] == "invited"
    assert (await service.client.get(f"/p/{link.group(1)}")).status == 200


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_given_a_failed_send_on_one_instance_when_retried_on_another_then_the_same_link(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    new_database: NewDatabase,  # noqa: F811
    twilio: tuple[TwilioStandIn, str],
) -> None:
    """The token kept for a retry is in the store, sealed: any instance sends the same link."""
    stand_in, base_url = twilio
    stand_in.error = (503, {"code": 20503, "message": "Service unavailable", "status": 503})
    stand_in.callback_statuses = ()
    url = await new_database()
    services = []
    for name in ("visio-a", "visio-b"):
        settings = make_settings(tmp_path / name)
        # The instances share their data folder, hence the secret key the tokens are sealed with.
        settings.service.data_dir = tmp_path / "shared"
        settings.service.instance_id = name
        settings.database = DatabaseSettings(url=url)
        settings.messaging = by_twilio(base_url)
        client = await aiohttp_client(create_app(settings))
        await add_regulator(client.app)
        services.append(Service(client, await login(client), settings.service.public_url))
    a, b = services

    session = await open_session(a.client, a.csrf)
    body = await wait_detail(a.client, session["id"], has_event("invitation.failed"), "the failure")
    (invitation,) = body["invitations"]
    first = LINK.search(stand_in.requests[0].form["Body"][0])
    assert first is not None
    async with a.client.app[appkeys.DB]() as db:
        rows = (await db.execute(select(RetryToken.__table__))).all()
    assert [row.invitation_id for row in rows] == [invitation["id"]]
    token = first.group(1).encode()
    for value in (value for row in rows for value in row):
        raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        assert token not in raw, "a token kept in clear"

    stand_in.error = None
    retried = await b.retry(session["id"], invitation["id"])
    assert (retried["id"], retried["delivery_status"]) == (invitation["id"], "pending")
    body = await wait_detail(b.client, session["id"], delivery_status("queued"), "the resend")
    assert len(stand_in.requests) == 2
    again = LINK.search(stand_in.requests[1].form["Body"][0])
    assert again is not None
    assert again.group(1) == first.group(1), "the link the first attempt carried"
    assert [i["id"] for i in body["invitations"]] == [invitation["id"]]


@pytest.mark.parametrize(
    ("case", "error_id", "error_code", "retryable", "within"),
    [
        pytest.param("invalid_number", "invalid_destination", "21211", False, 2.0, id="21211"),
        pytest.param("hanging", "gateway_timeout", "gateway_timeout", True, 0.5 + 1.5, id="hang"),
        # Twilio had the request: in rare cases it still sends after a 5xx.
        pytest.param("unavailable", "gateway_unreachable", "20503", True, 2.0, id="503"),
    ],
)
async def test_given_a_send_that_may_have_been_taken_then_failed_and_not_sent_again(
    start_service: StartService,
    twilio: tuple[TwilioStandIn, str],
    case: str,
    error_id: str,
    error_code: str,
    retryable: bool,
    within: float,
) -> None:
    stand_in, base_url = twilio
    if case == "invalid_number":
        stand_in.error = (
            400,
            {
                "code": 21211,
                "message": "The 'To' number +33612345678 is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            },
        )
    elif case == "unavailable":
        stand_in.error = (503, {"code": 20503, "message": "Service unavailable", "status": 503})
    else:
        stand_in.hang = True
    service = await start_service(by_twilio(base_url, timeout=0.5))
    started = time.monotonic()

    session = await open_session(service.client, service.csrf)
    body = await wait_detail(
        service.client, session["id"], has_event("invitation.failed"), "the failure"
    )

    assert time.monotonic() - started < within
    (invitation,) = body["invitations"]
    assert (invitation["delivery_status"], invitation["error_code"]) == ("failed", error_code)
    (failed,) = events_of(body, "invitation.failed")
    assert failed["details"]["error_id"] == error_id
    assert failed["details"]["retryable"] is retryable
    # Past the first automatic retry's delay: still one request.
    await asyncio.sleep(_RETRY_DELAYS[0] + 0.5)
    assert len(stand_in.requests) == 1
    assert len(events_of(await detail(service.client, session["id"]), "invitation.failed")) == 1


async def test_given_a_send_in_flight_when_retried_by_hand_then_nothing_is_sent_twice(
    start_service: StartService, twilio: tuple[TwilioStandIn, str]
) -> None:
    stand_in, base_url = twilio
    stand_in.hang = True
    stand_in.callback_statuses = ()
    service = await start_service(by_twilio(base_url))
    session = await open_session(service.client, service.csrf)
    invitation_id = session["invitations"][0]["id"]
    await until(lambda: len(stand_in.requests) == 1, "the request")

    retried = await service.retry(session["id"], invitation_id)
    await asyncio.sleep(0.3)  # what a second send would need to reach the stand-in
    stand_in.release()
    body = await wait_detail(service.client, session["id"], delivery_status("queued"), "sent")

    assert retried["delivery_status"] == "pending"
    assert len(stand_in.requests) == 1
    assert len(events_of(body, "invitation.sent")) == 1
    assert "invitation.retried" not in event_types(body)


async def test_given_a_session_ended_while_its_sms_was_in_flight_then_the_send_is_still_logged(
    start_service: StartService, twilio: tuple[TwilioStandIn, str]
) -> None:
    stand_in, base_url = twilio
    stand_in.hang = True
    stand_in.callback_statuses = ()
    service = await start_service(by_twilio(base_url))
    session = await open_session(service.client, service.csrf)
    await until(lambda: len(stand_in.requests) == 1, "the request")
    response = await service.client.post(
        f"/console/api/sessions/{session['id']}/end",
        json={},
        headers={"X-CSRF-Token": service.csrf},
    )
    assert response.status == 200

    stand_in.release()
    body = await wait_detail(service.client, session["id"], has_event("invitation.sent"), "sent")

    assert body["state"] == "ended"
    assert body["invitations"][0]["delivery_status"] == "queued"
    assert event_types(body)[-2:] == ["session.ended", "invitation.sent"]
    row = await service.invitation_row(session["invitations"][0]["id"])
    assert row.provider_id == stand_in.sid(1), "later callbacks still find it"


# -- e-mail through SMTP -----------------------------------------------------------------------


async def test_given_smtp_when_inviting_by_email_then_one_message_in_text_and_html(
    start_service: StartService,
) -> None:
    smtp = start_smtp_server(free_port())
    try:
        service = await start_service(
            MessagingSettings(
                email="smtp",
                smtp=SmtpSettings(
                    host="127.0.0.1", port=smtp.port, from_address="visio@samu-75.fr", timeout=5
                ),
            )
        )
        session = await open_session(service.client, service.csrf, "Jeanne.Dupont@Exemple.fr")
        body = await wait_detail(
            service.client, session["id"], has_event("invitation.sent"), "the e-mail"
        )
    finally:
        smtp.stop()

    assert len(smtp.received) == 1
    received = smtp.received[0]
    assert received.mail_from == "visio@samu-75.fr"
    assert received.rcpt_tos == ["Jeanne.Dupont@exemple.fr"]
    message = received.parsed()
    assert message["Subject"] == SUBJECT_FR
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    plain_text, html_text = str(plain.get_content()), str(html.get_content())
    link = LINK.search(plain_text)
    assert link is not None
    assert f'href="{link.group(0)}"' in html_text
    assert "Bonjour" in plain_text and "Bonjour" in html_text
    (invitation,) = body["invitations"]
    row = await service.invitation_row(invitation["id"])
    assert row.token_hash == hash_token(link.group(1))
    assert invitation["delivery_status"] == "sent"
    (sent,) = events_of(body, "invitation.sent")
    assert sent["details"]["provider_id"] == message["Message-ID"]


# -- nothing lost ------------------------------------------------------------------------------


async def test_given_a_send_in_flight_when_the_service_stops_then_interrupted_and_resent_same_link(
    start_service: StartService, twilio: tuple[TwilioStandIn, str]
) -> None:
    stand_in, base_url = twilio
    stand_in.hang = True
    stand_in.callback_statuses = ()
    first = await start_service(by_twilio(base_url))
    session = await open_session(first.client, first.csrf)
    invitation_id = session["invitations"][0]["id"]
    await until(lambda: len(stand_in.requests) == 1, "the request")

    await asyncio.wait_for(first.client.close(), 10)
    second = await start_service(by_twilio(base_url))
    body = await detail(second.client, session["id"])

    (invitation,) = body["invitations"]
    assert (invitation["delivery_status"], invitation["error_code"]) == ("failed", "interrupted")
    failed = events_of(body, "invitation.failed")
    assert [(e["actor"], e["details"]) for e in failed] == [
        ("system", {"invitation_id": invitation_id, "error_id": "interrupted"})
    ]
    assert body["state"] == "created"

    # The token was kept sealed in the store: a retry after the restart sends the same link.
    stand_in.release()
    retried = await second.retry(session["id"], invitation_id)
    assert retried["id"] == invitation_id
    body = await wait_detail(second.client, session["id"], delivery_status("queued"), "resent")
    assert [(i["id"], i["revoked_at"]) for i in body["invitations"]] == [(invitation_id, None)]
    link = LINK.search(stand_in.requests[-1].form["Body"][0])
    assert link is not None
    row = await second.invitation_row(invitation_id)
    assert row.token_hash == hash_token(link.group(1)), "the link the first attempt carried"


async def test_given_a_hostile_callback_body_then_a_clear_json_refusal(client: Client) -> None:
    for name, data, content_type in [
        # Unreadable forms: were 500s in plain text.
        ("multipart without boundary", b"a=b", "multipart/form-data"),
        ("broken multipart", b"--xx\r\nbroken", "multipart/form-data; boundary=xx"),
    ]:
        response = await client.post(
            TWILIO_STATUS_PATH,
            data=data,
            headers={"Content-Type": content_type, "Accept-Language": "en"},
        )
        assert response.status == 400, name
        body = await response.json()
        assert body["error_id"] == "invalid_request", name
        assert body["message"] == "Invalid request: form body expected", name
    response = await client.post(
        TWILIO_STATUS_PATH,
        data=b"a=" + b"b" * 2 * 1024**2,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 413
    body = await response.json()
    assert (body["error_id"], body["message"]) == ("payload_too_large", "Requête trop volumineuse.")
    response = await client.get(TWILIO_STATUS_PATH)
    assert response.status == 405
    assert (await response.json())["error_id"] == "method_not_allowed"
