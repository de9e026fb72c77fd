"""Sessions and invitations over real HTTP, with the local outbox (no telephony needed)."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection
from sqlalchemy import update

from visioregul.integration import accounts, appkeys
from visioregul.integration.app import create_app
from visioregul.integration.sessions.models import Invitation
from visioregul.integration.settings import MessagingSettings
from visioregul.integration.store.models import Role, utcnow

from .conftest import CAD_KEY, PASSWORD, ClientFactory, login, make_settings, public_origin
from .patient import gather_loopback, open_page, publish, wait_bound

Client = TestClient[web.Request, web.Application]
LINK = re.compile(r"https?://\S+/p/([A-Za-z0-9_-]{43})")


async def outbox(client: Client, count: int = 1) -> list[dict[str, Any]]:
    """Wait until the outbox holds ``count`` messages; newest first."""
    for _ in range(100):
        body = await (await client.get("/console/api/outbox")).json()
        if len(body["messages"]) >= count:
            return list(body["messages"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox has fewer than {count} messages")


async def detail(client: Client, session_id: str) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get(f"/console/api/sessions/{session_id}")).json()
    return body


async def wait_state(client: Client, session_id: str, state: str) -> dict[str, Any]:
    for _ in range(100):
        body = await detail(client, session_id)
        if body["state"] == state:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"session never reached {state}: {body['state']}")


async def open_session(client: Client, token: str, destination: str = "06 12 34 56 78") -> Any:
    return await client.post(
        "/console/api/sessions",
        json={"destination": destination},
        headers={"X-CSRF-Token": token},
    )


async def test_given_a_mobile_then_session_sms_link_and_timeline(client: Client) -> None:
    token = await login(client)
    response = await open_session(client, token)
    assert response.status == 201
    session = await response.json()
    assert session["created_by"] == "regulateur"
    assert session["position"] == "PJSIP/1001"
    assert [i["destination"] for i in session["invitations"]] == ["+33612345678"]
    messages = await outbox(client)
    assert messages[0]["to"] == "+33612345678"
    assert messages[0]["channel"] == "sms"
    text = messages[0]["text"]
    assert text.startswith("SAMU 15")
    link = LINK.search(text)
    assert link is not None
    await wait_state(client, session["id"], "invited")

    page = await client.get(f"/p/{link.group(1)}")
    assert page.status == 200
    assert "montrer la scène en vidéo" in await page.text()
    # Fetching the page is no opening: the page's script opens the link (its socket).
    assert (await detail(client, session["id"]))["invitations"][0]["opened_at"] is None
    ws = await client.ws_connect(f"/p/{link.group(1)}/ws", origin=public_origin(client))
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    body = await wait_state(client, session["id"], "link_opened")
    assert body["invitations"][0]["opened_at"] is not None
    assert body["invitations"][0]["delivery_status"] == "simulated"
    types = [event["type"] for event in body["timeline"]]
    assert types == [
        "session.created",
        "invitation.created",
        "invitation.simulated",
        "link.opened",
    ]
    await ws.close()
    # The same browser may open it again (a reload): nothing more to log.
    again = await client.get(f"/p/{link.group(1)}")
    assert again.status == 200
    ws = await client.ws_connect(f"/p/{link.group(1)}/ws", origin=public_origin(client))
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    await ws.close()
    body = await detail(client, session["id"])
    assert [event["type"] for event in body["timeline"]][-1] == "link.opened"


async def test_given_a_link_then_every_refusal_looks_the_same(
    client: Client, peers: list[RTCPeerConnection], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await login(client)
    first = await (await open_session(client, token)).json()
    link = LINK.search((await outbox(client))[0]["text"])
    assert link is not None
    good = link.group(1)
    # Opened by the patient's browser, which sends its video: the link is bound to it.
    gather_loopback(monkeypatch)
    ws = await open_page(client, good)
    peers.append(await publish(ws))
    await wait_bound(client, good)
    await ws.close()

    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    refusals = {}
    # Another browser: a session without the first one's cookie.
    async with aiohttp.ClientSession(str(client.make_url("/"))) as stranger:
        for name, url in {
            "other device": f"/p/{good}",
            "one character changed": f"/p/{tampered}",
            "garbage": "/p/not%20a%20token%3Cscript%3E",
            "nested": "/p/abc/def",
            "too long": "/p/" + "a" * 500,
        }.items():
            started = time.monotonic()
            response = await stranger.get(url)
            refusals[name] = (response.status, await response.text(), time.monotonic() - started)

    # Revoked by a new invitation, and expired.
    await client.post(
        f"/console/api/sessions/{first['id']}/invitations",
        json={"destination": "0612345678"},
        headers={"X-CSRF-Token": token},
    )
    started = time.monotonic()
    response = await client.get(f"/p/{good}")
    refusals["revoked"] = (response.status, await response.text(), time.monotonic() - started)
    link2 = LINK.search((await outbox(client, 2))[0]["text"])
    assert link2 is not None
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    started = time.monotonic()
    response = await client.get(f"/p/{link2.group(1)}")
    refusals["expired"] = (response.status, await response.text(), time.monotonic() - started)

    statuses = {status for status, _, _ in refusals.values()}
    bodies = {text for _, text, _ in refusals.values()}
    assert statuses == {404}, refusals
    assert len(bodies) == 1
    assert "Ce lien n'est plus valable" in next(iter(bodies))
    assert "rappelez le 15" in next(iter(bodies))
    assert all(elapsed >= 0.24 for _, _, elapsed in refusals.values())
    # Fetching a page records nothing, refusals included (robots fetch dead links too).
    timeline = (await detail(client, first["id"]))["timeline"]
    assert [e for e in timeline if e["type"] == "link.refused"] == []


async def test_given_a_landline_or_garbage_then_clear_refusal_and_nothing_written(
    client: Client,
) -> None:
    token = await login(client)
    response = await open_session(client, token, "01 45 67 89 01")
    body = await response.json()
    assert response.status == 400
    assert body["error_id"] == "landline_number"
    for destination, error_id in [
        ("", "missing_destination"),
        ("abc", "invalid_destination"),
        ("x@@y", "invalid_email"),
        ("a@b.fr\r\nBcc: victim@example.com", "invalid_email"),
    ]:
        response = await open_session(client, token, destination)
        assert (await response.json())["error_id"] == error_id
    response = await client.post(
        "/console/api/sessions",
        json={"destination": "0612345678", "call_id": "nope"},
        headers={"X-CSRF-Token": token},
    )
    assert (await response.json())["error_id"] == "call_not_found"
    response = await client.post(
        "/console/api/sessions",
        json={"destination": "0612345678", "extra": 1},
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 400
    history = await (await client.get("/console/api/sessions")).json()
    assert history == {"total": 0, "sessions": []}


async def test_given_an_email_then_it_goes_by_email(client: Client) -> None:
    token = await login(client)
    response = await open_session(client, token, "Jeanne.Dupont@Exemple.fr")
    assert response.status == 201
    message = (await outbox(client))[0]
    assert message["channel"] == "email"
    assert message["to"] == "Jeanne.Dupont@exemple.fr"
    assert message["subject"]
    assert LINK.search(message["text"])


async def test_given_too_many_invitations_to_one_number_then_refused_with_why(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    settings.messaging = MessagingSettings(per_destination_per_hour=2)
    client: Client = await aiohttp_client(create_app(settings))
    async with client.app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db,
            "regulateur",
            PASSWORD,
            display_name="R",
            role=Role.REGULATOR,
            position="PJSIP/1001",
        )
    token = await login(client)
    assert (await open_session(client, token)).status == 201
    assert (await open_session(client, token)).status == 201
    response = await open_session(client, token)
    body = await response.json()
    assert response.status == 429
    assert body["error_id"] == "too_many_invitations_destination"
    assert "déjà reçu plusieurs invitations" in body["message"]
    # Another number is still fine.
    assert (await open_session(client, token, "0611111111")).status == 201


async def test_end_history_and_closed_sessions(client: Client) -> None:
    token = await login(client)
    first = await (await open_session(client, token)).json()
    second = await (await open_session(client, token, "0611111111")).json()
    response = await client.post(
        f"/console/api/sessions/{first['id']}/end", json={}, headers={"X-CSRF-Token": token}
    )
    ended = await response.json()
    assert ended["state"] == "ended"
    assert ended["ended_by"] == "regulateur"
    response = await client.post(
        f"/console/api/sessions/{first['id']}/invitations",
        json={"destination": "0612345678"},
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 409
    assert (await response.json())["error_id"] == "session_closed"
    # The two sends run in the background: their order in the outbox is not the sessions'.
    (first_sms,) = [m for m in await outbox(client, 2) if m["to"] == "+33612345678"]
    link = LINK.search(first_sms["text"])
    assert link is not None
    assert (await client.get(f"/p/{link.group(1)}")).status == 404

    history = await (await client.get("/console/api/sessions")).json()
    assert history["total"] == 2
    assert [s["id"] for s in history["sessions"]] == [second["id"], first["id"]]
    only_ended = await (await client.get("/console/api/sessions?state=ended")).json()
    assert [s["id"] for s in only_ended["sessions"]] == [first["id"]]
    still_open = await (await client.get("/console/api/sessions?state=open")).json()
    assert [s["id"] for s in still_open["sessions"]] == [second["id"]]
    both = await (await client.get("/console/api/sessions?state=ended,invited,created")).json()
    assert both["total"] == 2
    assert (await client.get("/console/api/sessions?state=bogus")).status == 400
    # Rows carry their invitations: the history shows whom the link went to.
    assert [i["destination"] for i in history["sessions"][0]["invitations"]] == ["+33611111111"]
    by_number = await (
        await client.get("/console/api/sessions?number=06%2011%2011%2011%2011")
    ).json()
    assert [s["id"] for s in by_number["sessions"]] == [second["id"]]
    page = await (await client.get("/console/api/sessions?limit=1&offset=1")).json()
    assert [s["id"] for s in page["sessions"]] == [first["id"]]
    response = await client.get("/console/api/sessions?since=yesterday")
    assert response.status == 400
    response = await client.get("/console/api/sessions/does-not-exist")
    assert response.status == 404
    assert (await response.json())["error_id"] == "session_not_found"


async def test_cad_opens_and_reads_sessions(client: Client) -> None:
    auth = {"Authorization": f"Bearer {CAD_KEY}"}
    response = await client.post(
        "/api/v1/sessions",
        json={"destination": "+33612345678", "requested_by": "mdupont", "position": "1002"},
        headers=auth,
    )
    assert response.status == 201
    session = await response.json()
    assert session["position"] == "PJSIP/1002"
    # The key acts for the account it names, whoever the CAD says asked.
    assert session["created_by"].endswith(":regulateur")
    listed = await (await client.get("/api/v1/sessions", headers=auth)).json()
    assert [s["id"] for s in listed["sessions"]] == [session["id"]]
    one = await (await client.get(f"/api/v1/sessions/{session['id']}", headers=auth)).json()
    assert one["timeline"][0]["type"] == "session.created"
    assert (await client.get("/api/v1/sessions")).status == 401


async def test_given_hostile_history_filters_then_clear_400s(client: Client) -> None:
    auth = {"Authorization": f"Bearer {CAD_KEY}", "Accept-Language": "en"}
    for query, detail in [
        # No time zone: its meaning would depend on the server's clock (was a 500).
        ("since=2024-01-01T00:00:00", "since: ISO 8601 date-time with a time zone expected"),
        ("until=2024-01-01", "until: ISO 8601 date-time with a time zone expected"),
        # Before year 1 once in UTC (was a 500: OverflowError).
        (
            "since=0001-01-01T00:00:00%2B14:00",
            "since: ISO 8601 date-time with a time zone expected",
        ),
        ("until=9999-12-31T23:59:59-14:00", "until: ISO 8601 date-time with a time zone expected"),
        ("since=null", "since: ISO 8601 date-time with a time zone expected"),
        # Beyond the databases' integers (was a 500).
        ("offset=100000000000000000000000", "offset: at most 2147483647"),
        ("limit=x", "limit/offset: integers expected"),
    ]:
        response = await client.get(f"/api/v1/sessions?{query}", headers=auth)
        assert response.status == 400, query
        body = await response.json()
        assert (body["error_id"], body["details"]) == ("invalid_request", {"detail": detail}), query
        assert body["message"] == f"Invalid request: {detail}", query
    for query in ("since=2024-01-01T00:00:00Z", "until=2024-01-01T02:00:00%2B02:00", "offset=5"):
        response = await client.get(f"/api/v1/sessions?{query}", headers=auth)
        assert response.status == 200, query


async def test_given_a_deeply_nested_json_body_then_invalid_json_and_nothing_written(
    client: Client,
) -> None:
    auth = {"Authorization": f"Bearer {CAD_KEY}", "Content-Type": "application/json"}
    nested = b'{"destination": ' + b"[" * 8000 + b"]" * 8000 + b"}"  # under 16 KiB
    response = await client.post("/api/v1/sessions", data=nested, headers=auth)
    assert response.status == 400  # was a 500: RecursionError
    assert (await response.json())["error_id"] == "invalid_json"
    history = await (await client.get("/api/v1/sessions", headers=auth)).json()
    assert history == {"total": 0, "sessions": []}
