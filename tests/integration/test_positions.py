"""The position of a call in a real centre's topologies, against the sandbox Asterisk (AMI and ARI).

Each test drives the sandbox as a centre's phones would (transfer keys through AMI's Atxfer and
BlindTransfer, parking, a conference room, a transfer out through the trunk) and checks the
position the service shows on its consoles and CAD stream.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from panoramisk import Manager

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_far_end, start_phone
from visioregul.integration import appkeys
from visioregul.integration.app import create_app

from .service import (
    Client,
    admin_ami,
    cad_events,
    console,
    live_channels,
    service_settings,
    until,
    wait_link_up,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]


async def channel_of(sandbox: SandboxAsterisk, prefix: str) -> str:
    """The name of the newest live channel whose name starts with ``prefix``."""
    names: list[str] = []

    async def look() -> bool:
        names[:] = [
            c["channel"] for c in await live_channels(sandbox) if c["channel"].startswith(prefix)
        ]
        return bool(names)

    for _ in range(100):
        if await look():
            return names[-1]
        await until(lambda: True, 0.1)
    raise AssertionError(f"no live channel {prefix}*")


async def act(manager: Manager, action: dict[str, str]) -> None:
    # "Async: false" keeps panoramisk from reading an "...successfully queued" reply as async.
    reply: Any = await manager.send_action({**action, "Async": "false"})
    assert reply.success, reply


def call_of(client: Client) -> Any:
    calls = client.app[appkeys.REGISTRY].calls()
    assert len(calls) == 1, calls
    return calls[0]


async def test_given_an_attended_transfer_then_the_desk_that_receives_it_has_the_call(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1003 = await console(client, "PJSIP/1003")
    regulator = await start_phone(sandbox, "1001")
    doctor = await start_phone(sandbox, "1003", answer_delay_ms=200)
    call = await place_call(sandbox, "+33612345678", "181001", duration_ms=8000)
    await until(lambda: client.app[appkeys.REGISTRY].calls(position="PJSIP/1001"), 10, "answer")
    channel = await channel_of(sandbox, "PJSIP/1001-")
    manager = await admin_ami(sandbox)
    try:
        await act(
            manager,
            {"Action": "Atxfer", "Channel": channel, "Exten": "1003", "Context": "regulators"},
        )
        await channel_of(sandbox, "PJSIP/1003-")
        # The regulator hangs up while talking with the doctor: the transfer completes.
        await until(lambda: call_of(client).state.value == "waiting", 10, "consultation")
        await act(manager, {"Action": "Hangup", "Channel": channel})
        offer = await at_1003.wait_for("offer")
    finally:
        manager.close()
    assert offer["call"]["position"] == "PJSIP/1003"
    assert offer["call"]["previous_positions"] == ["PJSIP/1001"]
    assert offer["call"]["participants"] == []
    assert await call.wait(20) == 0
    await doctor.wait(15)
    await regulator.wait(15)
    await at_1003.close()


async def test_given_a_queue_of_local_members_then_the_desk_behind_has_the_call(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1001 = await console(client, "PJSIP/1001")
    quick = await start_phone(sandbox, "1001", answer_delay_ms=300)
    slow = await start_phone(sandbox, "1002", answer_delay_ms=5000)
    call = await place_call(sandbox, "+33612345678", "150", duration_ms=2000)
    offer = await at_1001.wait_for("offer")
    assert offer["call"]["position"] == "PJSIP/1001"
    assert await call.wait(20) == 0
    assert await quick.wait(15) == 0
    await slow.wait(15)
    # Local channels are never positions: 1001 had it from the answer to the end.
    assert [m["call"]["position"] for m in at_1001.of_type("offer")] == ["PJSIP/1001"]
    await at_1001.close()


async def test_given_a_parked_call_picked_up_by_another_desk_then_that_desk_has_it(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1002 = await console(client, "PJSIP/1002")
    cad = await cad_events(client)
    regulator = await start_phone(sandbox, "1001")
    other = await start_phone(sandbox, "1002")
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=6000)
    await until(lambda: client.app[appkeys.REGISTRY].calls(position="PJSIP/1001"), 10, "answer")
    channel = await channel_of(sandbox, "PJSIP/1001-")
    manager = await admin_ami(sandbox)
    try:
        await act(
            manager,
            {
                "Action": "BlindTransfer",
                "Channel": channel,
                "Exten": "700",
                "Context": "regulators",
            },
        )
        waiting = await cad.wait_for("call.released")
        assert waiting["call"]["state"] == "waiting"
        assert waiting["call"]["position"] is None
        await act(
            manager,
            {
                "Action": "Originate",
                "Channel": "PJSIP/1002",
                "Application": "ParkedCall",
                "Data": "default,701",
            },
        )
        offer = await at_1002.wait_for("offer")
    finally:
        manager.close()
    assert offer["call"]["position"] == "PJSIP/1002"
    assert offer["call"]["state"] == "answered"
    assert await call.wait(20) == 0
    await other.wait(15)
    await regulator.wait(15)
    await at_1002.close()
    await cad.close()


async def test_given_a_conference_then_the_regulator_stays_and_the_doctor_participates(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    cad = await cad_events(client)
    regulator = await start_phone(sandbox, "1001")
    doctor = await start_phone(sandbox, "1003")
    manager = await admin_ami(sandbox)
    try:
        # The regulator sits in the room first, then the caller joins, then the doctor.
        await act(
            manager,
            {
                "Action": "Originate",
                "Channel": "PJSIP/1001",
                "Application": "ConfBridge",
                "Data": "samu1001",
            },
        )
        call = await place_call(sandbox, "+33612345678", "161001", duration_ms=5000)
        answered = await cad.wait_for("call.answered")
        assert answered["call"]["position"] == "PJSIP/1001"
        await act(
            manager,
            {
                "Action": "Originate",
                "Channel": "PJSIP/1003",
                "Application": "ConfBridge",
                "Data": "samu1001",
            },
        )
        joined = await cad.wait_for("call.participants")
    finally:
        manager.close()
    assert joined["call"]["position"] == "PJSIP/1001"
    assert joined["call"]["participants"] == ["PJSIP/1003"]
    assert await call.wait(20) == 0
    manager = await admin_ami(sandbox)
    try:
        for prefix in ("PJSIP/1001-", "PJSIP/1003-"):
            await act(manager, {"Action": "Hangup", "Channel": await channel_of(sandbox, prefix)})
    finally:
        manager.close()
    await regulator.wait(15)
    await doctor.wait(15)
    await cad.close()


async def test_given_an_answered_call_moved_into_a_conference_then_the_regulator_stays(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    """The regulator who answered brings the caller into a conference room (both redirected
    there, as a PBX's conference key does), then the doctor joins."""
    cad = await cad_events(client)
    regulator = await start_phone(sandbox, "1001")
    doctor = await start_phone(sandbox, "1003")
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=6000)
    await cad.wait_for("call.answered")
    caller = await channel_of(sandbox, "PJSIP/operator-")
    desk = await channel_of(sandbox, "PJSIP/1001-")
    manager = await admin_ami(sandbox)
    try:
        await act(
            manager,
            {
                "Action": "Redirect",
                "Channel": caller,
                "ExtraChannel": desk,
                "Exten": "81001",
                "ExtraExten": "81001",
                "Context": "regulators",
                "ExtraContext": "regulators",
                "Priority": "1",
                "ExtraPriority": "1",
            },
        )
        await act(
            manager,
            {
                "Action": "Originate",
                "Channel": "PJSIP/1003",
                "Application": "ConfBridge",
                "Data": "samu1001",
            },
        )
        joined = await cad.wait_for("call.participants")
        await until(lambda: call_of(client).position == "PJSIP/1001", 10, "1001 again")
    finally:
        manager.close()
    assert joined["call"]["participants"] == ["PJSIP/1003"]
    final = call_of(client)
    assert final.position == "PJSIP/1001"
    assert final.state.value == "answered"
    assert final.previous_positions == ()
    assert await call.wait(20) == 0
    manager = await admin_ami(sandbox)
    try:
        for prefix in ("PJSIP/1001-", "PJSIP/1003-"):
            await act(manager, {"Action": "Hangup", "Channel": await channel_of(sandbox, prefix)})
    finally:
        manager.close()
    await regulator.wait(15)
    await doctor.wait(15)
    await cad.close()


