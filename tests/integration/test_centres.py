"""Two centres on one Asterisk, through real calls: the sandbox tags its ``15`` line for SAMU 75
(desk 1001) and its ``1515`` line for SAMU 973 in Guyane (desk 1002).

A call belongs to its line's centre whichever desk answers it: its offers, the CAD's live calls
and events, and the sessions paired with it are that centre's only; another centre's regulator
is answered as for an unknown call. The desk phone's key opens the session in the call's centre.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.sessions.models import Invitation, VisioSession
from visioregul.integration.settings import ApiKey, CentreSettings
from visioregul.integration.store.models import Account, Centre, OutboxMessage

from .service import (
    CAD_KEY,
    CAD_SESSIONS_KEY,
    Client,
    Listener,
    add_account,
    console,
    service_settings,
    until,
    wait_link_up,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(120)]

PARIS_LINE = "15"
"""Dialled as ``15<desk>``: the ``15`` line straight to a desk."""
PARIS_CAD_KEY = "cad-key-samu75-0123456789"
CAYENNE_LINE = "1515"
"""Dialled as ``17<desk>``: the sandbox's second tagged line straight to a desk."""


@pytest.fixture(params=["ami", "ari"])
async def client(
    request: pytest.FixtureRequest, sandbox: SandboxAsterisk, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[Client]:
    """The service with SAMU 75 and SAMU 973 declared, once per telephony source."""
    settings = service_settings(sandbox, request.param, tmp_path)
    settings.telephony = settings.telephony.model_copy(update={"lines": [PARIS_LINE, CAYENNE_LINE]})
    settings.centres = [
        CentreSettings(code="samu75", name="SAMU 75", lines=[PARIS_LINE], positions=["PJSIP/1001"]),
        CentreSettings(
            code="samu973",
            name="SAMU 973",
            time_zone="America/Cayenne",
            lines=[CAYENNE_LINE],
            positions=["PJSIP/1002"],
        ),
    ]
    # A CAD key of SAMU 75 acting for nobody: it reads that centre's live calls only.
    settings.console.api_keys.append(ApiKey(key=SecretStr(PARIS_CAD_KEY), centre="samu75"))
    client: Client = await aiohttp_client(create_app(settings))
    await wait_link_up(client)
    yield client


async def centre_id(client: Client, code: str) -> int:
    async with client.app[appkeys.DB]() as db:
        found = await db.scalar(select(Centre.id).where(Centre.code == code))
    assert found is not None
    return found


async def regulator_of(client: Client, code: str, username: str, desk: str) -> Listener:
    """A console of a regulator of centre ``code`` (given no desk: the centre's) at ``desk``."""
    await add_account(client, username)
    centre = await centre_id(client, code)
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(
            update(Account).where(Account.username == username).values(centre_id=centre)
        )
    return await console(client, desk, username)


async def cad_calls(client: Client, key: str) -> set[str]:
    response = await client.get("/api/v1/calls", headers={"Authorization": f"Bearer {key}"})
    assert response.status == 200, await response.text()
    return {call["call_id"] for call in (await response.json())["calls"]}


async def answered_at(client: Client, desk: str, caller: str) -> str:
    """The id of the call from ``caller`` once answered at ``desk``."""
    registry = client.app[appkeys.REGISTRY]

    def found() -> list[str]:
        return [
            call.call_id
            for call in registry.calls(position=desk)
            if call.caller.e164 == caller and call.answered_at is not None
        ]

    await until(found, 15, f"the call of {caller} answered at {desk}")
    return found()[0]


async def test_given_two_centres_then_each_call_reaches_its_lines_centre_only(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    paris = await regulator_of(client, "samu75", "paris", "PJSIP/1001")
    # The account the CAD's sessions key acts for: its centre's calls only.
    cayenne = await regulator_of(client, "samu973", "regulateur", "PJSIP/1002")
    cad_cayenne = Listener(
        await client.ws_connect(
            "/api/v1/events", headers={"Authorization": f"Bearer {CAD_SESSIONS_KEY}"}
        )
    ).start()
    await cad_cayenne.wait_for("snapshot")
    desk_1001 = await start_phone(sandbox, "1001", answer_delay_ms=200, calls=2)
    desk_1002 = await start_phone(sandbox, "1002", answer_delay_ms=200)

    # SAMU 973's line, answered at SAMU 75's desk: SAMU 973's call, offered to nobody there.
    stray = await place_call(sandbox, "+33611111111", "171001", duration_ms=2000)
    stray_id = await answered_at(client, "PJSIP/1001", "+33611111111")
    assert await stray.wait(20) == 0
    ours = await place_call(sandbox, "+33633333333", "151001", duration_ms=4000)
    offer = await paris.wait_for("offer", timeout=15)
    # Offers come in order: the stray call's would have come first.
    assert [m["call"]["call_id"] for m in paris.of_type("offer")] == [offer["call"]["call_id"]]
    paris_id = offer["call"]["call_id"]
    assert paris_id != stray_id

    guyane = await place_call(sandbox, "+33622222222", "171002", duration_ms=6000)
    offer = await cayenne.wait_for("offer", timeout=15)
    guyane_id = offer["call"]["call_id"]
    assert offer["call"]["position"] == "PJSIP/1002"
    assert [m["call"]["call_id"] for m in cayenne.of_type("offer")] == [guyane_id]

    # The CAD: a key acting for SAMU 973's regulator sees its centre's calls; a key acting for
    # nobody, its own centre's (SAMU 75's; the default centre has none).
    assert await cad_calls(client, CAD_SESSIONS_KEY) == {stray_id, guyane_id}
    assert await cad_calls(client, PARIS_CAD_KEY) == {paris_id}
    assert await cad_calls(client, CAD_KEY) == set()
    for call_id, status in ((guyane_id, 200), (paris_id, 404)):
        response = await client.get(
            f"/api/v1/calls/{call_id}", headers={"Authorization": f"Bearer {CAD_SESSIONS_KEY}"}
        )
        assert response.status == status, await response.text()

    # Pairing: SAMU 75's regulator cannot pair with SAMU 973's calls (as with an unknown id).
    refusals = []
    for call_id in (guyane_id, stray_id, "1700000000.999"):
        status, body = await paris.request(
            "POST", "/console/api/sessions", {"destination": "06 22 22 22 22", "call_id": call_id}
        )
        refusals.append((status, body["error_id"]))
    # Exactly as for an unknown call id.
    assert refusals == [(400, "call_not_found")] * 3
    status, session = await cayenne.request(
        "POST", "/console/api/sessions", {"destination": "06 22 22 22 22", "call_id": guyane_id}
    )
    assert status == 201, session
    async with client.app[appkeys.DB]() as db:
        row = await db.get(VisioSession, session["id"])
    assert row is not None and row.centre_id == await centre_id(client, "samu973")

    for process in (ours, guyane, desk_1001, desk_1002):
        assert await process.wait(20) == 0, process.report()
    seen = {m["call"]["call_id"] for m in cad_cayenne.messages if "call" in m}
    assert seen == {stray_id, guyane_id}
    for listener in (paris, cayenne, cad_cayenne):
        await listener.close()


async def test_given_the_key_pressed_at_a_desk_of_another_centre_then_the_session_is_the_calls_centre(  # noqa: E501
    client: Client, sandbox: SandboxAsterisk
) -> None:
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200, feature_code_after_ms=1000)
    call = await place_call(sandbox, "+33612345678", "171001", duration_ms=6000)
    call_id = await answered_at(client, "PJSIP/1001", "+33612345678")
    sessions: list[VisioSession] = []

    async def look() -> bool:
        async with client.app[appkeys.DB]() as db:
            sessions[:] = await db.scalars(
                select(VisioSession).where(VisioSession.call_id == call_id)
            )
        return bool(sessions)

    deadline = asyncio.get_running_loop().time() + 10
    while not await look():
        assert asyncio.get_running_loop().time() < deadline, "no session for the call"
        await asyncio.sleep(0.05)
    assert [s.created_by for s in sessions] == ["position:PJSIP/1001"]
    assert sessions[0].centre_id == await centre_id(client, "samu973")
    assert await call.wait(20) == 0, call.report()
    assert await phone.wait(20) == 0, phone.report()
    async with client.app[appkeys.DB]() as db:
        (sms,) = await db.scalars(select(OutboxMessage))
        expires_at = await db.scalar(
            select(Invitation.expires_at).where(Invitation.session_id == sessions[0].id)
        )
    assert sms.to == "+33612345678"
    assert expires_at is not None
    # The call's centre's time zone, not the service's.
    local = expires_at.astimezone(ZoneInfo("America/Cayenne"))
    assert f"{local:%H}h{local:%M}" in sms.text
