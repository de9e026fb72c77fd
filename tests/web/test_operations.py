"""``/readyz`` and ``/metrics`` over real HTTP: what a load balancer and Prometheus read."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection
from prometheus_client.parser import text_string_to_metric_families

from visioregul.integration.app import create_app
from visioregul.integration.store.instance_lock import AnotherInstance, single_instance
from visioregul.integration.web import operations

from .conftest import ClientFactory, login, make_settings
from .patient import gather_loopback, open_page, publish
from .test_sessions import LINK, open_session, outbox

Client = TestClient[web.Request, web.Application]


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


async def _scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return _samples(await response.text())


async def test_given_a_started_service_then_it_is_ready_and_says_which_instance(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    settings.service.instance_id = "visio-a"
    client = await aiohttp_client(create_app(settings))

    response = await client.get("/readyz")

    assert response.status == 200
    assert await response.json() == {
        "status": "ready",
        "instance": "ready",
        "instance_id": "visio-a",
        "database": "up",
        "telephony": "up",
        "other_instances": "alone",
    }


async def test_given_a_stopping_service_then_it_is_no_longer_ready(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    # What the server runs first when it is asked to stop, before any socket closes.
    assert operations.stop_taking_work in client.app.on_shutdown
    await operations.stop_taking_work(client.app)

    response = await client.get("/readyz")

    assert response.status == 503
    body = await response.json()
    assert (body["status"], body["instance"]) == ("not_ready", "stopping")


async def test_given_asterisk_out_of_reach_then_the_instance_is_not_ready(
    aiohttp_client: ClientFactory, tmp_path: Path, unused_tcp_port: int
) -> None:
    settings = make_settings(tmp_path, source="ami")
    settings.telephony.ami.port = unused_tcp_port  # nothing listens there
    client = await aiohttp_client(create_app(settings))

    response = await client.get("/readyz")

    assert response.status == 503
    body = await response.json()
    assert (body["telephony"], body["database"], body["instance"]) == ("down", "up", "ready")


async def test_given_a_store_that_does_not_answer_then_the_instance_is_not_ready_until_it_does(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    # Another program holds SQLite's write lock: every transaction of the service waits.
    blocker = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["database"] == "down"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    for _ in range(100):  # the check's own query ends once the lock is gone
        response = await client.get("/readyz")
        if response.status == 200:
            break
        await asyncio.sleep(0.05)
    assert (await response.json())["database"] == "up"


async def test_given_a_session_with_video_then_the_metrics_count_it(
    client: Client, peers: list[RTCPeerConnection], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await _scrape(client)
    assert before[("visioregul_rooms", ())] == 0
    assert before[("visioregul_calls_seen_total", ())] == 0
    assert before[("visioregul_telephony_up", ())] == 1

    token = await login(client)
    assert (await open_session(client, token)).status == 201
    link = LINK.search((await outbox(client))[0]["text"])
    assert link is not None
    gather_loopback(monkeypatch)
    ws = await open_page(client, link.group(1))
    peers.append(await publish(ws))
    for _ in range(200):
        figures = await _scrape(client)
        if figures[("visioregul_relay_bytes_total", ())] > 0:
            break
        await asyncio.sleep(0.05)

    assert figures[("visioregul_rooms", ())] == 1
    assert figures[("visioregul_publishers", ())] == 1
    assert figures[("visioregul_relay_frames_total", ())] > 0
    assert (
        figures[("visioregul_relay_bytes_total", ())]
        > figures[("visioregul_relay_frames_total", ())]
    )
    assert figures[("visioregul_invitations_total", (("outcome", "simulated"),))] == 1
    assert figures[("visioregul_session_events_total", (("type", "session.created"),))] == 1
    assert ("visioregul_event_loop_lag_seconds_count", ()) in figures
    await ws.close()


async def test_given_an_address_not_allowed_then_metrics_are_refused_in_french(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    # Behind the centre's proxy (the test client's address), for a client elsewhere.
    settings.service.trusted_proxies = [IPv4Network("127.0.0.1/32")]
    settings.service.metrics_allow = [IPv4Network("10.1.2.0/24")]
    client = await aiohttp_client(create_app(settings))

    refused = await client.get(
        "/metrics", headers={"X-Forwarded-For": "203.0.113.9", "Accept-Language": "fr"}
    )
    allowed = await client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"})

    assert refused.status == 403
    assert (await refused.json())["message"] == "Accès refusé."
    assert allowed.status == 200


async def test_given_errors_logged_then_the_metrics_count_them_by_module(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(make_settings(tmp_path)))

    logging.getLogger("visioregul.integration.sessions.delivery").error("gateway refused")

    figures = await _scrape(client)
    assert (
        figures[("visioregul_errors_total", (("source", "visioregul.integration.sessions"),))] == 1
    )


def test_given_a_sqlite_database_served_when_a_second_instance_starts_then_it_is_refused(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    with (
        single_instance(url),
        pytest.raises(AnotherInstance, match="several instances need PostgreSQL"),
        single_instance(url),
    ):
        pass
    with single_instance(url):  # released when the first instance stops
        pass
