"""Rooms across three instances behind nginx: a page and a console that the load balancer sends
anywhere see the video through the room's holder; the holder killed with ``kill -9``, the video
comes back on another instance; a rolling restart of every instance keeps the room, and every
request but the sockets that reconnect by themselves succeeds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from .clients import SyntheticConsole, SyntheticPage, invite, signed_in
from .harness import Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]


async def holder_of(visio: Cluster, session_id: str) -> str | None:
    """The instance whose lease on the session's room runs."""
    engine = create_async_engine(visio.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as db:
            holder = await db.scalar(
                text(
                    "SELECT instance FROM room_owners WHERE session_id = :s AND lease_until > now()"
                ),
                {"s": session_id},
            )
    finally:
        await engine.dispose()
    return str(holder) if holder else None


async def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    """Wait until ``check()`` (maybe a coroutine function) is true."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(what)  # pragma: no cover - the timeout raises first


async def balanced_to(http: aiohttp.ClientSession, visio: Cluster, name: str) -> None:
    """Until the load balancer sends requests to ``name`` again (as the documented rolling
    restart waits for: nginx tries an instance it saw fail again after its ``fail_timeout``)."""

    async def served_by_it() -> bool:
        before = len(visio.served())
        await http.get(f"{visio.lb_url}/healthz")
        ((status, tried, _request),) = await visio.served_since(before, 1)
        return status == 200 and tried[-1] == name

    await until(served_by_it, f"{name} served through the load balancer", timeout=60)


async def timeline(http: aiohttp.ClientSession, visio: Cluster, session_id: str) -> list[str]:
    """The session's event types, through the load balancer."""
    response = await http.get(f"{visio.lb_url}/console/api/sessions/{session_id}")
    assert response.status == 200, await response.text()
    return [event["type"] for event in (await response.json())["timeline"]]


async def live_room(
    http: aiohttp.ClientSession, visio: Cluster
) -> tuple[str, SyntheticPage, SyntheticConsole]:
    """A session whose patient sends video that the console receives, through the balancer."""
    csrf = await signed_in(http, visio.lb_url)
    session_id, token = await invite(http, visio.lb_url, csrf)
    console = SyntheticConsole(http, visio.lb_url, session_id)
    page = SyntheticPage(visio.lb_url, token)
    await console.start()
    await page.start()
    await until(lambda: len(console.frames) >= 10, "frames on the console")
    return session_id, page, console


async def test_given_the_holder_killed_then_the_video_comes_back_on_another_instance(
    cluster: Cluster,
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        session_id, page, console = await live_room(http, cluster)
        try:
            holder = await holder_of(cluster, session_id)
            assert holder in cluster.names

            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            await cluster.kill(holder)
            await until(
                lambda: len(console.new_frames_since(killed_at)) >= 10,
                "frames on the console after the holder was killed",
            )
            moved_to = await holder_of(cluster, session_id)
            assert moved_to not in (None, holder)
            assert page.welcomes >= 2  # the page connected again, to the new holder
            events = await timeline(http, cluster, session_id)
            assert "video.moved" in events
            assert events.count("video.live") >= 1
        finally:
            await page.close()
            await console.close()


async def test_given_a_rolling_restart_then_the_room_lives_on_and_no_request_fails(
    cluster: Cluster,
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        session_id, page, console = await live_room(http, cluster)
        failures: list[str] = []
        requests = 0
        stop = asyncio.Event()

        async def keep_asking() -> None:
            # What a console does all shift: its session's detail and the history.
            nonlocal requests
            while not stop.is_set():
                for path in (f"/console/api/sessions/{session_id}", "/console/api/sessions"):
                    response = await http.get(f"{cluster.lb_url}{path}")
                    requests += 1
                    if response.status != 200:
                        failures.append(f"{path}: {response.status}")
                await asyncio.sleep(0.05)

        asker = asyncio.create_task(keep_asking())
        try:
            loop = asyncio.get_running_loop()
            for name in cluster.names:
                # One instance at a time, as systemd restarts it: SIGTERM, start, ready.
                assert await cluster.stop(name) == 0
                await cluster.start(name)
                await cluster.wait_ready(name)
                await balanced_to(http, cluster, name)
                restarted_at = loop.time()
                await until(
                    lambda at=restarted_at: len(console.frames_since(at)) >= 10,  # type: ignore[misc]
                    f"frames on the console after {name} restarted",
                )
            stop.set()
            await asker
            assert failures == []
            assert requests > 20
            assert await holder_of(cluster, session_id) in cluster.names
            events = await timeline(http, cluster, session_id)
            assert "video.moved" not in events  # handed over each time, never taken from the dead
            assert events[-1] != "session.ended"
        finally:
            stop.set()
            asker.cancel()
            await page.close()
            await console.close()
