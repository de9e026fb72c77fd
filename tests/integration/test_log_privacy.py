"""A real 15 call and its invitations leave no caller's number whole in the log at INFO."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from visioregul.integration.app import create_app
from visioregul.integration.settings import MessagingSettings

from .service import Client, console, service_settings, wait_link_up

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]

CALLER = "+33698765412"
MASKED = "+33 6•• •• •• 12"


async def test_given_a_call_and_its_invitations_then_the_log_shows_the_number_masked(
    sandbox: SandboxAsterisk,
    aiohttp_client: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    settings = service_settings(sandbox, "ami", tmp_path)
    settings.messaging = MessagingSettings(per_destination_per_hour=1)
    client: Client = await aiohttp_client(create_app(settings))
    await wait_link_up(client)
    regulator = await console(client, "PJSIP/1001")
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200)
    call = await place_call(sandbox, CALLER, "151001", duration_ms=3000)
    try:
        offer = await regulator.wait_for("offer", timeout=15)
        call_id = offer["call"]["call_id"]
        for expected in (201, 429):  # the second one goes over the number's limit
            status, body = await regulator.request(
                "POST", "/console/api/sessions", {"destination": CALLER, "call_id": call_id}
            )
            assert status == expected, body
        assert await call.wait(15) == 0
        assert await phone.wait(15) == 0
    finally:
        await regulator.close()
    lines = [record.getMessage() for record in caplog.records]
    tagged = [line for line in lines if " tagged on line 15 from " in line]
    assert tagged and all(line.endswith(f"from {MASKED}") for line in tagged), tagged
    assert f"invitation refused: destination limit reached ({MASKED})" in lines
    whole = [line for line in lines if "98765412" in line.replace(" ", "")]
    assert whole == [], whole
