"""The sandbox Asterisk runs the shipped dialplan: real SIP calls from sipp, watched over AMI.

These tests pin what the telephony adapters rely on: a call on the 15 line is tagged on the
caller's leg (``VISIOREGUL_LINE`` and the ``VisioRegulCall`` user event), an other line is not,
the queue and transfers behave, and the service's AMI user has the rights it needs and no more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from panoramisk import Manager

from tests.sandbox import (
    SandboxAsterisk,
    SandboxNotInstalled,
    SandboxPorts,
    SippProcess,
    place_call,
    start_phone,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]

CALLER = "+33612345678"
Event = dict[str, Any]


class Ami:
    """A panoramisk connection that records every event it receives."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self.events: list[Event] = []
        manager.register_event("*", self._record)

    def _record(self, _manager: Manager, event: Any) -> None:
        self.events.append(dict(event))

    async def action(self, action: dict[str, str]) -> list[Event]:
        """Send an action; its response and the events that answer it, as dicts."""
        reply = await asyncio.wait_for(self.manager.send_action(action), 5)
        return [dict(item) for item in (reply if isinstance(reply, list) else [reply])]

    async def until(
        self, predicate: Callable[[Event], bool], what: str, timeout: float = 10
    ) -> Event:
        """The first recorded event matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if predicate(event):
                    return event
            if time.monotonic() >= deadline:
                seen = [f"{e.get('Event')} {e.get('Channel', '')}" for e in self.events]
                raise AssertionError(f"no {what} within {timeout} s; events: {seen}")
            await asyncio.sleep(0.05)

    def close(self) -> None:
        # panoramisk reconnects after any connection loss, even one we asked for.
        self.manager.connection_lost = lambda _exc: None
        self.manager.close()


async def ami_login(sandbox: SandboxAsterisk, username: str, secret: str) -> Ami:
    """Log in to the sandbox's AMI; panoramisk does not retry a first failed connection."""
    manager = Manager(
        host=sandbox.host,
        port=sandbox.ports.ami,
        username=username,
        secret=secret,
        ping_delay=3600,
    )
    ami = Ami(manager)
    deadline = time.monotonic() + 5
    while True:
        try:
            await asyncio.wait_for(manager.connect(), 2)
            break
        except OSError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.1)
    while manager.authenticated_future is not None or not manager.authenticated:
        if manager.authenticated_future is None or time.monotonic() >= deadline:
            ami.close()
            raise AssertionError(f"AMI login refused for {username}")
        await asyncio.sleep(0.02)
    return ami


@pytest.fixture
async def admin(sandbox: SandboxAsterisk) -> AsyncIterator[Ami]:
    """The sandbox-only admin AMI user: sees every event, may transfer calls."""
    ami = await ami_login(sandbox, sandbox.admin_ami_user, sandbox.admin_ami_secret)
    yield ami
    ami.close()


async def finished(*processes: SippProcess, timeout: float = 30) -> None:
    """Wait for every sipp to end; fail with their traces unless all succeeded."""
    try:
        codes = [await process.wait(timeout) for process in processes]
    finally:
        for process in processes:
            await process.stop()
    if any(codes):
        pytest.fail("\n".join(process.report() for process in processes), pytrace=False)


def is_caller_leg(event: Event) -> bool:
    return str(event.get("Channel", "")).startswith("PJSIP/operator-")


def bridge_enter(channel_prefix: str) -> Callable[[Event], bool]:
    return lambda e: e.get("Event") == "BridgeEnter" and e["Channel"].startswith(channel_prefix)


def is_tag(event: Event) -> bool:
    return event.get("Event") == "UserEvent" and event.get("UserEvent") == "VisioRegulCall"


async def getvar(ami: Ami, channel: str, variable: str) -> str:
    (reply,) = await ami.action({"Action": "Getvar", "Channel": channel, "Variable": variable})
    assert reply["Response"] == "Success", reply
    return str(reply.get("Value") or "")


