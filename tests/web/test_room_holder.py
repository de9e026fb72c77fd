"""A room held by one instance among several: whatever instance a page's or a console's socket
reaches, the video, the texts and the stills go through the instance holding the room; a holder
that stops hands its rooms over, one that is gone loses them, one that lost its lease lets go."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer
from aiortc import RTCPeerConnection
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.media.peers import wait_until
from tests.store.conftest import (  # noqa: F401
    NewDatabase,
    _postgres_base_url,
    backend,
    new_database,
)
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.room_ownership import RoomHere, RoomThere
from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.web.forwarding import RELAY_HEADER

from .conftest import ClientFactory, login, make_settings, public_origin
from .helpers import add_regulator, event_types, events_of, free_port, wait_detail
from .patient import Client, gather_loopback, invite, open_page, publish, receive
from .test_console_video import Viewer, next_of
from .test_operations import _scrape

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.parametrize(
        "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
    ),
]

SECRET = "a cluster secret of at least thirty-two characters"


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only."""
    gather_loopback(monkeypatch)


async def _instances(
    aiohttp_client: ClientFactory, tmp_path: Path, url: str, names: list[str]
) -> list[Client]:
    """Instances on one database and one data folder, each at its own direct URL."""
    clients = []
    for name in names:
        port = free_port()
        settings = make_settings(tmp_path / name)
        settings.service.data_dir = tmp_path / "shared"
        settings.database = DatabaseSettings(url=url)
        settings.service.instance_id = name
        settings.service.direct_url = f"http://127.0.0.1:{port}"
        settings.service.cluster_secret = SecretStr(SECRET)
        server = TestServer(create_app(settings), port=port)
        clients.append(await aiohttp_client(server))  # type: ignore[arg-type]
    await add_regulator(clients[0].app)
    return clients


async def _holder(client: Client, session_id: str) -> str | None:
    async with client.app[appkeys.DB]() as db:
        holder = await db.scalar(
            text("SELECT instance FROM room_owners WHERE session_id = :s AND lease_until > now()"),
            {"s": session_id},
        )
    return str(holder) if holder else None


async def _closed_with(ws: Any) -> int | None:
    """Read the page's socket until it closes; its close code."""
    async with asyncio.timeout(20):
        while True:
            message = await ws.receive()
            if message.type is WSMsgType.CLOSE:
                return int(message.data)
            if message.type in (WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR):
                return None


async def test_given_a_room_held_by_one_instance_then_pages_and_consoles_of_the_other_reach_it(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    new_database: NewDatabase,  # noqa: F811
    peers: list[RTCPeerConnection],
) -> None:
    a, b = await _instances(aiohttp_client, tmp_path, await new_database(), ["visio-a", "visio-b"])
    session_id, token, csrf = await invite(a)
    await login(b)
    viewer_b, viewer_a = Viewer(), Viewer()
    async with (
        b.ws_connect("/console/ws", origin=public_origin(b)) as console_b,
        a.ws_connect("/console/ws", origin=public_origin(a)) as console_a,
    ):
        # The console on B watches first: B holds the room.
        await console_b.send_json({"type": "watch", "session_id": session_id})
        await viewer_b.answer(console_b, await next_of(console_b, "video.offer"))
        assert await _holder(a, session_id) == "visio-b"

        # The page reaches A: its socket is passed to B, where the room is.
        page = await open_page(a, token)
        peers.append(await publish(page))
        await wait_until(lambda: viewer_b.frames >= 5, what="frames on B's console")
        assert a.app[appkeys.ROOMS].find(session_id) is None
        assert b.app[appkeys.ROOMS].find(session_id) is not None

        # The console on A watches: its messages go to B, B's offer comes back through A.
        await console_a.send_json({"type": "watch", "session_id": session_id})
        offer = await next_of(console_a, "video.offer")
        await viewer_a.answer(console_a, offer)
        await wait_until(lambda: viewer_a.frames >= 5, what="frames on A's console")
        assert a.app[appkeys.ROOMS].find(session_id) is None

        # A text typed on A reaches the page held by B; a still taken on A is B's to take.
        await console_a.send_json(
            {"type": "text.send", "session_id": session_id, "text": "Montrez-moi la blessure"}
        )
        assert (await next_of(console_a, "text.accepted"))["event"]["type"] == "text.sent"
        while (shown := await receive(page))["type"] != "text":
            pass
        assert shown["text"] == "Montrez-moi la blessure"
        still = await a.post(
            f"/console/api/sessions/{session_id}/stills", headers={"X-CSRF-Token": csrf}
        )
        assert still.status == 201, await still.text()
        download = await a.get((await still.json())["url"])
        assert download.status == 200
        assert download.headers["Content-Type"] == "image/jpeg"

        # B stops (a rolling restart): it hands the room over and closes the page's socket;
        # the page reconnects through A, which holds the room now, and the consoles follow.
        await b.close()
        assert await _closed_with(page) == 1012
        left = await next_of(console_a, "video.left")
        assert (left["viewer_id"], left["reason"]) == (offer["viewer_id"], "moved")
        page = await open_page(a, token)
        assert (await receive(page))["text"] == "Montrez-moi la blessure"  # the newest, again
        peers.append(await publish(page))
        assert await _holder(a, session_id) == "visio-a"
        await console_a.send_json(
            {"type": "watch", "session_id": session_id, "publisher_id": "patient"}
        )
        again = Viewer()
        await again.answer(console_a, await next_of(console_a, "video.offer"))
        await wait_until(lambda: again.frames >= 5, what="frames on A's own room")
        await page.close()
        await again.close()
    await viewer_a.close()
    await viewer_b.close()
    body = await wait_detail(a, session_id, lambda b: "video.live" in event_types(b), "live")
    assert "video.moved" not in event_types(body)  # handed over, not taken from a dead one


