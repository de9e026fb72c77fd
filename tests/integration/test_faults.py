"""Faults: Asterisk down at start or restarted mid-call, refused logins, the service killed.

Telephony is never at risk: the service killed with SIGKILL in the middle of a real call leaves
the call to end normally (sipp's exit status says so), and a restarted service finds the call
still in progress. These tests use their own sandbox Asterisk, on other ports, so that stopping
and restarting it does not disturb the other tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.sandbox.asterisk import SandboxAsterisk, SandboxPorts
from tests.sandbox.sipp import place_call, start_phone
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.telephony.link import LinkState, LinkStatus

from .service import CAD_KEY, Client, cad_events, service_settings, until, wait_link_up

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(120)]


@pytest.fixture
async def faulty() -> AsyncIterator[SandboxAsterisk]:
    """A sandbox of this test's own, which the test may stop and restart."""
    sandbox = SandboxAsterisk(SandboxPorts.pick_free())
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


def record_states(status: LinkStatus) -> list[LinkState]:
    states = [status.state]
    status.listeners.append(lambda changed: states.append(changed.state))
    return states


async def health(client: Client) -> dict[str, Any]:
    response = await client.get("/healthz", headers={"Authorization": f"Bearer {CAD_KEY}"})
    body: dict[str, Any] = await response.json()
    return body


@pytest.mark.parametrize("source", ["ami", "ari"])
async def test_given_asterisk_down_at_start_then_degraded_then_connects_when_it_comes(
    source: str, aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = SandboxAsterisk(SandboxPorts.pick_free())
    client: Client = await aiohttp_client(create_app(service_settings(sandbox, source, tmp_path)))
    status = client.app[appkeys.TELEPHONY].status
    await until(lambda: status.state is LinkState.DOWN, 10, "link down")
    body = await health(client)
    assert body["status"] == "degraded"
    assert body["telephony"]["state"] == "down"
    assert "unreachable" in body["telephony"]["detail"]
    await asyncio.sleep(1.5)  # several failed attempts...
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "link" in r.getMessage()]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # ...logged once
    await sandbox.start()
    try:
        await wait_link_up(client, 20)
        assert (await health(client))["status"] == "ok"
    finally:
        await sandbox.stop()


@pytest.mark.parametrize("source", ["ami", "ari"])
async def test_given_asterisk_restarted_mid_call_then_reconnects_and_the_call_is_ended(
    source: str, faulty: SandboxAsterisk, aiohttp_client: Any, tmp_path: Path
) -> None:
    client: Client = await aiohttp_client(create_app(service_settings(faulty, source, tmp_path)))
    await wait_link_up(client)
    states = record_states(client.app[appkeys.TELEPHONY].status)
    cad = await cad_events(client)
    phone = await start_phone(faulty, "1001")
    call = await place_call(faulty, "+33612345678", "151001", duration_ms=30000)
    answered = await cad.wait_for("call.answered")
    await faulty.restart()
    await until(lambda: LinkState.DOWN in states, 10, "link down seen")
    await wait_link_up(client, 20)
    # The restart dropped the call: the resync says so.
    ended = await cad.wait_for("call.ended", timeout=10)
    assert ended["call"]["call_id"] == answered["call"]["call_id"]
    call.kill()
    phone.kill()
    await call.wait(5)
    await phone.wait(5)
    # And the next call is seen as usual.
    phone = await start_phone(faulty, "1001")
    call = await place_call(faulty, "+33612345679", "151001", duration_ms=1000)
    offer = await cad.wait_for(
        "call.answered", lambda m: m["call"]["caller"]["e164"].endswith("79")
    )
    assert offer["call"]["position"] == "PJSIP/1001"
    assert await call.wait(15) == 0
    assert await phone.wait(15) == 0
    await cad.close()


async def test_given_a_refused_ami_login_then_health_says_so(
    faulty: SandboxAsterisk, aiohttp_client: Any, tmp_path: Path
) -> None:
    settings = service_settings(faulty, "ami", tmp_path, ami_secret="wrong-secret")
    client: Client = await aiohttp_client(create_app(settings))
    status = client.app[appkeys.TELEPHONY].status
    await until(lambda: status.state is LinkState.REFUSED, 10, "login refused")
    body = await health(client)
    assert body["status"] == "degraded"
    assert body["telephony"]["state"] == "refused"
    assert "login refused" in body["telephony"]["detail"]


