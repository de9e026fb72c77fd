"""A video session opened during a real 15 call, through the sandbox Asterisk, via AMI and ARI.

sipp plays the caller (+33612345678, through the operator trunk) and the regulator's phone at
1001; the regulator's console, logged in at PJSIP/1001, opens the session with the call's id and
the caller's number. The invitation goes to the local outbox; the patient's browser is a plain
HTTP client with its own cookies. Asterisk itself is asked (admin AMI ``Getvar``) whether the
caller's channel carries the pairing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.sessions import paired_calls
from visioregul.integration.telephony.pairing import PAIRING_VARIABLE

from .service import (
    CAD_KEY,
    Client,
    Listener,
    admin_ami,
    console,
    live_channels,
    service_settings,
    until,
    wait_link_up,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]

CALLER = "+33612345678"
LINK = re.compile(r"https?://\S+/p/([A-Za-z0-9_-]{43})")


def is_subsequence(expected: list[str], actual: list[str]) -> bool:
    remaining = iter(actual)
    return all(kind in remaining for kind in expected)


async def session_event(regulator: Listener, session_id: str, kind: str) -> dict[str, Any]:
    """The ``session.updated`` message of an event, as the regulator's console received it."""
    return await regulator.wait_for(
        "session.updated",
        lambda m: m["session"]["id"] == session_id and m["event"]["type"] == kind,
        timeout=15,
    )


async def open_for_the_call(regulator: Listener, call_id: str) -> dict[str, Any]:
    """The console's one click: a session paired with the call, invitation by SMS."""
    offer = next(m for m in regulator.of_type("offer") if m["call"]["call_id"] == call_id)
    status, session = await regulator.request(
        "POST",
        "/console/api/sessions",
        {"destination": offer["call"]["caller"]["e164"], "call_id": call_id},
    )
    assert status == 201, session
    return dict(session)


async def test_given_a_call_at_1001_when_the_console_opens_a_session_then_paired_to_the_end(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    regulator = await console(client, "PJSIP/1001")
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200)
    call = await place_call(sandbox, CALLER, "151001", duration_ms=6000)
    manager = await admin_ami(sandbox)
    # The patient's browser keeps the key cookie the link's page gives (an IP host: unsafe).
    patient = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        offer = await regulator.wait_for("offer", timeout=15)
        call_id = offer["call"]["call_id"]
        assert offer["call"]["caller"]["e164"] == CALLER

        session = await open_for_the_call(regulator, call_id)

        assert (session["call_id"], session["caller_number"]) == (call_id, CALLER)
        assert session["position"] == "PJSIP/1001"
        assert [i["destination"] for i in session["invitations"]] == [CALLER]
        # The SMS, with a link that works.
        await session_event(regulator, session["id"], "invitation.simulated")
        status, outbox = await regulator.request("GET", "/console/api/outbox")
        assert status == 200
        (sms,) = [m for m in outbox["messages"] if m["to"] == CALLER]
        assert sms["channel"] == "sms"
        link = LINK.search(sms["text"])
        assert link is not None
        # Asterisk's side of the pairing: the caller's channel carries the session id.
        await session_event(regulator, session["id"], "call.paired")
        async with client.get(
            f"/api/v1/calls/{call_id}", headers={"Authorization": f"Bearer {CAD_KEY}"}
        ) as response:
            assert response.status == 200
            assert (await response.json())["state"] == "answered"
        live = client.app[appkeys.REGISTRY].get(call_id)
        assert live is not None
        (caller_leg,) = [c for c in await live_channels(sandbox) if c["uniqueid"] == call_id]
        assert caller_leg["channel"] == live.channel
        reply = await manager.send_action(
            {"Action": "Getvar", "Channel": live.channel, "Variable": PAIRING_VARIABLE}
        )
        assert reply.success, reply
        assert reply["Value"] == session["id"]
        # The patient opens the link while the call goes on (the page, then its socket).
        async with patient.get(f"{regulator.base_url}/p/{link.group(1)}") as page:
            assert page.status == 200
        page_socket = await patient.ws_connect(
            f"{regulator.base_url}/p/{link.group(1)}/ws",
            origin=client.app[appkeys.SETTINGS].service.public_url,
        )
        opened = await session_event(regulator, session["id"], "link.opened")
        await page_socket.close()
        assert opened["session"]["state"] == "link_opened"

        # The caller hangs up: the session hears it and stays open.
        assert await call.wait(20) == 0
        assert await phone.wait(15) == 0
        ended = await session_event(regulator, session["id"], "call.ended")
        assert ended["event"]["details"] == {"call_id": call_id}
        status, body = await regulator.request("GET", f"/console/api/sessions/{session['id']}")
        assert status == 200
        assert (body["state"], body["ended_at"]) == ("link_opened", None)
        types = [event["type"] for event in body["timeline"]]
        assert is_subsequence(
            [
                "session.created",
                "invitation.created",
                "invitation.simulated",
                "link.opened",
                "call.ended",
            ],
            types,
        ), types
        assert types[:2] == ["session.created", "invitation.created"]
        assert types[-1] == "call.ended"
        assert types.count("call.paired") == 1
        assert "call.pairing_failed" not in types
        # The video may go on after the call: the link still opens, from the same browser.
        async with patient.get(f"{regulator.base_url}/p/{link.group(1)}") as page:
            assert page.status == 200
    finally:
        await patient.close()
        manager.close()
        await call.stop()
        await phone.stop()
        await regulator.close()


