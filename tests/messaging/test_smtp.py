"""E-mail through a real SMTP server (aiosmtpd, see :mod:`tests.messaging.standins`) started by
each test."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from visioregul.integration.messaging import (
    Channel,
    DeliveryError,
    DeliveryErrorId,
    DeliveryStatus,
    OutgoingMessage,
    SmtpSender,
)
from visioregul.integration.messaging.smtp import message_id_for
from visioregul.integration.settings import SmtpSettings

from .standins import BUSY, REFUSED, SmtpServer, start_smtp_server

# Plain-text AUTH is what the loopback tests exercise; aiosmtpd warns about it each time.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SUBJECT = "SAMU 15 : lien vidéo pour montrer la scène au régulateur"
TEXT = "Bonjour,\n\nOuvrez ce lien : https://visio.samu-75.fr/p/abc\n"
HTML = '<p>Bonjour,</p><p><a href="https://visio.samu-75.fr/p/abc">Ouvrir la vidéo</a></p>\n'


def authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"visio", b"s3cret-relay")
    # handled=False: aiosmtpd then answers the refusal itself (535).
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


StartServer = Callable[..., SmtpServer]


@pytest.fixture
def start_server(closed_port: int) -> Iterator[StartServer]:
    """Start an SMTP server on 127.0.0.1 (in aiosmtpd's own thread); stopped after the test."""
    servers: list[SmtpServer] = []

    def start(**kwargs: Any) -> SmtpServer:
        server = start_smtp_server(closed_port, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def settings_for(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {"host": "127.0.0.1", "port": port, "timeout": 5.0}
    values.update(overrides)
    return SmtpSettings(**values)


def invitation(to: str = "appelant@example.org", **overrides: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "idempotency_key": "inv-42",
        "channel": Channel.EMAIL,
        "to": to,
        "text": TEXT,
        "subject": SUBJECT,
        "html": HTML,
    }
    values.update(overrides)
    return OutgoingMessage(**values)


async def send(sender: SmtpSender, message: OutgoingMessage) -> Any:
    return await asyncio.wait_for(sender.send(message), 10)


async def test_given_an_invitation_when_sending_then_the_server_gets_text_and_html(
    start_server: StartServer,
) -> None:
    server = start_server()
    sender = SmtpSender(settings_for(server.port), sender_name="SAMU 15")

    result = await send(sender, invitation())

    assert len(server.received) == 1
    received = server.received[0]
    assert received.mail_from == "visio@samu.invalid"
    assert received.rcpt_tos == ["appelant@example.org"]
    message = received.parsed()
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    # Parsed from the wire, lines end in CRLF.
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert rich.get_content().replace("\r\n", "\n") == HTML
    assert plain.get_content_charset() == "utf-8"
    sender_address = message["From"].addresses[0]
    assert (sender_address.display_name, sender_address.addr_spec) == (
        "SAMU 15",
        "visio@samu.invalid",
    )
    assert message["To"] == "appelant@example.org"
    assert message["Subject"] == SUBJECT
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None
    expected_id = message_id_for("inv-42", "visio@samu.invalid")
    assert message["Message-ID"] == expected_id
    assert result.status is DeliveryStatus.SENT
    assert result.provider_id == expected_id


async def test_given_an_accented_subject_when_sending_then_it_is_encoded_and_reads_back(
    start_server: StartServer,
) -> None:
    server = start_server()

    await send(SmtpSender(settings_for(server.port)), invitation())

    raw_headers = server.received[0].content.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii(), "headers must be RFC 2047-encoded, not raw UTF-8"
    assert b"=?utf-8?" in raw_headers.lower()
    assert server.received[0].parsed()["Subject"] == SUBJECT


async def test_given_a_sender_name_with_a_comma_when_sending_then_from_is_one_quoted_address(
    start_server: StartServer,
) -> None:
    server = start_server()

    await send(SmtpSender(settings_for(server.port), sender_name="SAMU 75, Paris"), invitation())

    addresses = server.received[0].parsed()["From"].addresses
    assert [(a.display_name, a.addr_spec) for a in addresses] == [
        ("SAMU 75, Paris", "visio@samu.invalid")
    ]


async def test_given_the_same_key_when_sending_twice_then_the_same_message_id(
    start_server: StartServer,
) -> None:
    server = start_server()
    sender = SmtpSender(settings_for(server.port))

    first = await send(sender, invitation())
    second = await send(sender, invitation())
    other = await send(sender, invitation(idempotency_key="inv-43"))

    ids = [r.parsed()["Message-ID"] for r in server.received]
    assert ids[0] == ids[1] == first.provider_id == second.provider_id
    assert ids[2] == other.provider_id != ids[0]
    assert "inv-42" not in ids[0], "the key itself does not leave the service"


async def test_given_a_relay_that_requires_auth_when_sending_with_credentials_then_accepted(
    start_server: StartServer,
) -> None:
    server = start_server(authenticator=authenticate, auth_required=True, auth_require_tls=False)
    sender = SmtpSender(
        settings_for(server.port, username="visio", password=SecretStr("s3cret-relay"))
    )

    await send(sender, invitation())

    assert [r.login for r in server.received] == ["visio"]


async def test_given_a_wrong_password_when_sending_then_refused_and_not_retryable(
    start_server: StartServer,
) -> None:
    server = start_server(authenticator=authenticate, auth_required=True, auth_require_tls=False)
    sender = SmtpSender(settings_for(server.port, username="visio", password=SecretStr("nope")))

    with pytest.raises(DeliveryError) as caught:
        await send(sender, invitation())

    assert caught.value.error_id is DeliveryErrorId.GATEWAY_REFUSED
    assert caught.value.retryable is False
    assert caught.value.provider_code == "535"
    assert server.received == []


async def test_given_a_relay_that_requires_auth_when_sending_without_then_refused(
    start_server: StartServer,
) -> None:
    server = start_server(authenticator=authenticate, auth_required=True, auth_require_tls=False)

    with pytest.raises(DeliveryError) as caught:
        await send(SmtpSender(settings_for(server.port)), invitation())

    assert caught.value.error_id is DeliveryErrorId.GATEWAY_REFUSED
    assert caught.value.provider_code == "530"
    assert server.received == []


async def test_given_starttls_when_sending_then_the_message_travels_encrypted(
    start_server: StartServer, certificate: Certificate
) -> None:
    server = start_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    sender = SmtpSender(
        settings_for(
            server.port, security="starttls", username="visio", password=SecretStr("s3cret-relay")
        ),
        tls_context=certificate.client_context(),
    )

    await send(sender, invitation())

    assert [r.login for r in server.received] == ["visio"]


async def test_given_implicit_tls_when_sending_then_accepted(
    start_server: StartServer, certificate: Certificate
) -> None:
    server = start_server(ssl_context=certificate.server_context())
    sender = SmtpSender(
        settings_for(server.port, security="tls"), tls_context=certificate.client_context()
    )

    await send(sender, invitation())

    assert len(server.received) == 1


async def test_given_an_untrusted_certificate_when_sending_then_nothing_is_sent(
    start_server: StartServer, certificate: Certificate
) -> None:
    """Certificates are checked by default: a self-signed relay is not trusted silently."""
    server = start_server(tls_context=certificate.server_context(), require_starttls=True)
    sender = SmtpSender(settings_for(server.port, security="starttls"))

    with pytest.raises(DeliveryError) as caught:
        await send(sender, invitation())

    assert caught.value.error_id is DeliveryErrorId.GATEWAY_UNREACHABLE
    assert caught.value.retryable is False
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert server.received == []


async def test_given_a_relay_that_requires_starttls_when_security_is_none_then_refused(
    start_server: StartServer, certificate: Certificate
) -> None:
    server = start_server(tls_context=certificate.server_context(), require_starttls=True)

    with pytest.raises(DeliveryError) as caught:
        await send(SmtpSender(settings_for(server.port)), invitation())

    assert caught.value.error_id is DeliveryErrorId.GATEWAY_REFUSED
    assert caught.value.provider_code == "530"


async def test_given_a_recipient_refused_with_550_when_sending_then_refused_not_retryable(
    start_server: StartServer,
) -> None:
    server = start_server()

    with pytest.raises(DeliveryError) as caught:
        await send(SmtpSender(settings_for(server.port)), invitation(to=REFUSED))

    error = caught.value
    assert (error.error_id, error.retryable, error.provider_code) == (
        DeliveryErrorId.GATEWAY_REFUSED,
        False,
        "550",
    )
    assert "no such user" in error.message
    assert server.received == []


async def test_given_a_recipient_refused_with_450_when_sending_then_refused_but_retryable(
    start_server: StartServer,
) -> None:
    server = start_server()

    with pytest.raises(DeliveryError) as caught:
        await send(SmtpSender(settings_for(server.port)), invitation(to=BUSY))

    assert (caught.value.error_id, caught.value.retryable, caught.value.provider_code) == (
        DeliveryErrorId.GATEWAY_REFUSED,
        True,
        "450",
    )


async def test_given_no_server_when_sending_then_unreachable_at_once(closed_port: int) -> None:
    sender = SmtpSender(settings_for(closed_port, timeout=5.0))
    started = time.monotonic()

    with pytest.raises(DeliveryError) as caught:
        await send(sender, invitation())

    assert caught.value.error_id is DeliveryErrorId.GATEWAY_UNREACHABLE
    assert caught.value.retryable is True
    assert caught.value.sent_nothing is True, "no connection: may be tried again by itself"
    assert time.monotonic() - started < 2


@contextlib.asynccontextmanager
async def raw_server(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    connections: list[asyncio.StreamWriter],
) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 speaking whatever ``serve`` says; yields its port. The
    connections ``serve`` appends to ``connections`` are closed at the end."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
async def server_dropping_after_data() -> AsyncIterator[int]:
    """A relay that takes the whole message, then drops the connection instead of its reply."""
    connections: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        writer.write(b"220 relay ESMTP\r\n")
        in_data = False
        while line := await reader.readline():
            if in_data:
                if line == b".\r\n":
                    writer.close()
                    return
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250 relay\r\n")
            elif verb == b"DATA":
                in_data = True
                writer.write(b"354 go ahead\r\n")
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()

    async with raw_server(serve, connections) as port:
        yield port


async def test_given_the_connection_lost_after_the_message_then_not_to_be_sent_again_by_itself(
    server_dropping_after_data: int,
) -> None:
    sender = SmtpSender(settings_for(server_dropping_after_data, timeout=2.0))

    with pytest.raises(DeliveryError) as caught:
        await send(sender, invitation())

    # The relay may have queued it: the regulator decides, the service does not resend it.
    assert caught.value.error_id is DeliveryErrorId.GATEWAY_UNREACHABLE
    assert caught.value.sent_nothing is False


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A server that accepts connections and never says a word."""
    connections: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()

    async with raw_server(accept, connections) as port:
        yield port


async def test_given_a_server_that_never_answers_when_sending_then_timeout_within_the_limit(
    silent_server: int,
) -> None:
    sender = SmtpSender(settings_for(silent_server, timeout=0.5))
    started = time.monotonic()

    with pytest.raises(DeliveryError) as caught:
        await send(sender, invitation())

    elapsed = time.monotonic() - started
    assert caught.value.error_id is DeliveryErrorId.GATEWAY_TIMEOUT
    assert caught.value.retryable is True
    assert caught.value.sent_nothing is False
    assert 0.4 < elapsed < 1.5


@pytest.mark.parametrize(
    "to",
    [
        "appelant@example.org\r\nBcc: victime@example.org",
        "appelant@example.org\nBcc: victime@example.org",
        "appelant@example.org, victime@example.org",
        "Appelant <appelant@example.org>",
        "pas-une-adresse",
    ],
)
async def test_given_a_recipient_that_is_not_one_address_when_sending_then_refused_unsent(
    start_server: StartServer, to: str
) -> None:
    server = start_server()

    with pytest.raises(DeliveryError) as caught:
        await send(SmtpSender(settings_for(server.port)), invitation(to=to))

    assert caught.value.error_id is DeliveryErrorId.INVALID_DESTINATION
    assert caught.value.retryable is False
    assert server.received == []


@pytest.mark.parametrize(
    "subject", ["Lien\r\nBcc: victime@example.org", "Lien\nBcc: victime@example.org"]
)
async def test_given_a_line_break_in_the_subject_when_sending_then_refused_unsent(
    start_server: StartServer, subject: str
) -> None:
    server = start_server()

    with pytest.raises(ValueError, match="subject"):
        await send(SmtpSender(settings_for(server.port)), invitation(subject=subject))

    assert server.received == []


async def test_given_a_sender_name_with_a_line_break_when_sending_then_refused(
    start_server: StartServer,
) -> None:
    server = start_server()
    sender = SmtpSender(settings_for(server.port), sender_name="SAMU 15\r\nBcc: x@example.org")

    with pytest.raises(DeliveryError) as caught:
        await send(sender, invitation())

    assert caught.value.error_id is DeliveryErrorId.NOT_CONFIGURED
    assert server.received == []


async def test_given_an_sms_when_sending_by_email_then_a_programming_error() -> None:
    sender = SmtpSender(SmtpSettings())
    message = OutgoingMessage(idempotency_key="k", channel=Channel.SMS, to="+33612345678", text="x")

    with pytest.raises(ValueError, match="e-mail"):
        await sender.send(message)
