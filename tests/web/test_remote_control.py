"""Remote control of the caller's camera over the real sockets: the page's camera state reaches
the console, commands go to the page and their answers come back, with every refusal (a
capability the phone lacks, no page, no answer, a flood, the wrong sender) and the log."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType

from visioregul.integration import appkeys

from .conftest import public_origin
from .helpers import detail, events_of
from .patient import Client, invite, open_page

pytestmark = [pytest.mark.timeout(60)]

STATE: dict[str, Any] = {
    "cameras": 2,
    "facing_mode": "user",
    "torch": False,
    "zoom": {"min": 1, "max": 4, "step": 0.5, "value": 1},
}


async def next_of(ws: ClientWebSocketResponse, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of type ``kind`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive()
            assert message.type is WSMsgType.TEXT, message
            body: dict[str, Any] = json.loads(message.data)
            if body["type"] == kind:
                return body


def command(session_id: str, command_id: str, name: str, value: Any = None) -> dict[str, Any]:
    """A console's command message."""
    return {
        "type": "command",
        "v": 1,
        "id": command_id,
        "session_id": session_id,
        "name": name,
        "value": value,
    }


async def test_given_a_reporting_page_when_the_torch_is_lit_then_page_and_console_agree(
    client: Client,
) -> None:
    session_id, token, _ = await invite(client)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        await console.send_json({"type": "watch", "session_id": session_id})
        first = await next_of(console, "camera.state")
        assert first == {
            "type": "camera.state",
            "session_id": session_id,
            "connected": False,
            "state": None,
        }
        # The console's other video messages leave the camera followed.
        await console.send_json(
            {"type": "video.answer", "session_id": session_id, "viewer_id": "x", "sdp": "v=0"}
        )
        await next_of(console, "video.error")
        page = await open_page(client, token)
        await page.send_json({"type": "camera.state", "state": STATE})
        reported = await next_of(console, "camera.state")
        while reported["state"] is None:  # the page's connection comes first
            reported = await next_of(console, "camera.state")
        assert reported["connected"] is True
        assert reported["state"] == STATE

        await console.send_json(command(session_id, "c1", "torch", True))
        sent = await next_of(page, "command")
        assert sent == {"type": "command", "v": 1, "id": "c1", "name": "torch", "value": True}
        await page.send_json(
            {"type": "command.result", "id": "c1", "ok": True, "state": STATE | {"torch": True}}
        )
        # The new state reaches every console following, then the result its sender.
        assert (await next_of(console, "camera.state"))["state"]["torch"] is True
        result = await next_of(console, "command.result")
        assert result == {
            "type": "command.result",
            "session_id": session_id,
            "id": "c1",
            "name": "torch",
            "ok": True,
            "state": STATE | {"torch": True},
        }

        # The page's own refusal comes back as it is.
        await console.send_json(command(session_id, "c2", "zoom", 3))
        assert (await next_of(page, "command"))["value"] == 3
        await page.send_json({"type": "command.result", "id": "c2", "ok": False, "error": "failed"})
        failed = await next_of(console, "command.result")
        assert failed["ok"] is False
        assert failed["error_id"] == "remote_failed"
        assert failed["message"] == "Le téléphone n'a pas pu appliquer la commande."
        await page.close()

    body = await detail(client, session_id)
    sent_events = events_of(body, "command.sent")
    assert [e["details"]["name"] for e in sent_events] == ["torch", "zoom"]
    assert sent_events[0]["actor"] == "regulateur"
    results = events_of(body, "command.result")
    assert [(e["details"]["id"], e["details"]["ok"]) for e in results] == [
        ("c1", True),
        ("c2", False),
    ]
    changed = events_of(body, "camera.changed")
    assert len(changed) == 1
    assert changed[0]["details"]["torch"] is True