async def test_given_a_paired_call_when_transferred_to_the_doctor_then_the_session_follows(
    client: Client, sandbox: SandboxAsterisk
) -> None:
    regulator = await console(client, "PJSIP/1001")
    phone = await start_phone(sandbox, "1001")
    doctor = await start_phone(sandbox, "1003", answer_delay_ms=200)
    call = await place_call(sandbox, CALLER, "151001", duration_ms=6000)
    manager = await admin_ami(sandbox)
    try:
        offer = await regulator.wait_for("offer", timeout=15)
        call_id = offer["call"]["call_id"]
        session = await open_for_the_call(regulator, call_id)
        await session_event(regulator, session["id"], "call.paired")
        phones = [c["channel"] for c in await live_channels(sandbox)]
        (at_1001,) = [name for name in phones if name.startswith("PJSIP/1001-")]

        reply = await manager.send_action(
            {
                "Action": "BlindTransfer",
                "Channel": at_1001,
                "Exten": "1003",
                "Context": "regulators",
            }
        )
        assert reply.success, reply

        moved = await session_event(regulator, session["id"], "call.transferred")
        assert moved["event"]["details"] == {
            "call_id": call_id,
            "from": "PJSIP/1001",
            "to": "PJSIP/1003",
        }
        live = client.app[appkeys.REGISTRY].get(call_id)
        assert live is not None
        reply = await manager.send_action(
            {"Action": "Getvar", "Channel": live.channel, "Variable": PAIRING_VARIABLE}
        )
        assert reply["Value"] == session["id"], "the pairing stays on the caller's channel"
        assert await call.wait(20) == 0
        assert await doctor.wait(15) == 0
        await session_event(regulator, session["id"], "call.ended")
        status, body = await regulator.request("GET", f"/console/api/sessions/{session['id']}")
        assert status == 200
        assert body["state"] == "invited"
        assert body["position"] == "PJSIP/1001", "the session stays where it was opened"
        types = [event["type"] for event in body["timeline"]]
        assert is_subsequence(
            ["session.created", "invitation.created", "call.transferred", "call.ended"], types
        ), types
        await until(lambda: phone.returncode is not None, 15, "the first phone's end")
    finally:
        manager.close()
        for process in (call, doctor, phone):
            await process.stop()
        await regulator.close()


class AmiForwarder:
    """A TCP forwarder to the sandbox's AMI that the test can cut and restore (same port):
    AMI out of reach for the service alone, while Asterisk and the call go on."""

    def __init__(self, sandbox: SandboxAsterisk) -> None:
        self.target = (sandbox.host, sandbox.ports.ami)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop the open connections."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                self._writers.discard(end)
                end.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


@pytest.fixture
async def forwarder(sandbox: SandboxAsterisk) -> AsyncIterator[AmiForwarder]:
    forwarder = AmiForwarder(sandbox)
    await forwarder.open()
    yield forwarder
    await forwarder.close()


@pytest.fixture(params=["ami", "ari"])
async def client_via_forwarder(
    request: pytest.FixtureRequest,
    sandbox: SandboxAsterisk,
    forwarder: AmiForwarder,
    aiohttp_client: object,
    tmp_path: Path,
) -> AsyncIterator[Client]:
    """The service with its AMI (the events' link or the pairing's) through ``forwarder``."""
    settings = service_settings(sandbox, request.param, tmp_path, ami_port=forwarder.port)
    client: Client = await aiohttp_client(create_app(settings))  # type: ignore[operator]
    await wait_link_up(client)
    yield client


async def test_given_ami_out_of_reach_when_the_session_opens_then_paired_once_it_is_back(
    client_via_forwarder: Client,
    forwarder: AmiForwarder,
    sandbox: SandboxAsterisk,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = client_via_forwarder
    monkeypatch.setattr(paired_calls, "PAIRING_RETRY_DELAYS", (0.2, 0.5, 1.0))
    regulator = await console(client, "PJSIP/1001")
    phone = await start_phone(sandbox, "1001", answer_delay_ms=200)
    call = await place_call(sandbox, CALLER, "151001", duration_ms=10000)
    manager = await admin_ami(sandbox)
    try:
        offer = await regulator.wait_for("offer", timeout=15)
        call_id = offer["call"]["call_id"]
        await forwarder.close()

        session = await open_for_the_call(regulator, call_id)
        await session_event(regulator, session["id"], "call.pairing_failed")
        await asyncio.sleep(2)
        await forwarder.open()

        await session_event(regulator, session["id"], "call.paired")
        live = client.app[appkeys.REGISTRY].get(call_id)
        assert live is not None
        reply = await manager.send_action(
            {"Action": "Getvar", "Channel": live.channel, "Variable": PAIRING_VARIABLE}
        )
        assert reply.success, reply
        assert reply["Value"] == session["id"]
        assert await call.wait(20) == 0
        assert await phone.wait(15) == 0
        await session_event(regulator, session["id"], "call.ended")
        status, body = await regulator.request("GET", f"/console/api/sessions/{session['id']}")
        assert status == 200
        types = [event["type"] for event in body["timeline"]]
        assert is_subsequence(["call.pairing_failed", "call.paired", "call.ended"], types), types
        assert (types.count("call.pairing_failed"), types.count("call.paired")) == (1, 1)
    finally:
        manager.close()
        await call.stop()
        await phone.stop()
        await regulator.close()