async def test_given_a_transfer_out_of_the_centre_then_no_position(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1001 = await console(client, "PJSIP/1001")
    regulator = await start_phone(sandbox, "1001")
    far_end = await start_far_end(sandbox, answer_delay_ms=200)
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=5000)
    await at_1001.wait_for("offer")
    channel = await channel_of(sandbox, "PJSIP/1001-")
    manager = await admin_ami(sandbox)
    try:
        await act(
            manager,
            {
                "Action": "BlindTransfer",
                "Channel": channel,
                "Exten": "0612345679",
                "Context": "regulators",
            },
        )
        out = await at_1001.wait_for(
            "call.updated", lambda m: m["call"]["state"] == "transferred_out"
        )
    finally:
        manager.close()
    assert out["call"]["position"] is None
    assert out["call"]["previous_positions"] == ["PJSIP/1001"]
    assert await call.wait(20) == 0
    assert await far_end.wait(15) == 0
    await regulator.wait(15)
    await at_1001.close()


async def test_given_a_call_sent_back_to_the_queue_then_it_waits_for_a_regulator(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    at_1001 = await console(client, "PJSIP/1001")
    at_1002 = await console(client, "PJSIP/1002")
    regulator = await start_phone(sandbox, "1001")
    other = await start_phone(sandbox, "1002", answer_delay_ms=1500)
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=5000)
    await at_1001.wait_for("offer")
    channel = await channel_of(sandbox, "PJSIP/1001-")
    manager = await admin_ami(sandbox)
    try:
        await act(
            manager,
            {
                "Action": "BlindTransfer",
                "Channel": channel,
                "Exten": "1500",
                "Context": "regulators",
            },
        )
        waiting = await at_1001.wait_for("call.updated", lambda m: m["call"]["state"] == "waiting")
        assert waiting["call"]["position"] is None
        offer = await at_1002.wait_for("offer")
    finally:
        manager.close()
    assert offer["call"]["position"] == "PJSIP/1002"
    assert await call.wait(20) == 0
    await other.wait(15)
    await regulator.wait(15)
    await at_1001.close()
    await at_1002.close()


