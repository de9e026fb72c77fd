"""What the CAD reaches is its centre's: API keys, deep-link issuers and webhooks each belong to
one centre, and nothing of another centre's sessions reaches them.

Two centres on one installation: ``default`` (the migration's) and ``samu31``. Each test runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from tests.store.conftest import NewDatabase
from visioregul.integration import accounts, audit
from visioregul.integration.app import create_app
from visioregul.integration.centre_codes import UnknownCentreCode
from visioregul.integration.sessions.services import Actor
from visioregul.integration.settings import (
    ApiKey,
    CadIssuer,
    CadLinkSettings,
    CentreSettings,
    ConsoleSettings,
    DatabaseSettings,
    Settings,
    TelephonySettings,
    WebhookEndpoint,
    WebhookSettings,
)
from visioregul.integration.store.db import create_engine, make_sessionmaker, upgrade
from visioregul.integration.store.models import Role
from visioregul.integration.telephony.events import CallRinging
from visioregul.integration.web import appkeys

from .conftest import PASSWORD, ClientFactory, make_settings
from .test_cad_link import SECRET as CAD_SECRET
from .test_cad_link import mint, open_link
from .test_cad_webhooks import SECRET as WEBHOOK_SECRET
from .test_cad_webhooks import Receiver, serve, until

Client = TestClient[web.Request, web.Application]

KEY_A = "key-of-centre-a-0123456789"
"""Acts for ``regulateur``, of the default centre."""
KEY_B = "key-of-centre-b-0123456789"
"""Acts for ``regulatrice31``, of ``samu31``."""
PLAIN_A = "plain-key-of-a-0123456789"
PLAIN_B = "plain-key-of-b-0123456789"
MISMATCHED = "key-naming-a-wrong-centre-0123"
"""Acts for ``regulateur`` (default centre) but says ``samu31``: it can do nothing."""


async def two_centres(new_database: NewDatabase) -> str:
    """A database at the newest schema with a second centre, ``samu31`` (id 2)."""
    url = await new_database()
    await upgrade(url)
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with make_sessionmaker(engine).begin() as db:
            await db.execute(
                text("INSERT INTO centres (id, code, name) VALUES (2, 'samu31', 'SAMU 31')")
            )
    finally:
        await engine.dispose()
    return url


def scoped_settings(tmp_path: Path, url: str) -> Settings:
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=url)
    # Calls on the 1531 line are samu31's; those on 15 the default centre's.
    settings.telephony = TelephonySettings(source="none", lines=["15", "1531"])
    settings.centres = [CentreSettings(code="samu31", name="SAMU 31", lines=["1531"])]
    settings.console = ConsoleSettings(
        api_keys=[
            ApiKey(key=SecretStr(KEY_A), account="regulateur"),
            ApiKey(key=SecretStr(KEY_B), account="regulatrice31", centre="samu31"),
            ApiKey(key=SecretStr(PLAIN_A)),
            ApiKey(key=SecretStr(PLAIN_B), centre="samu31"),
            ApiKey(key=SecretStr(MISMATCHED), account="regulateur", centre="samu31"),
        ]
    )
    return settings


async def with_regulators(client: Client) -> Client:
    """``regulateur`` in the default centre, ``regulatrice31`` in ``samu31``."""
    async with client.app[appkeys.DB].begin() as db:
        for username in ("regulateur", "regulatrice31"):
            account = await accounts.ensure_account(
                db,
                username,
                PASSWORD,
                display_name=username,
                role=Role.REGULATOR,
                position="PJSIP/1001",
                positions=["PJSIP/1001", "PJSIP/1002"],
            )
            if username == "regulatrice31":
                account.centre_id = 2
    return client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_session(client: Client, key: str, number: str = "0612345678") -> str:
    response = await client.post(
        "/api/v1/sessions", json={"destination": number}, headers=bearer(key)
    )
    assert response.status == 201, await response.text()
    session_id: str = (await response.json())["id"]
    # The invitation is sent in the background: let it finish before the test goes on.
    deadline = time.monotonic() + 10
    while True:
        response = await client.get(f"/api/v1/sessions/{session_id}", headers=bearer(key))
        timeline = (await response.json())["timeline"]
        if "invitation.simulated" in {event["type"] for event in timeline}:
            return session_id
        assert time.monotonic() < deadline, timeline
        await asyncio.sleep(0.02)


async def move_to_samu31(client: Client, session_id: str) -> None:
    """Make ``session_id`` a session of ``samu31`` (as a call of its line will)."""
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(
            text("UPDATE visio_sessions SET centre_id = 2 WHERE id = :id"), {"id": session_id}
        )


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: NewDatabase
) -> Client:
    url = await two_centres(new_database)
    return await with_regulators(await aiohttp_client(create_app(scoped_settings(tmp_path, url))))


async def test_given_a_key_of_centre_a_then_centre_bs_session_is_answered_like_an_unknown_one(
    client: Client,
) -> None:
    mine = await create_session(client, KEY_A)
    theirs = await create_session(client, KEY_A, "0622334455")
    await move_to_samu31(client, theirs)
    for path in ("", "/report.pdf", "/files"):
        foreign = await client.get(f"/api/v1/sessions/{theirs}{path}", headers=bearer(KEY_A))
        unknown = await client.get(f"/api/v1/sessions/{'0' * 32}{path}", headers=bearer(KEY_A))
        assert foreign.status == unknown.status == 404, path
        assert await foreign.json() == await unknown.json()
    assert (await client.get(f"/api/v1/sessions/{mine}", headers=bearer(KEY_A))).status == 200
    assert (await client.get(f"/api/v1/sessions/{theirs}", headers=bearer(KEY_B))).status == 200
    # Each key's list holds its own centre's sessions only.
    for key, own, other in ((KEY_A, mine, theirs), (KEY_B, theirs, mine)):
        listed = await (await client.get("/api/v1/sessions", headers=bearer(key))).json()
        ids = {session["id"] for session in listed["sessions"]}
        assert own in ids and other not in ids


async def test_given_plain_keys_then_they_read_calls_of_their_centre_and_no_session(
    client: Client,
) -> None:
    session_id = await create_session(client, KEY_A)
    registry = client.app[appkeys.REGISTRY]
    for call_id, line in (("c5", "15"), ("c6", "1531")):
        registry.apply(
            CallRinging(call_id, line, "+33612345678", "PJSIP/trunk-5", call_id, datetime.now(UTC))
        )
    for key, own, other in ((PLAIN_A, "c5", "c6"), (PLAIN_B, "c6", "c5")):
        response = await client.get("/api/v1/calls", headers=bearer(key))
        assert [call["call_id"] for call in (await response.json())["calls"]] == [own]
        assert (await client.get(f"/api/v1/calls/{own}", headers=bearer(key))).status == 200
        assert (await client.get(f"/api/v1/calls/{other}", headers=bearer(key))).status == 404
        response = await client.get(f"/api/v1/sessions/{session_id}", headers=bearer(key))
        assert response.status == 403
        assert (await client.get("/api/v1/sessions", headers=bearer(key))).status == 403
    # Each plain key listens as its own centre.
    sockets = [
        await client.ws_connect("/api/v1/events", headers=bearer(key)) for key in (PLAIN_A, PLAIN_B)
    ]
    try:
        for ws in sockets:
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        centres = sorted((c.centre_id, c.sessions) for c in client.app[appkeys.NOTIFIER].cad)
        assert centres == [(1, False), (2, False)]
    finally:
        for ws in sockets:
            await ws.close()


async def test_given_a_key_naming_another_centre_than_its_accounts_then_it_does_nothing(
    client: Client,
) -> None:
    response = await client.get("/api/v1/sessions", headers=bearer(MISMATCHED))
    assert response.status == 403
    assert (await client.get("/api/v1/calls", headers=bearer(MISMATCHED))).status == 403


async def test_given_cad_sockets_of_two_centres_then_each_hears_its_own_sessions_only(
    client: Client,
) -> None:
    ours = await create_session(client, KEY_A)
    theirs = await create_session(client, KEY_A, "0622334455")
    await move_to_samu31(client, theirs)
    service = client.app[appkeys.SESSION_SERVICE]
    registry = client.app[appkeys.REGISTRY]
    sockets = {
        key: await client.ws_connect("/api/v1/events", headers=bearer(key))
        for key in (KEY_A, KEY_B, PLAIN_B)
    }
    try:
        for ws in sockets.values():
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        await service.record(theirs, Actor("system"), "note.added")
        await service.record(ours, Actor("system"), "note.added")
        # A call of each centre after both: what came before it on each socket is all it was
        # sent (each socket hears its own centre's call only).
        for call_id, line in (("c7", "15"), ("c8", "1531")):
            registry.apply(
                CallRinging(
                    call_id, line, "+33612345678", "PJSIP/trunk-7", call_id, datetime.now(UTC)
                )
            )
        seen = {key: await _sessions_before_call(ws) for key, ws in sockets.items()}
    finally:
        for ws in sockets.values():
            await ws.close()
    assert seen == {KEY_A: [ours], KEY_B: [theirs], PLAIN_B: []}


async def _sessions_before_call(ws: Any) -> list[str]:
    sessions: list[str] = []
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=5)
        if message["type"] == "call.ringing":
            return sessions
        if message["type"] == "session.updated":
            sessions.append(message["session"]["id"])


@pytest.mark.parametrize(
    "settings_of",
    [
        lambda s: s.console.api_keys.append(ApiKey(key=SecretStr("k" * 20), centre="samu13")),
        lambda s: setattr(
            s,
            "cad_link",
            CadLinkSettings(
                issuers=[CadIssuer(issuer="cad", secret=SecretStr("s" * 32), centre="samu13")]
            ),
        ),
        lambda s: setattr(
            s,
            "webhooks",
            WebhookSettings(
                endpoints=[WebhookEndpoint(url="http://127.0.0.1:9/h", centre="samu13")],
                secret=SecretStr("x"),
            ),
        ),
    ],
)
async def test_given_settings_naming_an_unknown_centre_then_the_service_does_not_start(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: NewDatabase, settings_of: Any
) -> None:
    settings = scoped_settings(tmp_path, await two_centres(new_database))
    settings_of(settings)
    with pytest.raises(UnknownCentreCode, match="centres that do not exist: samu13"):
        await aiohttp_client(create_app(settings))


async def test_given_an_issuer_of_a_centre_then_it_signs_in_that_centres_regulators_only(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: NewDatabase
) -> None:
    settings = scoped_settings(tmp_path, await two_centres(new_database))
    settings.cad_link = CadLinkSettings(
        issuers=[CadIssuer(issuer="cad-samu-75", secret=SecretStr(CAD_SECRET), centre="samu31")]
    )
    client = await with_regulators(await aiohttp_client(create_app(settings)))
    # Another centre's regulator: the page of an unknown account, and the audit says why.
    refused = await open_link(client, mint(regulator="regulateur"))
    unknown = await open_link(client, mint(regulator="inconnu"))
    assert refused.status == unknown.status == 403
    assert await refused.text() == await unknown.text()
    assert "Set-Cookie" not in refused.headers
    assert (await client.get("/console/api/me")).status == 401
    async with client.app[appkeys.DB]() as db:
        entries = list(await audit.recent(db, action="console.cad_link_refused"))
    other = next(e for e in entries if e.details.get("sub") == "regulateur")
    assert other.details["reason"] == "unknown_account"
    assert other.details["issuer_centre"] == "samu31"
    assert other.details["other_centre"] is True
    # Its own centre's regulator comes in.
    response = await open_link(client, mint(regulator="regulatrice31"))
    assert response.status == 303
    me = await (await client.get("/console/api/me")).json()
    assert me["account"]["username"] == "regulatrice31"


async def test_given_webhook_endpoints_of_two_centres_then_each_hears_its_centres_sessions_only(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: NewDatabase
) -> None:
    default_receiver, samu31_receiver = Receiver(), Receiver()
    default_server = await serve(default_receiver)
    samu31_server = await serve(samu31_receiver)
    settings = scoped_settings(tmp_path, await two_centres(new_database))
    settings.webhooks = WebhookSettings(
        urls=[str(default_server.make_url("/hook"))],
        endpoints=[WebhookEndpoint(url=str(samu31_server.make_url("/hook")), centre="samu31")],
        secret=SecretStr(WEBHOOK_SECRET),
    )
    client = await with_regulators(await aiohttp_client(create_app(settings)))
    service = client.app[appkeys.SESSION_SERVICE]
    try:
        ours = await create_session(client, KEY_A)
        theirs = await create_session(client, KEY_A, "0622334455")
        await until(lambda: len(default_receiver.events) >= 6)
        await move_to_samu31(client, theirs)
        for session_id in (theirs, ours, theirs):
            await service.record(session_id, Actor("system"), "note.added")

        def notes(receiver: Receiver) -> list[str]:
            return [e["session_id"] for e in receiver.events if e["event"]["type"] == "note.added"]

        # Events keep their order per endpoint: once the last note arrived, the others would have.
        await until(lambda: len(notes(samu31_receiver)) >= 2)
        await until(lambda: notes(default_receiver) == [ours])
        assert notes(samu31_receiver) == [theirs, theirs]
        assert {e["session_id"] for e in samu31_receiver.events} == {theirs}
        assert default_receiver.bad_signatures == samu31_receiver.bad_signatures == 0
    finally:
        await default_server.close()
        await samu31_server.close()
