"""Typed messages over the real sockets: the console writes (typed or ready-made), the patient's
page shows it and answers, every message lands in the session's log, and bad input is refused
with a clear reason."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient

from visioregul.integration.sessions.texts import MAX_TEXT

from .conftest import public_origin
from .helpers import detail, events_of
from .patient import invite, open_page

Client = TestClient[web.Request, web.Application]

pytestmark = [pytest.mark.timeout(60)]


async def next_of(ws: ClientWebSocketResponse, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of type ``kind`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive()
            assert message.type is WSMsgType.TEXT, message
            body: dict[str, Any] = json.loads(message.data)
            if body["type"] == kind:
                return body


async def both_of(ws: ClientWebSocketResponse, *kinds: str) -> dict[str, dict[str, Any]]:
    """The next message of each of ``kinds``, whatever their order."""
    found: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(10):
        while len(found) < len(kinds):
            message = await ws.receive()
            assert message.type is WSMsgType.TEXT, message
            body: dict[str, Any] = json.loads(message.data)
            if body["type"] in kinds and body["type"] not in found:
                found[body["type"]] = body
    return found


async def test_given_a_typed_message_then_the_patient_sees_it_answers_and_both_are_logged(
    client: Client,
) -> None:
    session_id, token, _ = await invite(client)
    page = await open_page(client, token)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        # Control characters go, HTML stays text (the pages never interpret it).
        await console.send_json(
            {"type": "text.send", "session_id": session_id, "text": " Vous\x07 m'entendez ?\x00 "}
        )
        # The console following the session gets it as a session update too.
        received = await both_of(console, "text.accepted", "session.updated")
        accepted = received["text.accepted"]
        assert accepted["event"]["type"] == "text.sent"
        assert accepted["event"]["details"] == {"text": "Vous m'entendez ?"}
        assert accepted["event"]["actor"] == "regulateur"
        assert received["session.updated"]["event"] == accepted["event"]
        shown = await next_of(page, "text")
        assert shown["from"] == "regulator"
        assert shown["text"] == "Vous m'entendez ?"

        await page.send_json({"type": "text", "text": "<b>Je ne peux pas parler</b>"})
        echoed = await next_of(page, "text")
        assert echoed == {**echoed, "from": "patient", "text": "<b>Je ne peux pas parler</b>"}
        update = await next_of(console, "session.updated")
        assert update["event"]["type"] == "text.received"
        assert update["event"]["details"] == {"text": "<b>Je ne peux pas parler</b>"}

        # A ready-made instruction, in the page's language (French here).
        await console.send_json(
            {"type": "text.send", "session_id": session_id, "preset": "light_on"}
        )
        accepted = await next_of(console, "text.accepted")
        assert accepted["event"]["details"] == {"text": "Allumez la lumière", "preset": "light_on"}
        assert (await next_of(page, "text"))["text"] == "Allumez la lumière"

    body = await detail(client, session_id)
    assert [e["details"]["text"] for e in events_of(body, "text.sent")] == [
        "Vous m'entendez ?",
        "Allumez la lumière",
    ]
    assert [e["details"]["text"] for e in events_of(body, "text.received")] == [
        "<b>Je ne peux pas parler</b>"
    ]
    await page.close()


async def test_given_a_message_written_while_the_page_was_away_then_its_new_socket_shows_it(
    client: Client,
) -> None:
    """The phone's network drops: the regulator writes meanwhile; the page's new socket gets
    the regulator's newest message right after its welcome (the old socket could not carry
    it)."""
    session_id, token, _ = await invite(client)
    page = await open_page(client, token)
    await page.close()
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        for text in ("Vous m'entendez ?", "Restez près du patient"):
            await console.send_json({"type": "text.send", "session_id": session_id, "text": text})
            await next_of(console, "text.accepted")

    again = await open_page(client, token)
    shown = await next_of(again, "text")
    assert shown["from"] == "regulator"
    assert shown["text"] == "Restez près du patient"
    sent = events_of(await detail(client, session_id), "text.sent")
    assert shown["at"] == sent[-1]["at"]
    await again.close()


async def test_given_bad_messages_then_each_is_refused_with_its_reason_and_nothing_logged(
    client: Client,
) -> None:
    session_id, token, _ = await invite(client)
    page = await open_page(client, token)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"text": " \x01\n "}, "invalid_text", "Message vide."),
            (
                {"text": "x" * (MAX_TEXT + 1)},
                "text_too_long",
                "Message trop long\u00a0: 500 caractères au plus.",
            ),
            ({"preset": "open_the_door"}, "unknown_preset", "Consigne inconnue."),
            ({"text": "a", "preset": "light_on"}, "invalid_message", "Message non reconnu"),
        ]
        for fields, error_id, message in cases:
            await console.send_json({"type": "text.send", "session_id": session_id, **fields})
            error = await next_of(console, "text.error")
            assert error["session_id"] == session_id
            assert error["error_id"] == error_id
            assert error["message"].startswith(message)
        # Another centre's or an unknown session: the very answer of an unknown one.
        await console.send_json({"type": "text.send", "session_id": "nope", "text": "hello"})
        error = await next_of(console, "text.error")
        assert error["error_id"] == "session_not_found"

        # A flood: the eleventh message in a row is refused, saying when to try again.
        for index in range(10):
            await console.send_json(
                {"type": "text.send", "session_id": session_id, "text": f"n°{index}"}
            )
            await next_of(console, "text.accepted")
        await console.send_json({"type": "text.send", "session_id": session_id, "text": "encore"})
        error = await next_of(console, "text.error")
        assert error["error_id"] == "too_many_texts"
        assert error["message"].startswith("Trop de messages d'un coup\u00a0: réessayez dans ")

    # The patient's side: empty and too long answers are refused, the socket stays open.
    await page.send_json({"type": "text", "text": "\x00"})
    assert (await next_of(page, "error"))["error_id"] == "invalid_text"
    await page.send_json({"type": "text", "text": "y" * 2001})
    assert (await next_of(page, "error"))["error_id"] == "invalid_message"
    await page.send_json({"type": "ping"})
    await next_of(page, "pong")

    body = await detail(client, session_id)
    assert len(events_of(body, "text.sent")) == 10
    assert events_of(body, "text.received") == []
    await page.close()


async def test_given_an_ended_session_then_no_message_goes_either_way(client: Client) -> None:
    session_id, token, csrf = await invite(client)
    page = await open_page(client, token)
    ended = await client.post(
        f"/console/api/sessions/{session_id}/end", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert ended.status == 200
    await next_of(page, "ended")
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        await console.send_json({"type": "text.send", "session_id": session_id, "text": "allô"})
        error = await next_of(console, "text.error")
        assert error["error_id"] == "session_closed"
    assert events_of(await detail(client, session_id), "text.sent") == []


async def test_given_an_english_page_then_instructions_are_written_in_english(
    client: Client,
) -> None:
    """The ready-made instruction is written in the language of the patient's page, and the
    log holds exactly what the patient read."""
    session_id, token, _ = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200
    page = await client.ws_connect(
        f"/p/{token}/ws",
        origin=public_origin(client),
        headers={"Accept-Language": "en-GB,en;q=0.9"},
    )
    await next_of(page, "welcome")
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        await console.send_json(
            {"type": "text.send", "session_id": session_id, "preset": "show_person"}
        )
        accepted = await next_of(console, "text.accepted")
    assert accepted["event"]["details"] == {"text": "Show me the person", "preset": "show_person"}
    assert (await next_of(page, "text"))["text"] == "Show me the person"
    await page.close()
