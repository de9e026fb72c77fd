"""``make demo`` against the session's sandbox Asterisk: the banner comes once the call is
answered, and both demo accounts sign in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.demo import DEMO_DOCTOR, DEMO_PASSWORD, DEMO_USER, run_demo
from visioregul.integration.settings import ServiceSettings

from .service import service_settings

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(120)]


async def test_given_the_demo_then_its_banner_follows_the_answer_and_both_accounts_sign_in(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    settings = service_settings(sandbox, "ami", tmp_path)
    settings.service = ServiceSettings(data_dir=tmp_path, port=port, public_url=base)
    said: list[str] = []
    banner = asyncio.Event()
    stop = asyncio.Event()

    def say(text: str) -> None:
        said.append(text)
        if "Ctrl-C" in text:
            banner.set()

    demo = asyncio.create_task(
        run_demo(settings, caller="+33612345678", sandbox=sandbox, stop=stop, say=say)
    )
    try:
        await asyncio.wait_for(banner.wait(), 60)
        # Built from the service's own call.answered event: a banner printed before Asterisk
        # answered would say the call was not answered.
        assert "Call:     +33612345678 answered at PJSIP/1001:" in said[-1]
        assert f"Console:  {base}/console" in said[-1]
        assert f"{DEMO_DOCTOR} / {DEMO_PASSWORD}" in said[-1]
        # unsafe: the jar keeps cookies of an IP address.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            for username in (DEMO_USER, DEMO_DOCTOR):
                response = await http.post(
                    f"{base}/console/login",
                    data={"username": username, "password": DEMO_PASSWORD, "position": ""},
                    headers={"Origin": base},
                    allow_redirects=False,
                )
                assert response.headers["Location"] == "/console", username
                me = await (await http.get(f"{base}/console/api/me")).json()
                assert me["account"]["username"] == username
        stop.set()
        assert await asyncio.wait_for(demo, 30) == 0
        assert said[-1] == "Stopping..."
    finally:
        stop.set()
        await asyncio.wait_for(demo, 30)
        # The demo's caller is abandoned, not hung up: leave the shared sandbox without a call.
        await sandbox.cli("channel request hangup all")
