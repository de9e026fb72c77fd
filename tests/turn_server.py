"""A real coturn for the tests: Debian's ``turnserver`` in the foreground, privately configured.

``use-auth-secret`` with a random ``static-auth-secret`` per run (the service derives time-limited
credentials from it, :func:`visioregul.media.ice.turn_credentials`), UDP and TCP on 3478 and TLS
on 443 with a certificate of a test authority made at run time (:class:`TestAuthority`), no CLI,
its log on stdout, written straight to a file in the run's folder, loopback and private peers
allowed (the tests' peers are there).

It listens on one address only (``listening-ip`` and ``relay-ip``), so that several servers,
and other services on 443, live side by side: on the host, a loopback address of its own (any
``127.x.y.z`` reaches ``lo``, see :func:`loopback_address`); in a network lab, the service
namespace's second address, run inside it with ``ip netns exec`` (``netns=``).

    async with running_turn("10.77.0.3", tmp_path / "turn", netns="vrlab-svc") as turn:
        settings.video.turn_urls, settings.video.turn_secret = turn.urls(), turn.secret
        turn.authority.trust_in_nss(home)  # Chromium then accepts turns:10.77.0.3:443

Readiness is awaited from its log (each listener opened), then, when the server runs in this
namespace, from a real TURN Allocate over UDP with credentials made from the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime
import ipaddress
import os
import random
import secrets
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aioice.stun
import aioice.turn
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from visioregul.media.ice import turn_credentials

__all__ = [
    "TURNSERVER",
    "TestAuthority",
    "TurnServer",
    "TurnStartError",
    "coturn",
    "loopback_address",
    "running_turn",
]

TURNSERVER = "/usr/bin/turnserver"
CERTUTIL = "/usr/bin/certutil"
REALM = "visioregul.test"
STARTUP_TIMEOUT = 15.0
"""A bound on the server's start (two shared cores), not a timing."""


class TurnStartError(RuntimeError):
    """coturn did not start (missing, refused its configuration, or its address is taken)."""


def loopback_address() -> str:
    """A loopback address of this run's own (``127.77.x.y``): its 3478 and 443 are free."""
    return f"127.77.{random.randint(1, 254)}.{random.randint(2, 254)}"


@dataclass
class TestAuthority:
    """A certificate authority made for one run, and the server certificate it signs (the TURN
    server's, or the test sites' behind nginx)."""

    folder: Path
    name: str = "VisioRegul test TURN CA"
    """The authority's common name; its nickname in an NSS database derives from it."""
    ca_pem: Path = field(init=False)
    cert_pem: Path = field(init=False)
    key_pem: Path = field(init=False)

    __test__ = False  # not a pytest test class

    def __post_init__(self) -> None:
        self.ca_pem = self.folder / "ca.pem"
        self.cert_pem = self.folder / "turn-cert.pem"
        self.key_pem = self.folder / "turn-key.pem"

    def issue(self, address: str, *more: str) -> None:
        """Make the authority and a server certificate for ``address`` (an IP address) and any
        ``more`` addresses."""
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address(each)) for each in (address, *more)]
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )

    def trust_in_nss(self, home: Path) -> Path:
        """Trust the authority in ``home``'s NSS database (``home/.pki/nssdb``), the one Chromium
        on Linux checks TLS servers against, TURN's included: launch Chromium with ``HOME=home``.
        Returns the database's folder."""
        if not Path(CERTUTIL).exists():
            raise TurnStartError(f"{CERTUTIL} is missing: run tests/services/coturn.sh")
        database = home / ".pki" / "nssdb"
        database.mkdir(parents=True, exist_ok=True)
        if not (database / "cert9.db").exists():
            subprocess.run(
                [CERTUTIL, "-N", "-d", f"sql:{database}", "--empty-password"],
                check=True,
                capture_output=True,
            )
        subprocess.run(
            [
                CERTUTIL,
                *("-A", "-d", f"sql:{database}", "-n", self.name.lower().replace(" ", "-")),
                *("-t", "C,,", "-i", str(self.ca_pem)),
            ],
            check=True,
            capture_output=True,
        )
        return database


@dataclass
class TurnServer:
    """A running coturn: where it listens, its secret, and its log so far."""

    address: str
    secret: str
    authority: TestAuthority
    netns: str | None = None
    port: int = 3478
    tls_port: int = 443
    realm: str = REALM
    log_path: Path | None = None
    """Where coturn's standard output goes (a file: a pipe that nobody reads while a test runs on
    another event loop fills up, and coturn then blocks on its next log line, answering
    nobody)."""

    def urls(self) -> list[str]:
        """UDP, TCP and TLS TURN URLs, as ``[video] turn_urls`` takes them."""
        return [
            f"turn:{self.address}:{self.port}?transport=udp",
            f"turn:{self.address}:{self.port}?transport=tcp",
            f"turns:{self.address}:{self.tls_port}?transport=tcp",
        ]

    def credentials(self, participant: str = "test") -> tuple[str, str]:
        """A valid ``(username, password)`` pair made from the secret."""
        return turn_credentials(self.secret, participant)

    @property
    def log_lines(self) -> list[str]:
        """What the server wrote so far, line by line."""
        if self.log_path is None or not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").splitlines()

    @property
    def log(self) -> str:
        """What the server wrote so far."""
        return "\n".join(self.log_lines)


