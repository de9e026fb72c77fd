"""A 15 call through the sandbox Asterisk, seen by three instances behind nginx: the regulator's
console gets one offer whichever instance its socket is on, and the desk phone's key (``*8``)
sends one SMS and opens one session, whichever instance acts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from panoramisk import Manager

from tests.integration.test_feature_code import (  # noqa: F401  (fixture)
    admin,
    ended_cleanly,
    live_channel,
    wait_var,
)
from tests.sandbox import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone

from .clients import signed_in
from .harness import cluster, fresh_postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.asterisk, pytest.mark.timeout(300)]


async def _until_ended(console: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The socket's messages about calls, until one says the call ended."""
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        async for message in console:
            body = json.loads(message.data)
            if "call" in body:
                messages.append(body)
                if body["call"]["state"] == "ended":
                    return messages
    raise AssertionError(f"the socket closed before the call ended: {messages}")


async def test_given_a_15_call_then_one_offer_per_console_and_star_8_sends_one_sms(
    sandbox: SandboxAsterisk,
    admin: Manager,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with (
        fresh_postgres_database() as url,
        cluster(tmp_path, url, count=3, telephony="ami", sandbox=sandbox) as visio,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        await signed_in(http, visio.lb_url)
        # The desk's console, once on each instance (where the load balancer could send it).
        consoles = [
            await http.ws_connect(f"{visio.url(name)}/console/ws", origin=visio.lb_url)
            for name in visio.names
        ]
        for console in consoles:
            assert (await console.receive_json(timeout=10))["type"] == "hello"

        phone = await start_phone(sandbox, "1001", answer_delay_ms=200, feature_code_after_ms=1000)
        call = await place_call(sandbox, "+33612345678", "151001", duration_ms=6000)
        regulator = await live_channel(sandbox, "1001")
        # Every instance heard the key; one acted, and told the phone so.
        assert await wait_var(admin, regulator, "VISIOREGUL_INVITE") == "sent"
        await ended_cleanly(call, phone)

        seen = [await _until_ended(console) for console in consoles]
        for messages in seen:
            offers = [m for m in messages if m["type"] == "offer"]
            assert len(offers) == 1, messages
            assert offers[0]["call"]["caller"]["e164"] == "+33612345678"
        call_id = seen[0][0]["call"]["call_id"]
        assert {m[0]["call"]["call_id"] for m in seen} == {call_id}

        outbox = await (await http.get(f"{visio.lb_url}/console/api/outbox")).json()
        assert [m["to"] for m in outbox["messages"]] == ["+33612345678"]
        sessions = await (
            await http.get(f"{visio.lb_url}/console/api/sessions", params={"call_id": call_id})
        ).json()
        assert sessions["total"] == 1
        for console in consoles:
            await console.close()
