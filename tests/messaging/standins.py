"""Stand-ins for the messaging gateways, shared by the messaging, web and benchmark tests.

- :class:`TwilioStandIn`: Twilio's Messages API, as far as the sender uses it (``POST
  /2010-04-01/Accounts/{sid}/Messages.json``, HTTP Basic authentication, form body, Twilio's JSON
  answers and errors); it then calls the status callback back, signed the way Twilio signs it.
- :func:`start_smtp_server`: a real SMTP server (aiosmtpd, in its own thread) that records what it
  accepts and refuses two known recipients.
"""

from __future__ import annotations

import asyncio
import base64
import email
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

import aiohttp
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from twilio.request_validator import RequestValidator

__all__ = [
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "BUSY",
    "FROM_NUMBER",
    "MESSAGES_PATH",
    "REFUSED",
    "SERVICE_SID",
    "ApiRequest",
    "Received",
    "Recorder",
    "SmtpServer",
    "TwilioStandIn",
    "sign",
    "start_smtp_server",
]

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
FROM_NUMBER = "+33757000015"
SERVICE_SID = "MG0123456789abcdef0123456789abcdef"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

REFUSED = "inconnu@example.org"
"""The SMTP stand-in refuses this recipient for good (550)."""
BUSY = "occupe@example.org"
"""The SMTP stand-in refuses this recipient for now (450)."""


def sign(url: str, params: Mapping[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """``X-Twilio-Signature`` as Twilio computes it: HMAC-SHA1 of the URL followed by the sorted
    parameters, keyed with the auth token, in base64."""
    signature: str = RequestValidator(auth_token).compute_signature(url, params)
    return signature


# -- Twilio ------------------------------------------------------------------------------------


@dataclass
class ApiRequest:
    """A request the Twilio stand-in received."""

    method: str
    path: str
    form: dict[str, list[str]]
    authorization: str | None
    content_type: str
    at: float = field(default_factory=time.perf_counter)
    """When it arrived (``time.perf_counter()``)."""


@dataclass
class TwilioStandIn:
    """Twilio's Messages API, as far as the sender uses it; tests tell it how to answer."""

    requests: list[ApiRequest] = field(default_factory=list)
    status: str = "queued"
    """Status of the created message in the answer."""
    error: tuple[int, dict[str, Any]] | None = None
    """HTTP status and Twilio error JSON to answer with instead."""
    hang: bool = False
    """Never answer."""
    garbage: bool = False
    """Answer 200 with an HTML page."""
    callback_statuses: tuple[str, ...] = ("sent", "delivered")
    """Statuses reported, in order, to the message's ``StatusCallback`` after it is created."""
    callback_error_code: str | None = None
    callback_before_answer: bool = False
    """Report the statuses before answering the request that created the message: the callback
    then reaches the service before the message's sid does."""
    callback_answers: list[int] = field(default_factory=list)
    """HTTP status of each answer to a status callback, in order."""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _count: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        return app

    def sid(self, number: int) -> str:
        """The sid of the ``number``-th message created (from 1)."""
        return f"SM{number:032x}"

    def release(self) -> None:
        """Let the requests held by :attr:`hang` go on (and answer); later ones do not hang."""
        self.hang = False
        self._release.set()

    async def callbacks_done(self) -> None:
        """Wait until every status callback in flight has been answered."""
        async with asyncio.timeout(5):
            while self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        self._release.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _create(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append(
            ApiRequest(
                method=request.method,
                path=request.path,
                form={key: [str(v) for v in form.getall(key)] for key in form},
                authorization=request.headers.get("Authorization"),
                content_type=request.content_type,
            )
        )
        if self.hang:
            await self._release.wait()
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected or (
            request.match_info["sid"] != ACCOUNT_SID
        ):
            return web.json_response(
                {
                    "code": 20003,
                    "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003",
                    "status": 401,
                },
                status=401,
            )
        if self.error is not None:
            status, payload = self.error
            return web.json_response(payload, status=status)
        if self.garbage:
            return web.Response(text="<html>Bad gateway</html>", content_type="text/html")
        self._count += 1
        sid = self.sid(self._count)
        to = str(form["To"])
        sender = str(form.get("From", "")) or None
        if "StatusCallback" in form and self.callback_statuses:
            task = asyncio.create_task(
                self._call_back(str(form["StatusCallback"]), sid, to, sender or "")
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            if self.callback_before_answer:
                await asyncio.wait_for(asyncio.shield(task), 5)
        return web.json_response(self._message(sid, to, sender, str(form["Body"])), status=201)

    def _message(self, sid: str, to: str, sender: str | None, body: str) -> dict[str, Any]:
        uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}"
        return {
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": "Mon, 30 Nov 2026 13:30:00 +0000",
            "date_sent": None,
            "date_updated": "Mon, 30 Nov 2026 13:30:00 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None if sender else SERVICE_SID,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "EUR",
            "sid": sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }

    def callback_params(
        self, sid: str, status: str, *, to: str, sender: str = FROM_NUMBER
    ) -> dict[str, str]:
        """The form fields of Twilio's status callback for message ``sid``."""
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "From": sender,
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": to,
        }
        if status in ("undelivered", "failed") and self.callback_error_code:
            params["ErrorCode"] = self.callback_error_code
        return params

    async def _call_back(self, url: str, sid: str, to: str, sender: str) -> None:
        async with aiohttp.ClientSession() as session:
            for status in self.callback_statuses:
                params = self.callback_params(sid, status, to=to, sender=sender)
                async with session.post(
                    url, data=params, headers={"X-Twilio-Signature": sign(url, params)}
                ) as response:
                    self.callback_answers.append(response.status)
                    response.raise_for_status()


# -- SMTP --------------------------------------------------------------------------------------


@dataclass
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None
    at: float = field(default_factory=time.perf_counter)
    """When the server had the whole message (``time.perf_counter()``)."""

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Recorder:
    """aiosmtpd handler: refuses :data:`REFUSED` and :data:`BUSY`, records every accepted message.

    It runs in aiosmtpd's thread: read :attr:`received` from the tests only (list appends are
    atomic).
    """

    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 <inconnu@example.org>: no such user"
        if address == BUSY:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        login = session.auth_data.login.decode() if session.auth_data else None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
        )
        return "250 2.0.0 Message accepted"


@dataclass
class SmtpServer:
    """A running aiosmtpd server and what it received."""

    port: int
    recorder: Recorder
    controller: Controller
    running: bool = True

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def stop(self) -> None:
        """Stop the server (its thread); safe to call more than once."""
        if self.running:
            self.running = False
            self.controller.stop()


def start_smtp_server(port: int, **kwargs: Any) -> SmtpServer:
    """Start an SMTP server on ``127.0.0.1:port`` in aiosmtpd's own thread; call ``stop()``.

    ``kwargs`` go to aiosmtpd's ``Controller`` (TLS, authentication...).
    """
    recorder = Recorder()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, server_hostname="relay.test", **kwargs
    )
    controller.start()
    return SmtpServer(port, recorder, controller)
