"""Several HTTPS sites on this machine, for tests that need real origins: a private nginx from
Debian (``tests/services/nginx.sh``) with one ``server`` block per site, each on a loopback
address of its own (``127.77.x.y``: another site for the browser), all under one certificate of
a test authority made for the run, which a Chromium trusts through its ``HOME``'s NSS database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.turn_server import TestAuthority, loopback_address
from tests.web.nginx import NGINX

__all__ = ["Site", "tls_sites", "trust_in_nss", "unique_addresses"]

SERVER = """
    server {{
        listen {address}:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
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


def _authority(root: Path) -> TestAuthority:
    """The run's test authority of the sites, in ``root``."""
    return TestAuthority(root, name="VisioRegul test sites CA")


def trust_in_nss(ca_pem: Path, home: Path) -> None:
    """Trust the sites' authority (``ca_pem``) in ``home``'s NSS database, the one Chromium on
    Linux checks: launch Chromium with ``HOME=home``."""
    _authority(ca_pem.parent).trust_in_nss(home)


@asynccontextmanager
async def tls_sites(root: Path, sites: list[Site]) -> AsyncIterator[Path]:
    """nginx serving every site over HTTPS until the block ends; yields the authority's PEM."""
    if not (os.access(NGINX, os.X_OK) or shutil.which("nginx")):
        pytest.fail(
            "nginx is missing: install it with `bash tests/services/nginx.sh` (make test does)",
            pytrace=False,
        )
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    authority = _authority(root)
    await asyncio.to_thread(authority.issue, *(site.address for site in sites))
    servers = "".join(
        SERVER.format(
            address=site.address,
            port=PORT,
            cert=authority.cert_pem,
            key=authority.key_pem,
            upstream=site.upstream,
        )
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
        yield authority.ca_pem
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