async def test_given_a_direct_15_call_when_1001_answers_then_the_callers_leg_is_tagged(
    sandbox: SandboxAsterisk, admin: Ami
) -> None:
    phone = await start_phone(sandbox, "1001", answer_delay_ms=300)
    call = await place_call(sandbox, CALLER, "151001", duration_ms=3000)

    tag = await admin.until(is_tag, "VisioRegulCall user event")
    answered = await admin.until(
        lambda e: e.get("Event") == "BridgeEnter" and is_caller_leg(e), "caller's BridgeEnter"
    )
    regulator = await admin.until(
        lambda e: (
            e.get("Event") == "BridgeEnter" and e.get("Channel", "").startswith("PJSIP/1001-")
        ),
        "regulator's BridgeEnter",
    )

    assert tag["Line"] == "15"
    assert tag["CallerIDNum"] == CALLER
    assert tag["Channel"] == answered["Channel"]
    assert tag["Uniqueid"] == tag["Linkedid"] == answered["Uniqueid"]
    assert regulator["Linkedid"] == tag["Uniqueid"]
    assert regulator["ConnectedLineNum"] == CALLER
    assert await getvar(admin, tag["Channel"], "VISIOREGUL_LINE") == "15"
    # Not inherited: the regulator's leg stays untagged.
    assert await getvar(admin, regulator["Channel"], "VISIOREGUL_LINE") == ""
    status = await admin.action(
        {"Action": "Status", "Channel": tag["Channel"], "Variables": "VISIOREGUL_LINE"}
    )
    (channel_status,) = [e for e in status if e.get("Event") == "Status"]
    assert channel_status["Variable"] == "VISIOREGUL_LINE=15"
    assert channel_status["BridgeID"] == answered["BridgeUniqueid"]
    await finished(call, phone)


async def test_given_an_other_line_when_called_then_no_tag(
    sandbox: SandboxAsterisk, admin: Ami
) -> None:
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200)
    call = await place_call(sandbox, CALLER, "31001", duration_ms=1500)

    answered = await admin.until(
        lambda e: e.get("Event") == "BridgeEnter" and is_caller_leg(e), "caller's BridgeEnter"
    )
    assert await getvar(admin, answered["Channel"], "VISIOREGUL_LINE") == ""
    await finished(call, phone)
    assert [e for e in admin.events if is_tag(e)] == []


async def test_given_an_unstaffed_desk_when_called_then_its_next_phone_gets_only_the_next_call(
    sandbox: SandboxAsterisk, admin: Ami
) -> None:
    # An INVITE left unanswered would be retransmitted for 32 s to the desk's port, and taken
    # by the next phone started there as its own call.
    missed = await place_call(sandbox, CALLER, "31001", duration_ms=1000)
    dial_end = await admin.until(
        lambda e: (
            e.get("Event") == "DialEnd" and e.get("DestChannel", "").startswith("PJSIP/1001-")
        ),
        "the unstaffed desk's DialEnd",
    )
    assert dial_end["DialStatus"] != "ANSWER"
    assert await missed.wait(30) != 0
    await missed.stop()

    phone = await start_phone(sandbox, "1001", answer_delay_ms=200)
    call = await place_call(sandbox, CALLER, "31001", duration_ms=1500)
    regulator = await admin.until(bridge_enter("PJSIP/1001-"), "the desk's BridgeEnter")
    caller_leg = await admin.until(
        lambda e: (
            e.get("Event") == "Newchannel"
            and is_caller_leg(e)
            and e.get("Uniqueid") != dial_end["Uniqueid"]
        ),
        "the second caller's channel",
    )
    assert regulator["Linkedid"] == caller_leg["Uniqueid"]
    await finished(call, phone)


async def test_given_a_queue_call_to_15_when_1001_answers_first_then_1002_is_cancelled(
    sandbox: SandboxAsterisk, admin: Ami
) -> None:
    fast = await start_phone(sandbox, "1001", answer_delay_ms=300)
    slow = await start_phone(sandbox, "1002", answer_delay_ms=8000)
    call = await place_call(sandbox, CALLER, "15", duration_ms=2000)

    tag = await admin.until(is_tag, "VisioRegulCall user event")
    bridged = await admin.until(
        lambda e: e.get("Event") == "BridgeEnter" and not is_caller_leg(e), "a regulator answering"
    )
    await finished(call, fast, slow)

    assert bridged["Channel"].startswith(("PJSIP/1001-", "PJSIP/1002-"))
    assert bridged["Linkedid"] == tag["Uniqueid"]
    dial_ends = {
        e["DestChannel"].split("-")[0]: e["DialStatus"]
        for e in admin.events
        if e.get("Event") == "DialEnd" and e.get("Uniqueid") == tag["Uniqueid"]
    }
    assert dial_ends == {"PJSIP/1001": "ANSWER", "PJSIP/1002": "CANCEL"}