async def test_given_a_linkedid_change_then_the_call_keeps_its_id_even_after_a_restart(
    client: Client, sandbox: SandboxAsterisk, aiohttp_client: Any, tmp_path: Path
) -> None:
    """Asterisk gives a channel that joins a two-party bridge with an older one that one's
    Linkedid: a desk that was up before the call (an agent, a pickup) changes the caller's."""
    desk = await start_phone(sandbox, "1002")
    manager = await admin_ami(sandbox)
    try:
        await act(
            manager,
            {"Action": "Originate", "Channel": "PJSIP/1002", "Application": "Wait", "Data": "30"},
        )
        desk_channel = await channel_of(sandbox, "PJSIP/1002-")
        call = await place_call(sandbox, "+33612345678", "15", duration_ms=9000)
        await until(lambda: client.app[appkeys.REGISTRY].calls(), 10, "the tagged call")
        tagged = call_of(client)
        caller = await channel_of(sandbox, "PJSIP/operator-")
        await act(manager, {"Action": "Bridge", "Channel1": caller, "Channel2": desk_channel})
        await until(lambda: call_of(client).position == "PJSIP/1002", 10, "answer at 1002")
        reply: Any = await manager.send_action(
            {"Action": "Getvar", "Channel": caller, "Variable": "CHANNEL(linkedid)"}
        )
        assert reply.get("Value") != tagged.call_id  # Asterisk did change it
    finally:
        manager.close()
    first = call_of(client)
    assert first.call_id == tagged.call_id
    assert first.answered_at is not None
    # Let the call age (Asterisk counts it in whole seconds) so that a restart time would show.
    await until(
        lambda: datetime.now(UTC) - first.answered_at > timedelta(seconds=4),
        5,
        "the call to age",
    )
    # A service started now reads the call back from Asterisk: same id, Asterisk's start time.
    source = client.app[appkeys.TELEPHONY].settings.source
    before = datetime.now(UTC)
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    second = await aiohttp_client(create_app(service_settings(sandbox, source, second_dir)))
    await wait_link_up(second)
    resynced = call_of(second)
    assert resynced.call_id == tagged.call_id
    assert resynced.position == "PJSIP/1002"
    assert abs((resynced.started_at - tagged.started_at).total_seconds()) < 2
    # Asterisk's answer time, not the restart's.
    assert resynced.answered_at is not None and resynced.answered_at < before
    assert abs((resynced.answered_at - first.answered_at).total_seconds()) < 2.5
    assert resynced.answered_at >= resynced.started_at
    assert await call.wait(20) == 0
    await desk.wait(15)


async def test_given_a_tagged_line_not_declared_then_it_is_logged_once_and_ignored(
    client: Client, sandbox: SandboxAsterisk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="visioregul.integration.telephony.service")
    cad = await cad_events(client)
    for _ in range(2):
        phone = await start_phone(sandbox, "1001")
        call = await place_call(sandbox, "+33612345678", "171001", duration_ms=500)
        assert await call.wait(15) == 0
        assert await phone.wait(15) == 0
    warnings = [r.getMessage() for r in caplog.records if "1515" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "not in telephony.lines ['15']" in warnings[0]
    assert cad.messages[1:] == []
    await cad.close()
