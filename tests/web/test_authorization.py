"""Every route and socket message has a rule, and each rule lets in exactly whom it says.

Table-driven over the application itself: a route or a message type added without a rule in
``integration/authorization.py`` fails here. Each guarded route is then called, for real, as a
regulator, a doctor, an admin, a disabled account, nobody, and CAD keys acting for each of them.
"""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from tests.store.conftest import NewDatabase
from visioregul.integration import accounts, console_logins
from visioregul.integration.app import create_app
from visioregul.integration.authorization import (
    CAD_SOCKET,
    CONSOLE_SOCKET,
    PATIENT_SOCKET,
    ROUTES,
    SESSION_ROLES,
    Credential,
    route_rule,
)
from visioregul.integration.sessions.services import Actor
from visioregul.integration.settings import ApiKey, ConsoleSettings, DatabaseSettings
from visioregul.integration.store.models import Role
from visioregul.integration.telephony.events import CallRinging
from visioregul.integration.web import appkeys
from visioregul.integration.web.console_location import LOCATION_TYPES
from visioregul.integration.web.console_login import COOKIE_NAME
from visioregul.integration.web.console_remote import REMOTE_TYPES
from visioregul.integration.web.console_screen import SCREEN_TYPES
from visioregul.integration.web.console_texts import TEXT_TYPES
from visioregul.integration.web.console_video import VIDEO_TYPES
from visioregul.patient_page import reports, screen, signalling

from .conftest import PASSWORD, ClientFactory, make_settings, public_origin
from .helpers import open_session

Client = TestClient[web.Request, web.Application]
NOW = datetime.now(UTC)

ACCOUNTS = {
    "regulateur": Role.REGULATOR,
    "medecin": Role.DOCTOR,
    "admin": Role.ADMIN,
    "plateforme": Role.PLATFORM_ADMIN,
    "ancien": Role.REGULATOR,  # disabled below
}
KEYS = {f"key-for-{name}-0123456789": name for name in ACCOUNTS} | {"plain-key-0123456789": None}
REGULATING = {Role.REGULATOR, Role.DOCTOR}
"""Written here again, not read from the table: a rule loosened there fails here."""
ADMINISTERING = {Role.ADMIN, Role.PLATFORM_ADMIN}
PLATFORM_ONLY = {("POST", "/console/admin/api/centres")}
"""Creating a centre: platform administrators only."""


def _allowed(method: str, path: str) -> set[Role] | None:
    """The roles a console route lets in, written again here; None: every enabled account."""
    if (method, path) in PLATFORM_ONLY:
        return {Role.PLATFORM_ADMIN}
    if path.startswith("/console/admin/api"):
        return ADMINISTERING
    return REGULATING if _for_regulating(path) else None


def _for_regulating(path: str) -> bool:
    """Whether a route shows or changes calls, sessions or videos (regulators and doctors only)."""
    return path.startswith(
        ("/console/ws", "/console/api/sessions", "/console/api/outbox", "/console/sessions")
    ) or (path.startswith("/api/v1/sessions"))


@dataclass
class World:
    """A service with one account per role, a session of the centre, one of another centre."""

    client: Client
    ids: dict[str, int]
    session_id: str
    invitation_id: str
    foreign_session_id: str
    still_id: str
    document_id: str


@pytest.fixture
async def world(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    new_database: NewDatabase,
) -> World:
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=await new_database())
    settings.console = ConsoleSettings(
        api_keys=[ApiKey(key=SecretStr(key), account=name) for key, name in KEYS.items()]
    )
    client = await aiohttp_client(create_app(settings))
    ids = {}
    async with client.app[appkeys.DB].begin() as db:
        for name, role in ACCOUNTS.items():
            account = await accounts.ensure_account(
                db, name, PASSWORD, display_name=name, role=role, position="PJSIP/1001"
            )
            ids[name] = account.id
        (await accounts.get_account_by_username(db, "ancien")).disabled = True  # type: ignore[union-attr]
    csrf = await sign_in(client, ids["regulateur"])
    session = await open_session(client, csrf)
    foreign = await open_session(client, csrf, "06 22 33 44 55")
    async with client.app[appkeys.DB].begin() as db:
        # Another centre, as the multi-centre model will have them.
        await db.execute(text("INSERT INTO centres (id, code, name) VALUES (2, 'autre', 'Autre')"))
        await db.execute(
            text("UPDATE visio_sessions SET centre_id = 2 WHERE id = :id"), {"id": foreign["id"]}
        )
    still = await client.app[appkeys.STILLS].keep(session["id"], Actor("regulateur"), b"\xff\xd8")
    document = await client.app[appkeys.DOCUMENTS].receive(
        session["id"],
        Actor("regulateur"),
        direction="to_patient",
        name="plan.pdf",
        chunks=_chunks(b"%PDF-1.7\n%%EOF\n"),
    )
    client.session.cookie_jar.clear()
    return World(
        client,
        ids,
        session["id"],
        session["invitations"][0]["id"],
        foreign["id"],
        still.id,
        document.id,
    )


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def sign_in(client: Client, account_id: int, position: str | None = "PJSIP/1001") -> str:
    """Open a console login of ``account_id`` and put it in the client's cookies; its CSRF
    token."""
    codec = client.app[appkeys.LOGIN_COOKIES]
    async with client.app[appkeys.DB].begin() as db:
        login_id = await console_logins.open_login(db, account_id, codec.max_age)
    session = codec.new(account_id, login_id, position)
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE_NAME: codec.dumps(session)})
    return session.csrf_token


