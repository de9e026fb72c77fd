"""The caller's position over the real sockets: the console asks, the page answers, the fix is
kept with the session (its row and its event); absurd values, a position nobody asked for and a
session the console does not know are refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from visioregul.integration import appkeys
from visioregul.integration.geocoding import ReverseGeocoder
from visioregul.integration.sessions.location import SessionLocation
from visioregul.integration.settings import GeocodingSettings

from .conftest import public_origin
from .helpers import events_of
from .patient import Client, invite, open_page
from .test_remote_control import next_of

pytestmark = [pytest.mark.timeout(60)]

FIX: dict[str, Any] = {"latitude": 45.764043, "longitude": 4.835659, "accuracy": 800}


def ask(session_id: str, request_id: str, follow: bool = False) -> dict[str, Any]:
    return {
        "type": "location.ask",
        "v": 1,
        "id": request_id,
        "session_id": session_id,
        "follow": follow,
    }


async def test_given_a_request_when_the_page_answers_then_the_fix_is_kept_and_refusals_are_clear(
    client: Client,
) -> None:
    # Off: no provider is reached, the coordinates alone are kept.
    client.app[appkeys.LOCATOR].geocoder = ReverseGeocoder(GeocodingSettings(enabled=False))
    session_id, token, _ = await invite(client)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        page = await open_page(client, token)
        # A position nobody asked for, then absurd values: refused on the page's socket.
        await page.send_json({"type": "location.update", "fix": FIX})
        assert (await next_of(page, "error"))["error_id"] == "location_unasked"

        await console.send_json(ask(session_id, "l1"))
        request = await next_of(page, "location.ask")
        assert request == {"type": "location.ask", "v": 1, "id": "l1", "follow": False}
        await page.send_json(
            {"type": "location.result", "id": "l1", "fix": FIX | {"latitude": 123.0}}
        )
        error = await next_of(page, "error")
        assert error["error_id"] == "invalid_location"
        result = await next_of(console, "location.result")
        assert (result["ok"], result["error_id"]) == (False, "location_unavailable")

        await console.send_json(ask(session_id, "l2"))
        await next_of(page, "location.ask")
        await page.send_json({"type": "location.result", "id": "l2", "fix": FIX})
        result = await next_of(console, "location.result")
        assert result["ok"] is True
        assert result["location"] == {
            "id": "l2",
            "latitude": 45.764043,
            "longitude": 4.835659,
            "accuracy": 800,
            "address": None,
            "imprecise": True,
            "source": "asked",
        }
        await page.close()

        # The page went away: said at once.
        await console.send_json(ask(session_id, "l3"))
        gone = await next_of(console, "location.result")
        assert (gone["ok"], gone["error_id"]) == (False, "location_phone_gone")

        # A session the console does not know: answered like an unknown one.
        await console.send_json(ask("no-such-session", "l4"))
        assert (await next_of(console, "video.error"))["error_id"] == "session_not_found"
        # A malformed request.
        await console.send_json(ask(session_id, "bad id with spaces"))
        assert (await next_of(console, "error"))["error_id"] == "invalid_message"

    async with client.app[appkeys.DB]() as db:
        rows = (await db.scalars(select(SessionLocation))).all()
    assert [(row.session_id, row.latitude, row.source) for row in rows] == [
        (session_id, 45.764043, "asked")
    ]
    body = await (await client.get(f"/console/api/sessions/{session_id}")).json()
    assert [event["details"]["error"] for event in events_of(body, "location.failed")] == [
        "unavailable",
        "absent",
    ]
    assert len(events_of(body, "location.received")) == 1
