"""The desk phone's key (``*8``) sends the video link, from a real call, via AMI and via ARI.

sipp plays the operator trunk and the regulator's phone, which presses the key by SIP INFO
(``application/dtmf-relay``) once in conversation. Asterisk runs the shipped
``[visioregul-feature]`` subroutine on the regulator's channel; what the phone heard is read
from Asterisk's log (``PlayTones`` with its argument, verbose level 3), what it was told from
``VISIOREGUL_INVITE`` on its channel (sandbox admin AMI ``Getvar``, while the call is up).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from panoramisk import Manager
from sqlalchemy import select

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import SippProcess, place_call, start_phone
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.store.models import AuditEntry, OutboxMessage

from .service import CAD_SESSIONS_KEY, Client, add_account, service_settings, until, wait_link_up

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]

BEEPS = "!880/150,!0/100,!880/150"
"""The confirmation the shipped subroutine plays: two short beeps."""
ERROR_TONE = "congestion"
_PLAYTONES = re.compile(r'\] PlayTones\("(?P<channel>[^"]+)", "(?P<tones>[^"]*)"\)')
_EXECUTING = re.compile(
    r"^\[(?P<at>[0-9-]+ [0-9:.]+)\].*Executing \[s@visioregul-feature:[0-9]+\] "
    r'(?P<app>\w+)\("(?P<channel>[^"]+)"'
)


@pytest.fixture
async def admin(sandbox: SandboxAsterisk) -> AsyncIterator[Manager]:
    """The sandbox's admin AMI user: reads channel variables the way a supervisor would."""
    manager = Manager(
        host=sandbox.host,
        port=sandbox.ports.ami,
        username=sandbox.admin_ami_user,
        secret=sandbox.admin_ami_secret,
        ping_delay=3600,
    )
    await manager.connect()
    await until(lambda: manager.authenticated, 5, "admin AMI login")
    yield manager
    manager.close()


async def getvar(manager: Manager, channel: str, variable: str) -> str:
    """A channel variable's value ("" when unset); fails if the channel is gone."""
    reply = await manager.send_action(
        {"Action": "Getvar", "Channel": channel, "Variable": variable}
    )
    assert reply.success, f"Getvar {variable} on {channel}: {dict(reply)}"
    return str(reply.get("Value") or "")


async def wait_var(manager: Manager, channel: str, variable: str, timeout: float = 5.0) -> str:
    """Poll a channel variable until it is set; its value."""
    values: list[str] = []

    async def poll() -> bool:
        values[:] = [await getvar(manager, channel, variable)]
        return bool(values[0])

    deadline = time.monotonic() + timeout
    while not await poll():
        if time.monotonic() > deadline:
            raise AssertionError(f"{variable} still unset on {channel} after {timeout} s")
        await until(lambda: True, 0.1)
    return values[0]


async def live_channel(sandbox: SandboxAsterisk, position: str) -> str:
    """The name of the live channel of a position's phone."""
    names: list[str] = []
    deadline = time.monotonic() + 10
    while not names:
        output = await sandbox.cli("core show channels concise")
        names = [
            line.split("!")[0]
            for line in output.splitlines()
            if line.startswith(f"PJSIP/{position}-")
        ]
        if time.monotonic() > deadline:
            raise AssertionError(f"no channel for {position}")
        await asyncio.sleep(0.05)
    return names[0]


def tones_played(sandbox: SandboxAsterisk, channel: str) -> list[str]:
    """Every Playtones argument Asterisk logged for ``channel``, in order."""
    assert sandbox.log_path is not None
    return [
        match["tones"]
        for match in _PLAYTONES.finditer(sandbox.log_path.read_text(errors="replace"))
        if match["channel"] == channel
    ]


def feature_steps(sandbox: SandboxAsterisk, channel: str) -> list[tuple[float, str]]:
    """(time, application) of each step of ``[visioregul-feature]`` run on ``channel``."""
    assert sandbox.log_path is not None
    steps = []
    for line in sandbox.log_path.read_text(errors="replace").splitlines():
        match = _EXECUTING.match(line)
        if match and match["channel"] == channel:
            at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S.%f")  # logger.conf's format
            steps.append((at.timestamp(), match["app"]))
    return steps


async def sessions_of(client: Client, call_id: str) -> dict[str, Any]:
    await add_account(client)  # the account the CAD's key acts for
    response = await client.get(
        "/api/v1/sessions",
        params={"call_id": call_id},
        headers={"Authorization": f"Bearer {CAD_SESSIONS_KEY}"},
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def answered_call_id(client: Client) -> str:
    registry = client.app[appkeys.REGISTRY]
    await until(lambda: registry.calls(position="PJSIP/1001"), 10, "the call answered at 1001")
    return registry.calls(position="PJSIP/1001")[0].call_id


async def ended_cleanly(*processes: SippProcess) -> None:
    for process in processes:
        assert await process.wait(20) == 0, process.report()


async def test_given_a_mobile_caller_when_1001_presses_star_8_then_sms_sent_and_two_beeps(
    client: Client, sandbox: SandboxAsterisk, admin: Manager
) -> None:
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200, feature_code_after_ms=1000)
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=6000)
    call_id = await answered_call_id(client)
    regulator = await live_channel(sandbox, "1001")
    caller = client.app[appkeys.REGISTRY].get(call_id)
    assert caller is not None

    # The phone was told, and Asterisk carries the pairing, while the call is up.
    assert await wait_var(admin, regulator, "VISIOREGUL_INVITE") == "sent"
    body = await sessions_of(client, call_id)
    assert body["total"] == 1
    session = body["sessions"][0]
    assert session["call_id"] == call_id
    assert session["created_by"] == "position:PJSIP/1001"
    assert session["position"] == "PJSIP/1001"
    assert session["caller_number"] == "+33612345678"
    assert await wait_var(admin, caller.channel, "VISIOREGUL_SESSION") == session["id"]

    await ended_cleanly(call, phone)  # the call went on and ended normally
    async with client.app[appkeys.DB]() as db:
        sms = list(await db.scalars(select(OutboxMessage)))
        audit = list(await db.scalars(select(AuditEntry)))
    assert [(m.channel, m.to) for m in sms] == [("sms", "+33612345678")]
    assert "/p/" in sms[0].text
    assert [(a.action, a.actor, a.target) for a in audit] == [
        ("feature_code.sent", "position:PJSIP/1001", call_id)
    ]
    assert audit[0].details["session_id"] == session["id"]
    assert tones_played(sandbox, regulator) == [BEEPS]
    assert tones_played(sandbox, caller.channel) == []