def concrete(path: str, world: World, session_id: str | None = None) -> str:
    """A real URL for a declared path."""
    return (
        path.replace("{session_id}", session_id or world.session_id)
        .replace("{invitation_id}", world.invitation_id)
        .replace("{still_id}", world.still_id)
        .replace("{document_id}", world.document_id)
        .replace("{file_id}", world.still_id)
        .replace("{call_id}", "no-such-call")
        .replace("{language}", "fr")
        .replace("{centre_id}", "1")
        .replace("{account_id}", str(world.ids["regulateur"]))
    )


def _routes(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


async def _call(client: Client, method: str, url: str, headers: dict[str, str]) -> Any:
    # No body: an allowed request stops at validation (400), after authorization, changing nothing.
    return await client.request(method, url, headers=headers, allow_redirects=False)


def test_every_route_of_the_app_has_a_rule_and_every_rule_a_route(tmp_path: Path) -> None:
    routes = _routes(create_app(make_settings(tmp_path)))
    missing = sorted(route for route in routes if route_rule(*route) is None)
    assert missing == [], f"routes without an authorization rule: {missing}"
    assert set(ROUTES) - routes == set(), "rules of routes that no longer exist"


def test_every_socket_message_type_has_a_rule() -> None:
    assert set(CONSOLE_SOCKET) == (
        VIDEO_TYPES | TEXT_TYPES | REMOTE_TYPES | SCREEN_TYPES | LOCATION_TYPES | {"ping"}
    )
    union = [
        *typing.get_args(typing.get_args(signalling.PatientMessage)[0]),
        *typing.get_args(typing.get_args(screen.ScreenMessage)[0]),
        *typing.get_args(typing.get_args(reports.PageReport)[0]),
    ]
    patient_types = {typing.get_args(m.model_fields["type"].annotation)[0] for m in union}
    assert set(PATIENT_SOCKET) == patient_types
    assert all(rule.credential is Credential.LINK for rule in PATIENT_SOCKET.values())
    assert CAD_SOCKET == {}, "the CAD's events socket reads nothing"


async def test_given_each_role_when_calling_each_console_route_then_only_the_rule_lets_in(
    world: World,
) -> None:
    client = world.client
    for (method, path), rule in sorted(ROUTES.items()):
        if rule.credential is not Credential.CONSOLE or path == "/console/logout":
            continue
        assert rule.session == ("{session_id}" in path), (method, path)
        url = concrete(path, world)
        for name, role in ACCOUNTS.items():
            csrf = await sign_in(client, world.ids[name])
            response = await _call(client, method, url, {"X-CSRF-Token": csrf})
            allowed = _allowed(method, path)
            if name == "ancien":
                assert response.status == 401, (name, method, path)
            elif allowed is None or role in allowed:
                assert response.status not in (401, 403, 404), (name, method, path, response.status)
            else:
                assert response.status == 403, (name, method, path, response.status)
                assert (await response.json())["error_id"] == "forbidden"
        client.session.cookie_jar.clear()
        assert (await _call(client, method, url, {})).status == 401, (method, path)
    # Sign out last: it ends the login.
    for name in ("admin", "medecin"):
        csrf = await sign_in(client, world.ids[name])
        assert (await client.post("/console/logout", headers={"X-CSRF-Token": csrf})).status == 204


async def test_given_each_key_when_calling_each_cad_route_then_only_the_rule_lets_in(
    world: World,
) -> None:
    client = world.client
    client.session.cookie_jar.clear()
    for (method, path), rule in sorted(ROUTES.items()):
        if rule.credential is not Credential.API_KEY:
            continue
        assert rule.session == ("{session_id}" in path), (method, path)
        url = concrete(path, world)
        for key, name in KEYS.items():
            response = await _call(client, method, url, {"Authorization": f"Bearer {key}"})
            # A key acting for an account is never more than a regulator; a plain key reads
            # live calls only; a disabled account's key does nothing.
            role = ACCOUNTS[name] if name is not None and name != "ancien" else None
            allowed = not _for_regulating(path) if name is None else role in REGULATING
            if allowed:
                assert response.status not in (401, 403), (key, method, path, response.status)
            else:
                assert response.status == 403, (key, method, path, response.status)
        response = await _call(client, method, url, {"Authorization": "Bearer wrong"})
        assert response.status == 401, (method, path)


async def test_given_a_session_of_another_centre_then_it_is_answered_like_an_unknown_one(
    world: World,
) -> None:
    client = world.client
    session_routes = [(m, p, r) for (m, p), r in ROUTES.items() if r.session]
    assert session_routes, "no route acts on a session?"
    for method, path, rule in session_routes:
        if rule.credential is Credential.CONSOLE:
            headers = {"X-CSRF-Token": await sign_in(client, world.ids["medecin"])}
        else:
            client.session.cookie_jar.clear()
            headers = {"Authorization": "Bearer key-for-regulateur-0123456789"}
        foreign = await _call(
            client, method, concrete(path, world, world.foreign_session_id), headers
        )
        unknown = await _call(client, method, concrete(path, world, "0" * 32), headers)
        assert (foreign.status, await foreign.json()) == (unknown.status, await unknown.json())
        assert foreign.status == 404, (method, path)
    # And the history lists the centre's own sessions only.
    await sign_in(client, world.ids["medecin"])
    history = await (await client.get("/console/api/sessions")).json()
    assert world.foreign_session_id not in {s["id"] for s in history["sessions"]}
    assert world.session_id in {s["id"] for s in history["sessions"]}


async def test_given_a_console_when_watching_another_centres_session_then_unknown_session(
    world: World,
) -> None:
    client = world.client
    await sign_in(client, world.ids["medecin"])
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        replies = []
        for session_id in (world.foreign_session_id, "f" * 32):
            await ws.send_json({"type": "watch", "session_id": session_id})
            reply = await _reply(ws, "video.error")
            replies.append({**reply, "session_id": None})
        assert replies[0] == replies[1]
        assert replies[0]["error_id"] == "session_not_found"
        texts = []
        for session_id in (world.foreign_session_id, "f" * 32):
            await ws.send_json({"type": "text.send", "session_id": session_id, "text": "allô"})
            reply = await _reply(ws, "text.error")
            texts.append({**reply, "session_id": None})
        assert texts[0] == texts[1]
        assert texts[0]["error_id"] == "session_not_found"
        await ws.send_json({"type": "no-such-type"})
        assert (await _reply(ws, "error"))["error_id"] == "invalid_message"
        # A command to the caller's camera of another centre's session: unknown, never sent.
        command = {"type": "command", "v": 1, "id": "c", "name": "torch", "value": True}
        await ws.send_json(command | {"session_id": world.foreign_session_id})
        assert (await _reply(ws, "video.error"))["error_id"] == "session_not_found"
        # Sharing a screen with another centre's patient: unknown, nothing shared.
        for kind in ("screen.prepare", "screen.stop"):
            await ws.send_json({"type": kind, "session_id": world.foreign_session_id})
            assert (await _reply(ws, "screen.error"))["error_id"] == "session_not_found"
        await ws.send_json(
            {"type": "screen.start", "session_id": world.foreign_session_id, "sdp": "v=0"}
        )
        assert (await _reply(ws, "screen.error"))["error_id"] == "session_not_found"
        assert not client.app[appkeys.SCREEN_SHARES].active(world.foreign_session_id)


async def _reply(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` (the position's session updates may come first)."""
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=5)
        if message["type"] == kind:
            return message


async def test_given_an_admin_then_no_console_socket(world: World) -> None:
    client = world.client
    await sign_in(client, world.ids["admin"])
    response = await client.get("/console/ws", headers={"Origin": public_origin(client)})
    assert response.status == 403
    assert (await response.json())["error_id"] == "forbidden"
    assert REGULATING == SESSION_ROLES


async def test_given_cad_listeners_then_session_updates_reach_keys_of_the_sessions_centre_only(
    world: World,
) -> None:
    client = world.client
    client.session.cookie_jar.clear()
    service = client.app[appkeys.SESSION_SERVICE]
    registry = client.app[appkeys.REGISTRY]
    acting = await client.ws_connect(
        "/api/v1/events", headers={"Authorization": "Bearer key-for-regulateur-0123456789"}
    )
    plain = await client.ws_connect(
        "/api/v1/events", headers={"Authorization": "Bearer plain-key-0123456789"}
    )
    try:
        for ws in (acting, plain):
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        await service.record(world.foreign_session_id, Actor("system"), "note.added")
        await service.record(world.session_id, Actor("system"), "note.added")
        # A call event after both: what came before it on each socket is all it was sent.
        registry.apply(CallRinging("c9", "15", "+33612345678", "PJSIP/trunk-9", "c9", NOW))
        seen = [await _until_call(ws) for ws in (acting, plain)]
    finally:
        await acting.close()
        await plain.close()
    assert seen[0] == [world.session_id]
    assert seen[1] == []


async def _until_call(ws: Any) -> list[str]:
    """The sessions updated on ``ws`` before the next call event."""
    sessions: list[str] = []
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=5)
        if message["type"] == "call.ringing":
            return sessions
        if message["type"] == "session.updated":
            sessions.append(message["session"]["id"])
