"""Several HTTPS sites on this machine, for tests that need real origins: a private nginx from
Debian (``tests/services/nginx.sh``) with one ``server`` block per site, each on a loopback
address of its own (``127.77.x.y``: another site for the browser), all under one certificate of
a test authority made for the run, which a Chromium trusts through its ``HOME``'s NSS database.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.turn_server import CERTUTIL, loopback_address
from tests.web.nginx import NGINX

__all__ = ["Site", "tls_sites", "trust_in_nss", "unique_addresses"]

SERVER = """
    server {{
        listen {address}:{port} ssl;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_read_timeout 1h;
        }}
    }}
"""

CONFIG = """
daemon off;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
{servers}
}}
"""

PORT = 8443


@dataclass(frozen=True)
class Site:
    """One HTTPS site: its loopback address, and the local HTTP server nginx forwards to."""

    address: str
    upstream: int

    @property
    def origin(self) -> str:
        """``https://address:port``, as the browser names it."""
        return f"https://{self.address}:{PORT}"


def unique_addresses(count: int) -> list[str]:
    """``count`` distinct loopback addresses of this run."""
    addresses: list[str] = []
    while len(addresses) < count:
        address = loopback_address()
        if address not in addresses:
            addresses.append(address)
    return addresses


def _issue(root: Path, addresses: list[str]) -> None:
    """A test authority (``ca.pem``) and a certificate for every address, signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "VisioRegul test sites CA")])
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
    names = [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, addresses[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (root / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (root / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def trust_in_nss(ca_pem: Path, home: Path) -> None:
    """Trust ``ca_pem`` in ``home``'s NSS database, the one Chromium on Linux checks: launch
    Chromium with ``HOME=home``."""
    if not Path(CERTUTIL).exists():
        pytest.fail(
            f"{CERTUTIL} is missing: run tests/services/coturn.sh (make test does)", pytrace=False
        )
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
            *(CERTUTIL, "-A", "-d", f"sql:{database}", "-n", "visioregul-test-sites"),
            *("-t", "C,,", "-i", str(ca_pem)),
        ],
        check=True,
        capture_output=True,
    )


@asynccontextmanager
async def tls_sites(root: Path, sites: list[Site]) -> AsyncIterator[Path]:
    """nginx serving every site over HTTPS until the block ends; yields the authority's PEM."""
    if not (os.access(NGINX, os.X_OK) or shutil.which("nginx")):
        pytest.fail(
            "nginx is missing: install it with `bash tests/services/nginx.sh` (make test does)",
            pytrace=False,
        )
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(_issue, root, [site.address for site in sites])
    servers = "".join(
        SERVER.format(address=site.address, port=PORT, root=root, upstream=site.upstream)
        for site in sites
    )
    user = "user root;" if os.geteuid() == 0 else ""
    config = root / "nginx.conf"
    await asyncio.to_thread(config.write_text, CONFIG.format(root=root, user=user, servers=servers))
    process = await asyncio.create_subprocess_exec(
        NGINX, "-p", str(root), "-c", str(config), "-e", str(root / "error.log")
    )
    try:
        for site in sites:
            await _until_listening(site.address, process, root)
        yield root / "ca.pem"
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)


async def _until_listening(address: str, process: asyncio.subprocess.Process, root: Path) -> None:
    async with asyncio.timeout(10):
        while True:
            if process.returncode is not None:
                log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
                pytest.fail(f"nginx exited with {process.returncode}:\n{log}", pytrace=False)
            try:
                _reader, writer = await asyncio.open_connection(address, PORT)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return
