"""Callers of the whole French plan through the sandbox's trunk, as centres in FR and RE read them.

sipp presents each number as a trunk declared by ``telephony.trunk_format`` would; the offer the
console receives must name the right number, kind and suggested channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from visioregul.integration.app import create_app
from visioregul.integration.telephony.numbers import TrunkFormat

from .service import Client, console, service_settings, wait_link_up

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]


@pytest.fixture
async def reunion(
    sandbox: SandboxAsterisk, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[Client]:
    """A centre in Réunion whose trunk drops the national 0 (``692123456``)."""
    settings = service_settings(sandbox, "ami", tmp_path)
    settings.telephony.region = "RE"
    settings.telephony.trunk_format = TrunkFormat.NATIONAL_WITHOUT_ZERO
    client: Client = await aiohttp_client(create_app(settings))
    await wait_link_up(client)
    yield client


@pytest.mark.parametrize(
    ("presented", "caller", "suggested"),
    [
        (
            "692123456",
            {"e164": "+262692123456", "display": "06 92 12 34 56", "kind": "mobile"},
            "sms",
        ),
        (
            "612345678",
            {"e164": "+33612345678", "display": "06 12 34 56 78", "kind": "mobile"},
            "sms",
        ),
        (
            "262161234",
            {"e164": "+262262161234", "display": "02 62 16 12 34", "kind": "landline"},
            "email",
        ),
        (
            "800123456",
            {"e164": "+262800123456", "display": "0 800 12 34 56", "kind": "freephone"},
            "ask_number",
        ),
    ],
)
async def test_given_a_reunion_centre_then_plan_numbers_without_zero_are_read_as_french(
    reunion: Client,
    sandbox: SandboxAsterisk,
    presented: str,
    caller: dict[str, str],
    suggested: str,
) -> None:
    at_1001 = await console(reunion, "PJSIP/1001")
    phone = await start_phone(sandbox, "1001")
    call = await place_call(sandbox, presented, "151001", duration_ms=1000)
    offer = await at_1001.wait_for("offer")
    assert offer["call"]["caller"] == {
        "raw": presented,
        "sms_capable": caller["kind"] == "mobile",
        **caller,
    }
    assert offer["call"]["suggested_channel"] == suggested
    assert await call.wait(15) == 0
    assert await phone.wait(15) == 0
    await at_1001.close()


@pytest.mark.parametrize(
    ("presented", "e164", "display"),
    [
        ("+262692123456", "+262692123456", "06 92 12 34 56"),
        ("0690001234", "+590690001234", "06 90 00 12 34"),
        ("596696201234", "+596696201234", "06 96 20 12 34"),
    ],
)
async def test_given_a_metropolitan_centre_then_overseas_mobiles_are_mobiles(
    client: Client, sandbox: SandboxAsterisk, presented: str, e164: str, display: str
) -> None:
    at_1002 = await console(client, "PJSIP/1002")
    phone = await start_phone(sandbox, "1002")
    call = await place_call(sandbox, presented, "151002", duration_ms=1000)
    offer = await at_1002.wait_for("offer")
    assert offer["call"]["caller"]["e164"] == e164
    assert offer["call"]["caller"]["display"] == display
    assert offer["call"]["caller"]["kind"] == "mobile"
    assert offer["call"]["suggested_channel"] == "sms"
    assert await call.wait(15) == 0
    assert await phone.wait(15) == 0
    await at_1002.close()
