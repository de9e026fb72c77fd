"""Behind a real nginx from Debian: every client is itself, not the proxy, and a forged
``X-Forwarded-For`` changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from visioregul.integration import accounts, appkeys, audit
from visioregul.integration.app import create_app
from visioregul.integration.settings import ServiceSettings
from visioregul.integration.store.models import Role

from .conftest import PASSWORD, make_settings
from .nginx import free_port, nginx


@dataclass
class Proxied:
    """The service behind nginx."""

    url: str
    """nginx's address: the service's public URL."""
    upstream: str
    """The service's own address, which only nginx should use."""
    app: web.Application


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[Proxied]:
    """The service on one port, nginx in front of it on another."""
    upstream, port = free_port(), free_port()
    public_url = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path)
    settings.service = ServiceSettings(
        data_dir=tmp_path,
        public_url=public_url,
        trusted_proxies=[ip_network("127.0.0.1")],
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", upstream)
    await site.start()
    async with app[appkeys.DB].begin() as db:
        for username in ("regulateur", "medecin"):
            await accounts.ensure_account(
                db, username, PASSWORD, display_name=username, role=Role.REGULATOR
            )
    try:
        async with nginx(tmp_path / "nginx", upstream, port):
            yield Proxied(public_url, f"http://127.0.0.1:{upstream}", app)
    finally:
        await runner.cleanup()


def _session_from(address: str) -> aiohttp.ClientSession:
    """A browser on another machine: its connections leave from ``address``."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(address, 0)),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies of an IP address host
    )


async def _login(
    session: aiohttp.ClientSession,
    url: str,
    username: str,
    password: str,
    forwarded_for: str | None = None,
    origin: str | None = None,
) -> str:
    headers = {"Origin": origin or url}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    async with session.post(
        f"{url}/console/login",
        data={"username": username, "password": password, "position": "PJSIP/1001"},
        headers=headers,
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()
        return response.headers["Location"]


async def test_given_two_clients_behind_nginx_then_they_do_not_share_a_bucket(
    proxied: Proxied,
) -> None:
    url, app = proxied.url, proxied.app
    async with _session_from("127.0.0.2") as scanner, _session_from("127.0.0.3") as regulator:
        # One client guesses passwords for several names until it must wait.
        locations = [await _login(scanner, url, f"guess{n}", "wrong") for n in range(6)]
        assert locations[-1] == "/console/login?error=rate_limited"
        assert locations.count("/console/login?error=invalid_credentials") == 5
        # Behind the same proxy, a colleague mistypes once, then signs in.
        assert await _login(regulator, url, "medecin", "typo") == (
            "/console/login?error=invalid_credentials"
        )
        assert await _login(regulator, url, "medecin", PASSWORD) == "/console"
        async with regulator.get(f"{url}/console/api/me") as response:
            assert response.status == 200
    async with app[appkeys.DB]() as db:
        failed = await audit.recent(db, action="console.login_failed")
        logins = await audit.recent(db, action="console.login")
    assert {entry.details["remote"] for entry in failed} == {"127.0.0.2", "127.0.0.3"}
    assert [entry.details["remote"] for entry in logins] == ["127.0.0.3"]


async def test_given_a_forged_forwarded_for_then_nginx_and_the_service_ignore_it(
    proxied: Proxied,
) -> None:
    url, app = proxied.url, proxied.app
    async with _session_from("127.0.0.2") as attacker:
        for n in range(5):
            await _login(attacker, url, f"guess{n}", "wrong", forwarded_for=f"198.51.100.{n}")
        # A new forged address each time is still the same client, through nginx...
        assert await _login(attacker, url, "regulateur", PASSWORD, "198.51.100.77") == (
            "/console/login?error=rate_limited"
        )
        # ... and straight to the service, which believes only its trusted proxy.
        assert await _login(
            attacker, proxied.upstream, "regulateur", PASSWORD, "198.51.100.78", origin=url
        ) == ("/console/login?error=rate_limited")
    async with app[appkeys.DB]() as db:
        failed = await audit.recent(db, action="console.login_failed")
    assert {entry.details["remote"] for entry in failed} == {"127.0.0.2"}


async def test_given_a_scanner_behind_nginx_then_only_it_hits_the_link_limit(
    proxied: Proxied,
) -> None:
    url = proxied.url
    async with _session_from("127.0.0.2") as scanner, _session_from("127.0.0.3") as patient:
        statuses = []
        for n in range(31):
            async with scanner.get(f"{url}/p/not-a-token-{n}") as response:
                statuses.append(response.status)
        assert statuses[:30] == [404] * 30
        assert statuses[30] == 429
        # The patient behind the same proxy is not in the scanner's bucket.
        async with patient.get(f"{url}/p/not-a-token") as response:
            assert response.status == 404