async def test_given_a_holder_gone_without_a_word_then_the_page_takes_the_room_elsewhere(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    new_database: NewDatabase,  # noqa: F811
    peers: list[RTCPeerConnection],
) -> None:
    (a,) = await _instances(aiohttp_client, tmp_path, await new_database(), ["visio-a"])
    session_id, token, _csrf = await invite(a)
    # The holder's lease still runs, but nothing listens at its direct URL: killed (kill -9).
    async with a.app[appkeys.DB].begin() as db:
        await db.execute(
            text(
                "INSERT INTO room_owners VALUES "
                "(:s, 'visio-dead', :url, now(), now() + interval '1 minute')"
            ),
            {"s": session_id, "url": f"http://127.0.0.1:{free_port()}"},
        )
    ownership = a.app[appkeys.OWNERSHIP]
    assert isinstance(await ownership.claim(session_id), RoomThere)

    page = await open_page(a, token)
    peers.append(await publish(page))
    assert await _holder(a, session_id) == "visio-a"
    body = await wait_detail(a, session_id, lambda b: "video.moved" in event_types(b), "moved")
    (moved,) = events_of(body, "video.moved")
    assert moved["details"] == {"from_instance": "visio-dead", "to_instance": "visio-a"}
    await wait_detail(a, session_id, lambda b: "video.live" in event_types(b), "live again")
    await page.close()
    figures = await _scrape(a)
    assert figures[("visioregul_rooms_taken_over_total", ())] == 1
    assert figures[("visioregul_rooms_held", ())] == 1


async def test_given_a_holder_whose_room_was_taken_then_it_lets_the_page_go(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    new_database: NewDatabase,  # noqa: F811
    peers: list[RTCPeerConnection],
) -> None:
    # A partition: A could not renew, its lease ran out and another instance took the room.
    (a,) = await _instances(aiohttp_client, tmp_path, await new_database(), ["visio-a"])
    session_id, token, _csrf = await invite(a)
    page = await open_page(a, token)
    peers.append(await publish(page))
    assert isinstance(await a.app[appkeys.OWNERSHIP].claim(session_id), RoomHere)
    async with a.app[appkeys.DB].begin() as db:
        await db.execute(
            text("UPDATE room_owners SET instance = 'visio-b' WHERE session_id = :s"),
            {"s": session_id},
        )
    # At its next renewal A finds the room gone: it closes it and lets the page go.
    assert await _closed_with(page) == 1012
    assert a.app[appkeys.ROOMS].find(session_id) is None
    figures = await _scrape(a)
    assert figures[("visioregul_rooms_lost_total", ())] == 1
    assert figures[("visioregul_rooms_held", ())] == 0


async def test_given_a_forged_relay_header_then_refused(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    new_database: NewDatabase,  # noqa: F811
) -> None:
    (a,) = await _instances(aiohttp_client, tmp_path, await new_database(), ["visio-a"])
    forged = await a.get("/healthz", headers={RELAY_HEADER: "0" * 64})
    assert forged.status == 403
    internal = await a.get(
        "/internal/sessions/x/console", headers={"Origin": public_origin(a), "Upgrade": "websocket"}
    )
    assert internal.status == 403


async def test_given_a_holder_cut_from_postgresql_then_it_lets_its_rooms_go_before_its_lease_ends(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    new_database: NewDatabase,  # noqa: F811
    peers: list[RTCPeerConnection],
) -> None:
    (a,) = await _instances(aiohttp_client, tmp_path, await new_database(), ["visio-a"])
    session_id, token, _csrf = await invite(a)
    page = await open_page(a, token)
    peers.append(await publish(page))
    assert await _holder(a, session_id) == "visio-a"
    async with a.app[appkeys.DB]() as db:
        name = await db.scalar(text("SELECT current_database()"))
    admin = create_async_engine(
        _postgres_base_url(), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as server:
            # A partition: every connection of the instance gone, no new one taken.
            await server.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            try:
                await server.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                # Its leases cannot be renewed: it closes the room before another may take it,
                # and says it takes no new work.
                assert await _closed_with(page) == 1012
                assert a.app[appkeys.ROOMS].find(session_id) is None
                ready = await a.get("/readyz")
                assert ready.status == 503
                assert (await ready.json())["database"] == "down"
            finally:
                await server.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
    finally:
        await admin.dispose()
    # PostgreSQL reachable again: the page's reconnection finds the room free and makes it here.
    page = await open_page(a, token)
    peers.append(await publish(page))
    assert await _holder(a, session_id) == "visio-a"
    await page.close()


async def test_given_a_console_sending_a_hostile_session_id_then_its_socket_stays_open(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    new_database: NewDatabase,  # noqa: F811
) -> None:
    (a,) = await _instances(aiohttp_client, tmp_path, await new_database(), ["visio-a"])
    await login(a)
    async with a.ws_connect("/console/ws", origin=public_origin(a)) as console:
        for session_id, kind, error_id in (
            ("a\x00b", "error", "invalid_message"),
            ("x" * 65, "error", "invalid_message"),
            ("0" * 32, "video.error", "session_not_found"),
        ):
            await console.send_json({"type": "watch", "session_id": session_id})
            assert (await next_of(console, kind))["error_id"] == error_id
        await console.send_json({"type": "ping"})
        assert (await next_of(console, "pong"))["type"] == "pong"