async def test_given_an_answered_call_when_1001_blind_transfers_to_1003_then_the_tag_follows(
    sandbox: SandboxAsterisk, admin: Ami
) -> None:
    regulator = await start_phone(sandbox, "1001", answer_delay_ms=200)
    doctor = await start_phone(sandbox, "1003", answer_delay_ms=300)
    call = await place_call(sandbox, CALLER, "151001", duration_ms=5000)
    tag = await admin.until(is_tag, "VisioRegulCall user event")
    first = await admin.until(
        lambda e: (
            e.get("Event") == "BridgeEnter" and e.get("Channel", "").startswith("PJSIP/1001-")
        ),
        "1001 answering",
    )

    (reply,) = await admin.action(
        {
            "Action": "BlindTransfer",
            "Channel": first["Channel"],
            "Context": "regulators",
            "Exten": "1003",
        }
    )
    assert reply["Response"] == "Success", reply
    second = await admin.until(
        lambda e: (
            e.get("Event") == "BridgeEnter" and e.get("Channel", "").startswith("PJSIP/1003-")
        ),
        "1003 answering",
    )
    transfer = await admin.until(lambda e: e.get("Event") == "BlindTransfer", "BlindTransfer")

    assert transfer["TransfereeUniqueid"] == tag["Uniqueid"]
    assert second["Linkedid"] == tag["Uniqueid"]
    # The caller's channel is the same one, still tagged, now bridged with the doctor.
    assert await getvar(admin, tag["Channel"], "VISIOREGUL_LINE") == "15"
    await finished(call, regulator, doctor)


async def test_given_a_ringing_call_when_the_caller_hangs_up_then_the_phone_is_cancelled(
    sandbox: SandboxAsterisk, admin: Ami
) -> None:
    phone = await start_phone(sandbox, "1001", answer_delay_ms=20000)
    call = await place_call(sandbox, CALLER, "151001", duration_ms=1000, cancel_before_answer=True)

    await finished(call, phone)
    tag = await admin.until(is_tag, "VisioRegulCall user event")
    end = await admin.until(
        lambda e: e.get("Event") == "DialEnd" and e.get("Uniqueid") == tag["Uniqueid"], "DialEnd"
    )
    assert end["DialStatus"] == "CANCEL"
    assert not [e for e in admin.events if e.get("Event") == "BridgeEnter"]


async def test_given_a_withheld_number_when_called_then_the_caller_is_anonymous(
    sandbox: SandboxAsterisk, admin: Ami
) -> None:
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200)
    call = await place_call(sandbox, None, "151001", duration_ms=1500)

    tag = await admin.until(is_tag, "VisioRegulCall user event")
    await finished(call, phone)
    assert tag["CallerIDNum"] == "anonymous"


async def test_given_the_service_ami_user_then_it_may_observe_and_set_but_not_control(
    sandbox: SandboxAsterisk,
) -> None:
    service = await ami_login(sandbox, sandbox.ami_user, sandbox.ami_secret)
    try:
        status = await service.action({"Action": "Status", "Variables": "VISIOREGUL_LINE"})
        originate = await service.action(
            {
                "Action": "Originate",
                "Channel": "PJSIP/1002",
                "Context": "regulators",
                "Exten": "1003",
                "Priority": "1",
            }
        )
        command = await service.action({"Action": "Command", "Command": "core show channels"})
    finally:
        service.close()

    assert status[0]["Response"] == "Success"
    for (refused,) in (originate, command):
        assert (refused["Response"], refused["Message"]) == ("Error", "Permission denied")


async def test_given_a_wrong_secret_then_the_service_login_fails(sandbox: SandboxAsterisk) -> None:
    with pytest.raises(AssertionError, match="login refused"):
        await ami_login(sandbox, sandbox.ami_user, "not-the-secret")


async def test_given_a_sandbox_of_its_own_then_it_starts_answers_and_stops_twice() -> None:
    own = SandboxAsterisk(SandboxPorts.pick_free())
    await own.start()
    try:
        assert "Asterisk 22" in await own.cli("core show version")
        assert own.is_running
    finally:
        await own.stop()
        await own.stop()
    assert not own.is_running
    assert own.work_dir is None


async def test_given_no_root_when_starting_then_it_names_the_install_script(
    tmp_path: Path,
) -> None:
    missing = SandboxAsterisk(root=tmp_path / "no-root")
    assert not missing.is_installed()
    with pytest.raises(SandboxNotInstalled, match=r"dialplan/sandbox/install\.sh"):
        await missing.start()
    await missing.stop()
