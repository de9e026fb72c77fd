"""Two instances on one PostgreSQL count failed console logins together: failures on one delay
attempts on the other, and an administrator's unlock on one frees the account on both."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from visioregul.integration import appkeys
from visioregul.integration.shared_login_throttle import LoginFailures, stored_key
from visioregul.integration.store.models import Role

from .conftest import PASSWORD, ClientFactory, public_origin
from .test_console_admin import API, account_id, add, post, sign_in
from .test_instances import _instances

Client = TestClient[web.Request, web.Application]

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def _attempt(client: Client, password: str) -> str:
    response = await client.post(
        "/console/login",
        data={"username": "regulateur", "password": password},
        headers={"Origin": public_origin(client)},
        allow_redirects=False,
    )
    return response.headers["Location"]


async def test_given_failures_on_one_instance_then_the_other_delays_and_an_unlock_frees_both(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: Any
) -> None:
    a, b = await _instances(aiohttp_client, tmp_path, await new_database(), ["visio-a", "visio-b"])
    await add(a.app, "chef", Role.ADMIN)
    throttle_a, throttle_b = a.app[appkeys.LOGIN_LIMITER], b.app[appkeys.LOGIN_LIMITER]
    for _ in range(throttle_a.free_failures):
        assert await _attempt(a, "wrong password") == "/console/login?error=invalid_credentials"
    # More failures against the account, as an attacker going on for a while through instance A
    # would count: the delay grows to minutes, whatever the test's own pace.
    for _ in range(8):
        await throttle_a.failed("user:regulateur")
    assert await throttle_b.locked_out("user:regulateur")
    # Even the right password is refused on instance B without being checked.
    assert await _attempt(b, PASSWORD) == "/console/login?error=rate_limited"

    # The address's failures stay after an unlock: as if the administrator sat at another desk.
    await throttle_b.succeeded("ip:127.0.0.1")
    _landing, token = await sign_in(a, "chef")
    target = await account_id(a, "regulateur")
    listed = await (await a.get(f"{API}/centres/1/accounts")).json()
    assert {x["username"]: x["locked_out"] for x in listed["accounts"]}["regulateur"] is True
    response = await post(a, token, f"{API}/centres/1/accounts/{target}/unlock", {})
    assert response.status == 200, await response.text()
    assert not await throttle_b.locked_out("user:regulateur")
    assert await _attempt(b, PASSWORD) == "/console"


async def test_given_failures_at_once_on_both_instances_then_every_one_counts(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: Any
) -> None:
    a, b = await _instances(aiohttp_client, tmp_path, await new_database(), ["visio-a", "visio-b"])
    throttles = [a.app[appkeys.LOGIN_LIMITER], b.app[appkeys.LOGIN_LIMITER]]
    await asyncio.gather(*(throttles[n % 2].failed("ip:192.0.2.7", "user:x") for n in range(20)))
    async with a.app[appkeys.DB]() as db:
        counts = dict((await db.execute(select(LoginFailures.key, LoginFailures.count))).all())
    assert counts == {stored_key("ip:192.0.2.7"): 20, stored_key("user:x"): 20}
    await throttles[1].succeeded("user:x")
    assert not await throttles[0].locked_out("user:x")
    assert await throttles[0].locked_out("ip:192.0.2.7")