async def test_given_a_refused_or_unreachable_ari_then_health_says_so(
    faulty: SandboxAsterisk, aiohttp_client: Any, tmp_path: Path
) -> None:
    settings = service_settings(faulty, "ari", tmp_path, ari_password="wrong")
    client: Client = await aiohttp_client(create_app(settings))
    status = client.app[appkeys.TELEPHONY].status
    await until(lambda: status.state is LinkState.REFUSED, 10, "ARI refused")
    assert "ARI refused" in (await health(client))["telephony"]["detail"]

    closed_port = free_port()
    # Another service beside the first: its own folder, since one SQLite file serves one instance.
    second = tmp_path / "second"
    settings = service_settings(faulty, "ari", second, ari_url=f"http://127.0.0.1:{closed_port}")
    client = await aiohttp_client(create_app(settings))
    status = client.app[appkeys.TELEPHONY].status
    await until(lambda: status.state is LinkState.DOWN, 10, "ARI unreachable")
    assert "unreachable" in (await health(client))["telephony"]["detail"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """``visioregul serve`` as a real process, configured through its environment."""

    def __init__(self, sandbox: SandboxAsterisk, tmp_path: Path, port: int) -> None:
        self.port = port
        self.log = tmp_path / f"service-{port}.log"
        self.env = {
            **os.environ,
            "VISIOREGUL_SERVICE__PORT": str(port),
            "VISIOREGUL_SERVICE__PUBLIC_URL": f"http://127.0.0.1:{port}",
            "VISIOREGUL_SERVICE__DATA_DIR": str(tmp_path),
            "VISIOREGUL_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/service.sqlite",
            "VISIOREGUL_TELEPHONY__AMI__PORT": str(sandbox.ports.ami),
            "VISIOREGUL_TELEPHONY__RECONNECT_MIN": "0.2",
            "VISIOREGUL_CONSOLE__API_KEYS": json.dumps([CAD_KEY]),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "visioregul.integration.cli", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def get(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {CAD_KEY}"}
        url = f"http://127.0.0.1:{self.port}{path}"
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as reply:
            return await reply.json()

    async def wait_ready(self) -> None:
        async def up() -> bool:
            try:
                body = await self.get("/healthz")
            except aiohttp.ClientError:
                return False
            return bool(body["telephony"]["state"] == "up")

        for _ in range(200):
            if await up():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"service not ready:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)


async def test_given_the_service_killed_mid_call_then_the_call_goes_on_and_is_found_again(
    faulty: SandboxAsterisk, tmp_path: Path
) -> None:
    service = ServiceProcess(faulty, tmp_path, free_port())
    service.start()
    try:
        await service.wait_ready()
        phone = await start_phone(faulty, "1001")
        call = await place_call(faulty, "+33612345678", "151001", duration_ms=6000)

        async def answered() -> list[dict[str, Any]]:
            body = await service.get("/api/v1/calls?state=answered")
            return list(body["calls"])

        for _ in range(100):
            if await answered():
                break
            await asyncio.sleep(0.1)
        before = await answered()
        assert [c["position"] for c in before] == ["PJSIP/1001"]
        service.kill()
        # The call is not disturbed; a new service finds it in progress.
        service.start()
        await service.wait_ready()
        after = await answered()
        assert [(c["call_id"], c["position"]) for c in after] == [
            (before[0]["call_id"], "PJSIP/1001")
        ]
        assert after[0]["caller"]["e164"] == "+33612345678"
        assert await call.wait(20) == 0, "the caller's call must end normally"
        assert await phone.wait(20) == 0, "the regulator's call must end normally"
        for _ in range(50):
            calls = (await service.get("/api/v1/calls"))["calls"]
            if calls and calls[0]["state"] == "ended":
                break
            await asyncio.sleep(0.1)
        assert calls[0]["state"] == "ended"
    finally:
        if service.process and service.process.poll() is None:
            service.process.terminate()
            service.process.wait(10)
