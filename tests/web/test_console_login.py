"""Console logins live on the server: logout and disabling revoke them, sockets included; only
failed logins delay further attempts, per real client and per username."""

from __future__ import annotations

import asyncio
import os
import sys
from ipaddress import ip_network

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from visioregul.integration.web import appkeys
from visioregul.integration.web.console_login import CLOSE_LOGGED_OUT, COOKIE_NAME

from .conftest import PASSWORD, login, public_origin

Client = TestClient[web.Request, web.Application]


def _cookie(client: Client) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value


async def _post_login(
    client: Client, password: str, forwarded_for: str | None = None, username: str = "regulateur"
) -> str:
    headers = {"Origin": str(client.make_url("/")).rstrip("/")}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    response = await client.post(
        "/console/login",
        data={"username": username, "password": password},
        headers=headers,
        allow_redirects=False,
    )
    return response.headers["Location"]


async def test_given_a_logout_then_the_old_cookie_is_refused_by_the_server(client: Client) -> None:
    token = await login(client)
    stolen = _cookie(client)
    response = await client.post("/console/logout", headers={"X-CSRF-Token": token})
    assert response.status == 204
    # The cookie is still validly signed and not expired: only the server's record says no.
    response = await client.get("/console/api/me", cookies={COOKIE_NAME: stolen})
    assert response.status == 401
    assert (await response.json())["error_id"] == "unauthorized"


async def test_given_two_logins_when_one_logs_out_then_the_other_stays(client: Client) -> None:
    await login(client)
    first = _cookie(client)
    client.session.cookie_jar.clear()
    token = await login(client)
    response = await client.post("/console/logout", headers={"X-CSRF-Token": token})
    assert response.status == 204
    assert (await client.get("/console/api/me", cookies={COOKIE_NAME: first})).status == 200


async def test_given_an_open_console_when_logging_out_then_its_socket_is_closed(
    client: Client,
) -> None:
    token = await login(client)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        response = await client.post("/console/logout", headers={"X-CSRF-Token": token})
        assert response.status == 204
        message = await ws.receive(timeout=5)
        assert (message.type, message.data) == (WSMsgType.CLOSE, CLOSE_LOGGED_OUT)


async def _visioregul(client: Client, *args: str) -> tuple[int, str, str]:
    """The ``visioregul`` command, another process, on the service's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISIOREGUL_")}
    settings = client.app[appkeys.SETTINGS]
    env["VISIOREGUL_DATABASE__URL"] = settings.database.url
    env["VISIOREGUL_SERVICE__DATA_DIR"] = str(settings.service.data_dir)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "visioregul.integration.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode().strip(), err.decode().strip()


async def test_given_an_open_console_when_its_account_is_disabled_then_it_is_cut_off(
    client: Client,
) -> None:
    await login(client)
    # The command line disables accounts from another process: the console finds out by itself.
    client.app[appkeys.CONSOLES].recheck_interval = 0.05
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        code, out, err = await _visioregul(client, "account", "disable", "regulateur")
        assert (code, out) == (0, "account regulateur disabled (1 console logins revoked)"), err
        message = await ws.receive(timeout=5)
        assert (message.type, message.data) == (WSMsgType.CLOSE, CLOSE_LOGGED_OUT)
    assert (await client.get("/console/api/me")).status == 401
    assert await _post_login(client, PASSWORD) == "/console/login?error=invalid_credentials"
    # It signed in once: the audit log names it, so it can be disabled, never removed.
    code, _out, err = await _visioregul(client, "account", "remove", "regulateur")
    assert code == 2
    assert err == (
        "visioregul: account 'regulateur' has a history (sessions or audit entries name it) and "
        "cannot be removed; disable it instead: visioregul account disable regulateur"
    )


async def test_given_many_successful_logins_then_none_is_delayed(client: Client) -> None:
    for _ in range(12):
        assert await _post_login(client, PASSWORD) == "/console"


async def test_given_a_spoofed_forwarded_for_without_trusted_proxies_then_it_is_ignored(
    client: Client,
) -> None:
    # Five failures "from" five addresses are five failures from the one real peer.
    for n in range(5):
        location = await _post_login(
            client, "wrong", forwarded_for=f"198.51.100.{n}", username=f"x{n}"
        )
        assert location == "/console/login?error=invalid_credentials"
    location = await _post_login(client, "wrong", forwarded_for="198.51.100.99", username="other")
    assert location == "/console/login?error=rate_limited"


async def test_given_a_trusted_proxy_then_each_real_client_has_its_own_delays(
    client: Client,
) -> None:
    client.app[appkeys.SETTINGS].service.trusted_proxies = [ip_network("127.0.0.1")]
    for n in range(6):
        await _post_login(client, "wrong", forwarded_for="203.0.113.1", username=f"u{n}")
    location = await _post_login(client, "wrong", forwarded_for="203.0.113.1", username="u9")
    assert location == "/console/login?error=rate_limited"
    # Another regulator behind the same proxy signs in.
    assert await _post_login(client, PASSWORD, forwarded_for="203.0.113.2") == "/console"
