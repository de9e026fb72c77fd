"""Two instances on one PostgreSQL: a session event written by one reaches the consoles
connected to the other, through ``LISTEN/NOTIFY``; what must happen once stays with the writer."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.store.conftest import _postgres_base_url
from visioregul.integration import accounts, appkeys
from visioregul.integration.app import create_app
from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.store.models import Role, utcnow
from visioregul.integration.web import operations

from .conftest import PASSWORD, ClientFactory, login, make_settings, public_origin
from .test_sessions import open_session

Client = TestClient[web.Request, web.Application]

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def _instances(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    url: str,
    names: list[str],
    per_regulator_per_hour: int = 30,
) -> list[Client]:
    clients = []
    for name in names:
        settings = make_settings(tmp_path / name)
        settings.database = DatabaseSettings(url=url)
        settings.messaging.per_regulator_per_hour = per_regulator_per_hour
        settings.service.instance_id = name
        client = await aiohttp_client(create_app(settings))
        clients.append(client)
    async with clients[0].app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db,
            "regulateur",
            PASSWORD,
            display_name="Dr Martin",
            role=Role.REGULATOR,
            position="PJSIP/1001",
            positions=["PJSIP/1001"],
        )
    for client in clients:
        ready = await client.get("/readyz")
        assert (ready.status, (await ready.json())["other_instances"]) == (200, "heard")
    return clients


async def _next(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=10)
        if message["type"] == kind:
            return message


async def test_given_a_console_on_another_instance_then_it_follows_the_session_live(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: Any
) -> None:
    writer, reader = await _instances(
        aiohttp_client, tmp_path, await new_database(), ["visio-a", "visio-b"]
    )
    token = await login(writer)
    await login(reader)
    async with reader.ws_connect("/console/ws", origin=public_origin(reader)) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"

        response = await open_session(writer, token)
        assert response.status == 201
        session = await response.json()

        created = await _next(ws, "session.updated")
        assert created["session"]["id"] == session["id"]
        assert created["event"]["type"] == "session.created"
        # The events keep the order they were written in, the invitation's included.
        following = [created["event"]["type"]]
        while "invitation.simulated" not in following:
            following.append((await _next(ws, "session.updated"))["event"]["type"])
        assert following.index("session.created") < following.index("invitation.simulated")


async def test_given_events_written_elsewhere_then_only_the_writer_counts_them(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: Any
) -> None:
    writer, reader = await _instances(
        aiohttp_client, tmp_path, await new_database(), ["visio-a", "visio-b"]
    )
    token = await login(writer)
    heard = asyncio.Event()
    reader.app[appkeys.SESSION_SERVICE].listeners.append(
        lambda update: heard.set() if update.elsewhere else None
    )

    assert (await open_session(writer, token)).status == 201
    await heard.wait()

    def created(client: Client) -> float | None:
        registry = client.app[operations.METRICS].registry
        return registry.get_sample_value(
            "visioregul_session_events_total", {"type": "session.created"}
        )

    assert (created(writer), created(reader)) == (1, None)


async def test_given_a_client_spread_over_two_instances_then_the_link_limit_is_one(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: Any
) -> None:
    first, second = await _instances(
        aiohttp_client, tmp_path, await new_database(), ["visio-a", "visio-b"]
    )
    # A load balancer sending each request elsewhere: 30 guesses a minute in all, not 60.
    statuses = [
        (await (first if attempt % 2 else second).get(f"/p/guess-{attempt}")).status
        for attempt in range(31)
    ]

    assert statuses[:30] == [404] * 30
    assert statuses[30] == 429
    assert (await first.get("/p/another-guess")).status == 429


async def _readiness(client: Client, others: str) -> int:
    """Poll ``/readyz`` until it says ``others`` of the other instances; its status."""
    for _ in range(400):
        response = await client.get("/readyz")
        body = await response.json()
        if body["other_instances"] == others:
            return response.status
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never said {others}: {body}")


async def test_given_the_notices_connection_lost_then_not_ready_until_heard_again(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: Any
) -> None:
    (instance,) = await _instances(aiohttp_client, tmp_path, await new_database(), ["visio-a"])
    await login(instance)
    console = await instance.ws_connect("/console/ws", origin=public_origin(instance))
    assert (await console.receive_json(timeout=5))["type"] == "hello"
    # PostgreSQL drops the listening connection and takes no new one for a while (a restart,
    # a partition): the pool's open connections still answer.
    async with instance.app[appkeys.DB]() as db:
        name = await db.scalar(text("SELECT current_database()"))
    admin = create_async_engine(
        _postgres_base_url(), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as server:
            await server.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            try:
                ended = await server.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :name AND query LIKE 'LISTEN%'"
                    ),
                    {"name": name},
                )
                assert ended == 1
                assert await _readiness(instance, "unheard") == 503
            finally:
                await server.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
    finally:
        await admin.dispose()

    assert await _readiness(instance, "heard") == 200  # it listens again by itself
    # A console open meanwhile is told to read its sessions again (what it missed is stored).
    assert (await _next(console, "resync")) == {"type": "resync"}
    await console.close()


async def test_given_a_regulator_inviting_through_two_instances_then_one_limit_counts_both(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    new_database: Any,
) -> None:
    first, second = await _instances(
        aiohttp_client, tmp_path, await new_database(), ["visio-a", "visio-b"], 2
    )
    first_token, second_token = await login(first), await login(second)
    assert (await open_session(first, first_token, "06 12 34 56 01")).status == 201
    assert (await open_session(second, second_token, "06 12 34 56 02")).status == 201
    # A third invitation within the hour, through either instance: refused, in French.
    refused = await open_session(first, first_token, "06 12 34 56 03")
    assert refused.status == 429
    body = await refused.json()
    assert body["error_id"] == "too_many_invitations_regulator"
    assert "limite d'invitations" in body["message"]
    assert (await open_session(second, second_token, "06 12 34 56 04")).status == 429


async def test_given_a_send_in_progress_on_one_instance_then_the_others_leave_it_alone(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    new_database: Any,
) -> None:
    first, second = await _instances(
        aiohttp_client, tmp_path, await new_database(), ["visio-a", "visio-b"]
    )
    token = await login(first)
    session = await (await open_session(first, token)).json()
    invitation_id = session["invitations"][0]["id"]
    for _ in range(200):  # the outbox's send, done
        detail = await (await first.get(f"/console/api/sessions/{session['id']}")).json()
        if detail["invitations"][0]["delivery_status"] == "simulated":
            break
        await asyncio.sleep(0.05)
    # visio-a is sending it again right now (an SMS gateway slow to answer).
    async with first.app[appkeys.DB].begin() as db:
        await db.execute(
            text(
                "UPDATE invitations SET delivery_status = 'pending', "
                "sending_instance = 'visio-a', sending_since = :now WHERE id = :id"
            ),
            {"now": utcnow(), "id": invitation_id},
        )
    second_service = second.app[appkeys.SESSION_SERVICE]

    # A retry through visio-b sends nothing more; visio-b starting again does not call it
    # interrupted; the sweep for dead instances' sends leaves a fresh one alone.
    second_token = await login(second)
    retried = await second.post(
        f"/console/api/sessions/{session['id']}/invitations/{invitation_id}/retry",
        headers={"X-CSRF-Token": second_token},
    )
    assert retried.status == 202, await retried.text()
    assert (await retried.json())["delivery_status"] == "pending"
    async with second.app[appkeys.DB].begin() as db:
        await second_service._housekeeping.recover(db)
    assert await second_service.interrupted_elsewhere() == 0
    detail = await (await second.get(f"/console/api/sessions/{session['id']}")).json()
    assert detail["invitations"][0]["delivery_status"] == "pending"
    types = [event["type"] for event in detail["timeline"]]
    assert "invitation.retried" not in types and "invitation.failed" not in types

    # visio-a died while sending: minutes later, one instance says it was interrupted, once.
    async with first.app[appkeys.DB].begin() as db:
        await db.execute(
            text("UPDATE invitations SET sending_since = :then WHERE id = :id"),
            {"then": utcnow() - timedelta(minutes=3), "id": invitation_id},
        )
    counts = await asyncio.gather(
        second_service.interrupted_elsewhere(),
        first.app[appkeys.SESSION_SERVICE].interrupted_elsewhere(),
    )
    assert sorted(counts) == [0, 1]
    detail = await (await second.get(f"/console/api/sessions/{session['id']}")).json()
    assert detail["invitations"][0]["delivery_status"] == "failed"
    failed = [e for e in detail["timeline"] if e["type"] == "invitation.failed"]
    assert [e["details"]["error_id"] for e in failed] == ["interrupted"]