async def test_given_a_landline_caller_when_star_8_then_refused_and_error_tone(
    client: Client, sandbox: SandboxAsterisk, admin: Manager
) -> None:
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200, feature_code_after_ms=1000)
    call = await place_call(sandbox, "0145678901", "151001", duration_ms=6000)
    call_id = await answered_call_id(client)
    regulator = await live_channel(sandbox, "1001")

    assert await wait_var(admin, regulator, "VISIOREGUL_INVITE") == "refused"
    await ended_cleanly(call, phone)
    assert (await sessions_of(client, call_id))["total"] == 0
    async with client.app[appkeys.DB]() as db:
        sms = list(await db.scalars(select(OutboxMessage)))
        audit = list(await db.scalars(select(AuditEntry)))
    assert sms == []
    assert [(a.action, a.actor, a.target, a.details["reason"]) for a in audit] == [
        ("feature_code.refused", "position:PJSIP/1001", call_id, "landline")
    ]
    assert tones_played(sandbox, regulator) == [ERROR_TONE]


async def test_given_no_service_when_star_8_then_error_tone_after_3_s_and_the_call_goes_on(
    sandbox: SandboxAsterisk, admin: Manager
) -> None:
    """Telephony never waits on the service: nobody answers, the phone gives up after 3 s."""
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200, feature_code_after_ms=1000)
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=7000)
    regulator = await live_channel(sandbox, "1001")
    await until(lambda: tones_played(sandbox, regulator), 10, "the answer tone")
    assert await getvar(admin, regulator, "VISIOREGUL_INVITE") == ""
    await ended_cleanly(call, phone)
    assert tones_played(sandbox, regulator) == [ERROR_TONE]
    steps = feature_steps(sandbox, regulator)
    waited = [at for at, app in steps if app == "WaitForCondition"]
    played = [at for at, app in steps if app == "PlayTones"]
    assert len(waited) == 1 and len(played) == 1
    assert 2.9 <= played[0] - waited[0] <= 3.5


async def test_given_a_queue_call_when_the_member_presses_star_8_then_sent(
    sandbox: SandboxAsterisk, admin: Manager, aiohttp_client: Any, tmp_path: Path
) -> None:
    """The key reaches a queue member's leg too (DYNAMIC_FEATURES inherited through Queue)."""
    client: Client = await aiohttp_client(create_app(service_settings(sandbox, "ami", tmp_path)))
    await wait_link_up(client)
    member = await start_phone(sandbox, "1001", answer_delay_ms=300, feature_code_after_ms=1000)
    other = await start_phone(sandbox, "1002", answer_delay_ms=4000)
    call = await place_call(sandbox, "+33612345678", "15", duration_ms=5000)
    call_id = await answered_call_id(client)
    regulator = await live_channel(sandbox, "1001")
    assert await wait_var(admin, regulator, "VISIOREGUL_INVITE") == "sent"
    assert await getvar(admin, regulator, "DYNAMIC_FEATURES") == "visioregul"
    await ended_cleanly(call, member, other)
    assert (await sessions_of(client, call_id))["total"] == 1
    assert tones_played(sandbox, regulator) == [BEEPS]


async def test_given_an_untagged_line_when_star_8_then_the_key_is_not_armed(
    sandbox: SandboxAsterisk, admin: Manager
) -> None:
    """A line VisioRegul does not serve keeps its digits: no subroutine, no tone."""
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200, feature_code_after_ms=500)
    call = await place_call(sandbox, "+33612345678", "31001", duration_ms=2500)
    regulator = await live_channel(sandbox, "1001")
    assert await getvar(admin, regulator, "DYNAMIC_FEATURES") == ""
    await ended_cleanly(call, phone)
    assert feature_steps(sandbox, regulator) == []


async def test_given_the_caller_presses_star_8_then_nothing_is_sent_and_the_call_goes_on(
    client: Client, sandbox: SandboxAsterisk, admin: Manager
) -> None:
    """Asterisk arms the key on the caller's leg too (ActivatedBy is not honoured): no effect."""
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200)
    call = await place_call(
        sandbox, "+33612345678", "151001", duration_ms=2000, feature_code_after_ms=1000
    )
    call_id = await answered_call_id(client)
    caller = client.app[appkeys.REGISTRY].get(call_id)
    assert caller is not None
    await ended_cleanly(call, phone)
    steps = feature_steps(sandbox, caller.channel)
    assert [app for _at, app in steps] == ["NoOp", "GotoIf", "Return"]
    assert (await sessions_of(client, call_id))["total"] == 0
    async with client.app[appkeys.DB]() as db:
        assert list(await db.scalars(select(AuditEntry))) == []
    # The key was taken by Asterisk: the regulator's phone got no INFO.
    assert "INFO sip:" not in (phone.log_dir / "messages.log").read_text()