async def test_given_a_phone_without_torch_or_zoom_then_the_commands_are_refused_with_the_reason(
    client: Client,
) -> None:
    session_id, token, _ = await invite(client)
    page = await open_page(client, token)
    plain = {"cameras": 1, "facing_mode": "user", "torch": None, "zoom": None}
    await page.send_json({"type": "camera.state", "state": plain})
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        await console.send_json({"type": "watch", "session_id": session_id})
        assert (await next_of(console, "camera.state"))["state"] == plain
        for number, (name, value) in enumerate(
            [("torch", True), ("zoom", 2), ("switch_camera", None)]
        ):
            await console.send_json(command(session_id, f"u{number}", name, value))
            refused = await next_of(console, "command.result")
            assert refused["id"] == f"u{number}"
            assert refused["ok"] is False
            assert refused["error_id"] == "remote_unavailable"
            assert "Non disponible sur ce téléphone" in refused["message"]
        # A zoom out of the phone's range is refused the same way.
        await page.send_json({"type": "camera.state", "state": STATE})
        await console.send_json(command(session_id, "z", "zoom", 40))
        assert (await next_of(console, "command.result"))["error_id"] == "remote_unavailable"
        # An unknown capability is not a command at all.
        await console.send_json(command(session_id, "x", "flash_the_screen", True))
        assert (await next_of(console, "error"))["error_id"] == "invalid_message"
    await page.close()
    body = await detail(client, session_id)
    refusals = events_of(body, "command.refused")
    assert [e["details"]["error"] for e in refusals] == ["unavailable"] * 4


async def test_given_no_page_or_a_page_that_does_not_answer_then_the_regulator_is_told(
    client: Client,
) -> None:
    client.app[appkeys.REMOTE_CONTROL].timeout = 0.5
    session_id, token, _ = await invite(client)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        await console.send_json(command(session_id, "a", "torch", True))
        absent = await next_of(console, "command.result")
        assert absent["error_id"] == "phone_absent"
        assert absent["message"] == (
            "La page du patient n'est plus ouverte\u00a0: la commande n'a pas été envoyée."
        )

        page = await open_page(client, token)
        await page.send_json({"type": "camera.state", "state": STATE})
        await console.send_json({"type": "watch", "session_id": session_id})
        while (await next_of(console, "camera.state"))["state"] is None:
            pass
        await console.send_json(command(session_id, "b", "torch", True))
        await next_of(page, "command")  # received, never answered
        silent = await next_of(console, "command.result")
        assert silent["error_id"] == "phone_no_answer"
        assert silent["message"] == "Pas de réponse du téléphone."

        # The page goes away while a command waits: the answer comes at once.
        client.app[appkeys.REMOTE_CONTROL].timeout = 30
        await console.send_json(command(session_id, "c", "torch", True))
        await next_of(page, "command")
        await page.close()
        state = await next_of(console, "camera.state")
        assert state == {
            "type": "camera.state",
            "session_id": session_id,
            "connected": False,
            "state": None,
        }
        gone = await next_of(console, "command.result")
        assert gone["error_id"] == "phone_no_answer"
        await console.send_json(command(session_id, "d", "torch", True))
        assert (await next_of(console, "command.result"))["error_id"] == "phone_absent"
    body = await detail(client, session_id)
    reasons = [e["details"]["reason"] for e in events_of(body, "command.timeout")]
    assert reasons == ["timeout", "page_gone"]


async def test_given_a_flood_of_commands_then_they_are_rate_limited(client: Client) -> None:
    session_id, token, _ = await invite(client)
    page = await open_page(client, token)
    await page.send_json({"type": "camera.state", "state": STATE})

    async def answer_all() -> None:
        while True:
            sent = await next_of(page, "command", timeout=30)
            await page.send_json({"type": "command.result", "id": sent["id"], "ok": True})

    answering = asyncio.create_task(answer_all())
    try:
        async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
            for number in range(30):
                await console.send_json(command(session_id, f"f{number}", "torch", True))
            results = [await next_of(console, "command.result") for _ in range(30)]
    finally:
        answering.cancel()
        await page.close()
    flooded = [r for r in results if r.get("error_id") == "command_flood"]
    assert len([r for r in results if r["ok"]]) == 20
    assert len(flooded) == 10
    assert "Réessayez dans" in flooded[0]["message"]


async def test_given_the_patient_page_sending_a_command_then_it_is_refused(client: Client) -> None:
    session_id, token, _ = await invite(client)
    page = await open_page(client, token)
    await page.send_json(command(session_id, "p", "torch", True))
    assert (await next_of(page, "error"))["error_id"] == "invalid_message"
    # Nor can it report an absurd camera or answer a command nobody sent.
    await page.send_json({"type": "camera.state", "state": {"cameras": 500}})
    assert (await next_of(page, "error"))["error_id"] == "invalid_message"
    await page.send_json({"type": "command.result", "id": "nobody", "ok": True})
    await page.send_json({"type": "ping"})
    assert (await next_of(page, "pong"))["type"] == "pong"
    await page.close()