def _configuration(server: TurnServer, folder: Path, relay_ip: str) -> str:
    """coturn's configuration file for ``server``."""
    lines = [
        f"listening-ip={server.address}",
        f"relay-ip={relay_ip}",
        f"listening-port={server.port}",
        f"tls-listening-port={server.tls_port}",
        # One port each: the alternative ports (+1) would collide with other runs' servers.
        "alt-listening-port=0",
        "alt-tls-listening-port=0",
        "min-port=49160",
        "max-port=49999",
        "fingerprint",
        "use-auth-secret",
        f"static-auth-secret={server.secret}",
        f"realm={server.realm}",
        f"cert={server.authority.cert_pem}",
        f"pkey={server.authority.key_pem}",
        "no-dtls",
        "no-cli",
        "no-tlsv1",
        "no-tlsv1_1",
        "log-file=stdout",
        "simple-log",
        "verbose",
        f"pidfile={folder / 'turnserver.pid'}",
        f"userdb={folder / 'turndb'}",
        # The tests' peers are on loopback and private addresses: allowed (no denied-peer-ip).
        "allow-loopback-peers",
        "no-multicast-peers",
        "no-software-attribute",
    ]
    return "\n".join(lines) + "\n"


async def _allocate(server: TurnServer) -> None:
    """A real TURN Allocate over UDP with credentials from the secret (raises when refused)."""
    username, password = server.credentials("readiness")
    transport, _ = await aioice.turn.create_turn_endpoint(
        asyncio.DatagramProtocol,
        server_addr=(server.address, server.port),
        username=username,
        password=password,
        transport="udp",
    )
    transport.close()


async def _allocate_once_ready(server: TurnServer) -> None:
    """:func:`_allocate`, again while coturn answers "wrong nonce" (at start, it rolls them)."""
    for attempt in range(5):
        try:
            await _allocate(server)
            return
        except aioice.stun.TransactionFailed as error:
            if attempt == 4 or error.response.attributes.get("ERROR-CODE", (0,))[0] != 438:
                raise TurnStartError(f"TURN Allocate refused: {error}\n{server.log}") from None


def _die_with_parent() -> None:
    """In the child, before coturn starts: a test run killed outright takes its coturn along
    (the signal survives ``ip netns exec``, which execs coturn in the same process)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _prepare(
    address: str,
    folder: Path,
    netns: str | None,
    relay_ip: str | None,
    secret: str | None,
    port: int,
    tls_port: int,
) -> tuple[TurnServer, list[str]]:
    """The server's certificates and configuration in ``folder``, and the command to run it."""
    if not Path(TURNSERVER).exists():
        raise TurnStartError(f"{TURNSERVER} is missing: run tests/services/coturn.sh")
    folder.mkdir(parents=True, exist_ok=True)
    authority = TestAuthority(folder / "tls")
    authority.issue(address)
    server = TurnServer(
        address=address,
        secret=secret or secrets.token_hex(16),
        authority=authority,
        netns=netns,
        port=port,
        tls_port=tls_port,
    )
    config = folder / "turnserver.conf"
    config.write_text(_configuration(server, folder, relay_ip or address))
    command = [TURNSERVER, "-c", str(config)]
    if netns is not None:
        command = [shutil.which("ip") or "/usr/sbin/ip", "netns", "exec", netns, *command]
    return server, command


@contextlib.asynccontextmanager
async def running_turn(
    address: str,
    folder: Path,
    *,
    netns: str | None = None,
    relay_ip: str | None = None,
    secret: str | None = None,
    port: int = 3478,
    tls_port: int = 443,
) -> AsyncIterator[TurnServer]:
    """coturn listening on ``address`` (UDP/TCP ``port``, TLS ``tls_port``), relaying from
    ``relay_ip`` (``address`` by default), inside network namespace ``netns`` when given; stopped
    (and awaited) on exit. ``folder`` holds its configuration, certificates and log."""
    server, command = _prepare(address, folder, netns, relay_ip, secret, port, tls_port)
    server.log_path = folder / "turnserver.log"
    # Straight into a file, read by nobody while it runs: coturn never waits on its log.
    with server.log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    # One line per listener: UDP, TCP and TLS (coturn says "TLS/TCP" for both of the latter).
    wanted = {
        f"UDP listener opened on: {address}:{port}",
        f"TCP listener opened on : {address}:{port}",
        f"TCP listener opened on : {address}:{tls_port}",
    }

    async def listening() -> None:
        while True:
            log = server.log
            if all(marker in log for marker in wanted):
                return
            if process.returncode is not None:
                raise TurnStartError(f"turnserver exited:\n{log}")
            await asyncio.sleep(0.05)

    try:
        try:
            await asyncio.wait_for(listening(), STARTUP_TIMEOUT)
        except TimeoutError:
            raise TurnStartError(f"turnserver did not open its listeners:\n{server.log}") from None
        if netns is None:
            # A real Allocate: the secret, the realm and the relay address all work.
            await asyncio.wait_for(_allocate_once_ready(server), STARTUP_TIMEOUT)
        yield server
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                await process.wait()


@pytest.fixture
async def coturn(tmp_path: Path) -> AsyncIterator[TurnServer]:
    """A coturn on a loopback address of its own (UDP/TCP 3478, TLS 443), stopped after the test;
    fails (never skips) when coturn is missing."""
    async with running_turn(loopback_address(), tmp_path / "coturn") as server:
        yield server
