"""The regulator's desk phone puts a real call on hold and takes it back, via AMI and via ARI.

sipp plays the operator trunk and the regulator's phone, which holds by an in-dialog re-INVITE
``a=sendonly`` and resumes by one ``a=sendrecv`` (``phone_hold.xml``). Asterisk raises AMI
``Hold``/``Unhold`` and ARI ``ChannelHold``/``ChannelUnhold`` on the phone's channel; the service
must turn them into ``call.held`` and ``call.resumed`` for the caller's call.
"""

from __future__ import annotations

import pytest

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from visioregul.integration import appkeys
from visioregul.integration.telephony.registry import CallState, CallUpdate

from .service import Client, cad_events, console

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]

# The caller stays well beyond the phone's hold and resume: its BYE must come after both, or
# the phone's scenario fails. These are margins for sipp, not something the test measures.
HOLD_AFTER_MS = 500
HOLD_FOR_MS = 3000
CALL_MS = 6500


async def test_given_the_regulator_holds_then_held_then_resumed(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    registry = client.app[appkeys.REGISTRY]
    # The registry's own state after each event, recorded as it changes.
    states: list[tuple[str, str]] = []

    def record(update: CallUpdate) -> None:
        states.append((update.event.type, update.call.state.value))

    unsubscribe = registry.subscribe(record)
    at_1001 = await console(client, "PJSIP/1001")
    cad = await cad_events(client)
    phone = await start_phone(
        sandbox, "1001", answer_delay_ms=200, hold_after_ms=HOLD_AFTER_MS, hold_for_ms=HOLD_FOR_MS
    )
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=CALL_MS)
    try:
        offer = await at_1001.wait_for("offer", timeout=15)
        call_id = offer["call"]["call_id"]

        held = await cad.wait_for("call.held", timeout=15)
        assert held["call"]["call_id"] == call_id
        assert held["call"]["state"] == "held"
        live = registry.get(call_id)
        assert live is not None and live.state is CallState.HELD
        update = await at_1001.wait_for("call.updated", lambda m: m["call"]["state"] == "held")
        assert update["call"]["call_id"] == call_id

        resumed = await cad.wait_for("call.resumed", timeout=15)
        assert resumed["call"]["call_id"] == call_id
        assert resumed["call"]["state"] == "answered"
        live = registry.get(call_id)
        assert live is not None and live.state is CallState.ANSWERED

        await cad.wait_for("call.ended", timeout=20)
        assert await call.wait(15) == 0, call.report()
        assert await phone.wait(15) == 0, phone.report()
    finally:
        unsubscribe()
        await call.stop()
        await phone.stop()

    calls = [m for m in cad.messages[1:] if m["type"].startswith("call.")]
    assert [m["type"] for m in calls] == [
        "call.ringing",
        "call.answered",
        "call.held",
        "call.resumed",
        "call.ended",
    ]
    assert {m["call"]["call_id"] for m in calls} == {call_id}
    assert states == [
        ("call.ringing", "ringing"),
        ("call.answered", "answered"),
        ("call.held", "held"),
        ("call.resumed", "answered"),
        ("call.ended", "ended"),
    ]
    # The console at 1001 follows the same call through hold and back.
    assert [
        (m["type"], m["call"]["state"])
        for m in at_1001.messages
        if m["type"] == "offer" or m["type"].startswith("call.")
    ] == [
        ("offer", "answered"),
        ("call.updated", "held"),
        ("call.updated", "answered"),
        ("call.updated", "ended"),
    ]
    for listener in (at_1001, cad):
        await listener.close()
