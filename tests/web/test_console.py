"""The console over real HTTP: login, CSRF, position, invitation intent, live calls."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from aiohttp.test_utils import TestClient

from visioregul.integration import appkeys, audit
from visioregul.integration.telephony.events import CallAnswered, CallEnded, CallRinging

from .conftest import PASSWORD, login, public_origin

Client = TestClient[web.Request, web.Application]


async def test_given_no_login_then_console_redirects_and_api_refuses(client: Client) -> None:
    response = await client.get("/console", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/console/login"
    response = await client.get("/console/api/me")
    assert response.status == 401
    body = await response.json()
    assert body["error_id"] == "unauthorized"
    assert body["message"] == "Authentification requise."


async def test_given_wrong_password_then_redirect_with_error_and_audit(client: Client) -> None:
    response = await client.post(
        "/console/login",
        data={"username": "regulateur", "password": "nope"},
        headers={"Origin": str(client.make_url("/")).rstrip("/")},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/console/login?error=invalid_credentials"
    async with client.app[appkeys.DB]() as db:
        entries = await audit.recent(db, action="console.login_failed")
    assert entries[0].details["username"] == "regulateur"


async def test_given_a_cross_site_form_then_login_is_refused(client: Client) -> None:
    for headers in ({"Origin": "https://evil.example"}, {}):
        response = await client.post(
            "/console/login",
            data={"username": "regulateur", "password": PASSWORD},
            headers=headers,
            allow_redirects=False,
        )
        assert response.headers["Location"] == "/console/login?error=csrf"
        assert "Set-Cookie" not in response.headers


async def test_given_many_attempts_then_rate_limited(client: Client) -> None:
    origin = {"Origin": str(client.make_url("/")).rstrip("/")}
    locations = []
    for _ in range(7):
        response = await client.post(
            "/console/login",
            data={"username": "regulateur", "password": "wrong"},
            headers=origin,
            allow_redirects=False,
        )
        locations.append(response.headers["Location"])
    assert locations[-1] == "/console/login?error=rate_limited"
    assert locations.count("/console/login?error=invalid_credentials") == 5


async def test_given_login_then_me_has_the_accounts_position_and_pages_are_secured(
    client: Client,
) -> None:
    await login(client)
    me = await (await client.get("/console/api/me")).json()
    assert me["account"] == {
        "username": "regulateur",
        "display_name": "Dr Martin",
        "role": "regulator",
    }
    assert me["position"] == "PJSIP/1001"
    assert me["outbox"] is True
    response = await client.get("/console/api/me")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


async def test_given_no_csrf_token_then_unsafe_requests_are_refused(client: Client) -> None:
    token = await login(client)
    response = await client.post("/console/api/position", json={"position": "1002"})
    assert response.status == 403
    assert (await response.json())["error_id"] == "csrf"
    response = await client.post(
        "/console/api/position", json={"position": "1002"}, headers={"X-CSRF-Token": token}
    )
    assert (await response.json())["position"] == "PJSIP/1002"
    response = await client.post(
        "/console/api/position", json={"position": "<b>"}, headers={"X-CSRF-Token": token}
    )
    assert response.status == 400
    assert (await response.json())["error_id"] == "invalid_position"


async def test_console_socket_gets_hello_then_offers_for_its_position_only(
    client: Client,
) -> None:
    await login(client)
    registry = client.app[appkeys.REGISTRY]
    at = datetime.now(UTC)
    registry.apply(CallRinging("c0", "15", "0611111111", "PJSIP/trunk-0", "c0", at))
    registry.apply(CallAnswered("c0", "PJSIP/1001", at))
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello"
        assert hello["position"] == "PJSIP/1001"
        assert hello["telephony"]["state"] == "disabled"
        assert [call["call_id"] for call in hello["calls"]] == ["c0"]
        registry.apply(CallRinging("c1", "15", "+33612345678", "PJSIP/trunk-1", "c1", at))
        registry.apply(CallRinging("c2", "15", "+33622222222", "PJSIP/trunk-2", "c2", at))
        registry.apply(CallAnswered("c2", "PJSIP/1002", at))
        registry.apply(CallAnswered("c1", "PJSIP/1001", at))
        offer = await ws.receive_json(timeout=5)
        assert offer["type"] == "offer"
        assert offer["call"]["call_id"] == "c1"
        assert offer["call"]["caller"]["display"] == "06 12 34 56 78"
        assert offer["call"]["suggested_channel"] == "sms"
        registry.apply(CallEnded("c1", at))
        ended = await ws.receive_json(timeout=5)
        assert (ended["type"], ended["call"]["state"]) == ("call.updated", "ended")
        await ws.send_str("garbage")
        error = await ws.receive_json(timeout=5)
        assert error["type"] == "error"
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=5))["type"] == "pong"


async def test_logout_ends_the_session(client: Client) -> None:
    token = await login(client)
    response = await client.post("/console/logout", headers={"X-CSRF-Token": token})
    assert response.status == 204
    assert (await client.get("/console/api/me")).status == 401


async def test_given_hostile_login_forms_then_redirects_never_500(client: Client) -> None:
    origin = {"Origin": str(client.make_url("/")).rstrip("/")}
    for name, data, headers, error in [
        # Not a URL: was a 500 (ValueError in urlsplit).
        ("Origin garbage", {"username": "regulateur"}, {"Origin": "http://[::1"}, "csrf"),
        ("Referer garbage", {"username": "regulateur"}, {"Referer": "http://[zz"}, "csrf"),
        # Unreadable forms: were 500s (aiohttp's parser raised).
        (
            "multipart without boundary",
            b"username=regulateur",
            {**origin, "Content-Type": "multipart/form-data"},
            "invalid_credentials",
        ),
        (
            "broken multipart",
            b"--xx\r\nbroken",
            {**origin, "Content-Type": "multipart/form-data; boundary=xx"},
            "invalid_credentials",
        ),
        # NUL: PostgreSQL refuses it in text and in JSON (was a 500 there).
        (
            "NUL in the username",
            {"username": "regu\x00lateur", "password": PASSWORD},
            origin,
            "invalid_credentials",
        ),
        (
            "NUL in the password",
            {"username": "regulateur", "password": PASSWORD + "\x00"},
            origin,
            "invalid_credentials",
        ),
    ]:
        response = await client.post(
            "/console/login", data=data, headers=headers, allow_redirects=False
        )
        assert response.status == 303, name
        assert response.headers["Location"] == f"/console/login?error={error}", name
        assert "Set-Cookie" not in response.headers, name
    async with client.app[appkeys.DB]() as db:
        entries = await audit.recent(db, action="console.login_failed")
    assert {entry.details["username"] for entry in entries} >= {"regu\ufffdlateur"}


async def test_given_a_deeply_nested_message_then_the_console_socket_stays_open(
    client: Client,
) -> None:
    await login(client)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        await ws.send_str("[" * 30000 + "]" * 30000)  # was a RecursionError: socket dropped
        error = await ws.receive_json(timeout=5)
        assert (error["type"], error["error_id"]) == ("error", "invalid_message")
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=5))["type"] == "pong"
