"""Real 15 calls through the sandbox Asterisk give offers on the right consoles, via AMI and ARI.

The same scenarios run for both telephony sources: sipp plays the operator trunk and the
regulators' phones, the service runs from ``create_app`` and is watched through its own
WebSockets (the consoles' and the CAD's).
"""

from __future__ import annotations

import pytest

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from visioregul.integration import appkeys

from .service import (
    Client,
    admin_ami,
    cad_events,
    console,
    until,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]


async def test_given_a_mobile_caller_answered_at_1001_then_offer_at_1001_only(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1001 = await console(client, "PJSIP/1001")
    at_1002 = await console(client, "PJSIP/1002")
    cad = await cad_events(client)
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200)
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=2500)
    offer = await at_1001.wait_for("offer")
    assert offer["call"]["position"] == "PJSIP/1001"
    assert offer["call"]["line"] == "15"
    assert offer["call"]["caller"] == {
        "raw": "+33612345678",
        "e164": "+33612345678",
        "display": "06 12 34 56 78",
        "kind": "mobile",
        "sms_capable": True,
    }
    assert offer["call"]["suggested_channel"] == "sms"
    assert offer["call"]["answered_at"] is not None
    ended = await at_1001.wait_for("call.updated", lambda m: m["call"]["state"] == "ended")
    assert ended["call"]["call_id"] == offer["call"]["call_id"]
    assert await call.wait(15) == 0
    assert await phone.wait(15) == 0
    assert at_1002.messages[1:] == []
    assert [m["type"] for m in cad.messages[1:]] == ["call.ringing", "call.answered", "call.ended"]
    # Ended, the call stays listed: the regulator may still want the video.
    calls = client.app[appkeys.REGISTRY].calls(position="PJSIP/1001")
    assert [c.state.value for c in calls] == ["ended"]
    for listener in (at_1001, at_1002, cad):
        await listener.close()


@pytest.mark.parametrize(
    ("caller", "kind", "e164", "suggested"),
    [
        ("0145678901", "landline", "+33145678901", "email"),
        (None, "withheld", None, "ask_number"),
        ("+4915123456789", "international", "+4915123456789", "sms"),
    ],
)
async def test_given_other_callers_then_the_right_kind(
    client: Client,
    sandbox: SandboxAsterisk,
    caller: str | None,
    kind: str,
    e164: str | None,
    suggested: str,
) -> None:
    at_1002 = await console(client, "PJSIP/1002")
    phone = await start_phone(sandbox, "1002")
    call = await place_call(sandbox, caller, "151002", duration_ms=1000)
    offer = await at_1002.wait_for("offer")
    assert offer["call"]["caller"]["kind"] == kind
    assert offer["call"]["caller"]["e164"] == e164
    assert offer["call"]["suggested_channel"] == suggested
    assert await call.wait(15) == 0
    assert await phone.wait(15) == 0
    await at_1002.close()


async def test_given_a_call_to_an_untagged_line_then_nothing(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    cad = await cad_events(client)
    at_1001 = await console(client, "PJSIP/1001")
    phone = await start_phone(sandbox, "1001")
    call = await place_call(sandbox, "+33612345678", "31001", duration_ms=1000)
    assert await call.wait(15) == 0
    assert await phone.wait(15) == 0
    assert cad.messages[1:] == []
    assert at_1001.messages[1:] == []
    assert client.app[appkeys.REGISTRY].calls() == []
    await cad.close()
    await at_1001.close()


async def test_given_two_simultaneous_calls_then_they_stay_apart(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1001 = await console(client, "PJSIP/1001")
    at_1002 = await console(client, "PJSIP/1002")
    phones = [await start_phone(sandbox, "1001"), await start_phone(sandbox, "1002")]
    calls = [
        await place_call(sandbox, "+33611111111", "151001", duration_ms=2000),
        await place_call(sandbox, "+33622222222", "151002", duration_ms=2000),
    ]
    first = await at_1001.wait_for("offer")
    second = await at_1002.wait_for("offer")
    assert first["call"]["caller"]["e164"] == "+33611111111"
    assert second["call"]["caller"]["e164"] == "+33622222222"
    assert first["call"]["call_id"] != second["call"]["call_id"]
    for process in [*calls, *phones]:
        assert await process.wait(15) == 0
    assert len(at_1001.of_type("offer")) == 1
    assert len(at_1002.of_type("offer")) == 1
    await at_1001.close()
    await at_1002.close()


async def test_given_a_queue_call_then_it_lands_where_a_member_answers(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1001 = await console(client, "PJSIP/1001")
    at_1002 = await console(client, "PJSIP/1002")
    slow = await start_phone(sandbox, "1001", answer_delay_ms=4000)
    quick = await start_phone(sandbox, "1002", answer_delay_ms=300)
    call = await place_call(sandbox, "+33612345678", "15", duration_ms=1500)
    offer = await at_1002.wait_for("offer")
    assert offer["call"]["position"] == "PJSIP/1002"
    assert await call.wait(20) == 0
    assert await quick.wait(15) == 0
    assert await slow.wait(15) == 0  # the losing member was cancelled cleanly
    assert at_1001.of_type("offer") == []
    await at_1001.close()
    await at_1002.close()


async def test_given_a_transfer_to_the_doctor_then_the_offer_moves(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1001 = await console(client, "PJSIP/1001")
    at_1003 = await console(client, "PJSIP/1003")
    regulator = await start_phone(sandbox, "1001")
    doctor = await start_phone(sandbox, "1003", answer_delay_ms=200)
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=6000)
    offer = await at_1001.wait_for("offer")
    call_id = offer["call"]["call_id"]
    channel = await regulator_channel(sandbox, "1001")
    manager = await admin_ami(sandbox)
    try:
        reply = await manager.send_action(
            {
                "Action": "BlindTransfer",
                "Channel": channel,
                "Exten": "1003",
                "Context": "regulators",
            }
        )
        assert reply.success, reply
        moved = await at_1001.wait_for("call.moved")
        assert moved["call"]["position"] == "PJSIP/1003"
        offer_1003 = await at_1003.wait_for("offer")
        assert offer_1003["call"]["call_id"] == call_id
        assert offer_1003["call"]["previous_positions"] == ["PJSIP/1001"]
    finally:
        manager.close()
    assert await call.wait(20) == 0
    assert await doctor.wait(15) == 0
    await regulator.wait(15)
    await at_1001.close()
    await at_1003.close()


async def regulator_channel(sandbox: SandboxAsterisk, position: str) -> str:
    """The name of the live channel of a regulator's phone."""
    names: list[str] = []

    async def look() -> None:
        output = await sandbox.cli("core show channels concise")
        names[:] = [
            line.split("!")[0]
            for line in output.splitlines()
            if line.startswith(f"PJSIP/{position}-")
        ]

    for _ in range(100):
        await look()
        if names:
            return names[0]
        await until(lambda: True, 0.1)
    raise AssertionError(f"no channel for {position}")


async def test_given_the_caller_hangs_up_before_answer_then_no_offer(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1001 = await console(client, "PJSIP/1001")
    cad = await cad_events(client)
    phone = await start_phone(sandbox, "1001", answer_delay_ms=8000)
    call = await place_call(
        sandbox, "+33612345678", "151001", duration_ms=1500, cancel_before_answer=True
    )
    await cad.wait_for("call.ended", timeout=15)
    assert [m["type"] for m in cad.messages[1:]] == ["call.ringing", "call.ended"]
    assert at_1001.messages[1:] == []
    assert await call.wait(15) == 0
    phone.terminate()
    await phone.wait(5)
    await at_1001.close()
    await cad.close()
