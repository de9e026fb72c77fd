"""Links fetched by robots before the person, and links taken over from another browser.

The robots are real HTTP clients fetching the way link previewers and mail scanners do: GET and
HEAD, no cookie kept, no script run, each from its own address (a connection bound to another
loopback address, not a forged header). The people are aiohttp sessions with their own cookie
jars, talking on the page's socket as its script does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection

from .conftest import public_origin
from .helpers import event_types, events_of, wait_detail
from .patient import (
    fetch_like_robots,
    gather_loopback,
    invite,
    open_page,
    publish,
    receive,
    wait_bound,
)

Client = TestClient[web.Request, web.Application]

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only (aioice skips loopback when gathering; tests run offline)."""
    gather_loopback(monkeypatch)


@pytest.fixture
async def browsers(client: Client) -> AsyncIterator[list[aiohttp.ClientSession]]:
    """Three browsers of their own (each its own cookies), closed after the test."""
    # ``unsafe``: keep cookies of an IP address (the test server is 127.0.0.1), as browsers do.
    sessions = [
        aiohttp.ClientSession(str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True))
        for _ in range(3)
    ]
    try:
        yield sessions
    finally:
        await asyncio.gather(*(session.close() for session in sessions))


async def test_given_link_previewers_first_then_nothing_recorded_and_the_patient_gets_in(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, token, _ = await invite(client)
    url = str(client.make_url(f"/p/{token}"))
    await wait_detail(client, session_id, lambda b: b["state"] == "invited", "invited")

    fetched = await fetch_like_robots(url)
    assert {status for _, status, _ in fetched} == {200}
    assert sum("montrer la scène en vidéo" in body for _, _, body in fetched) == 10  # the GETs
    body = await wait_detail(client, session_id, lambda b: True, "the session")
    assert body["state"] == "invited"
    assert not [kind for kind in event_types(body) if kind.startswith("link.")]
    assert body["invitations"][0]["opened_at"] is None

    # The patient's browser opens the page and sends the video: the link becomes its own.
    ws = await open_page(client, token)
    body = await wait_detail(client, session_id, lambda b: b["state"] == "link_opened", "opened")
    assert events_of(body, "link.opened")[0]["actor"] == "patient"
    peers.append(await publish(ws))
    await wait_detail(client, session_id, lambda b: b["state"] == "video_live", "live", 10)
    await wait_bound(client, token)

    # Robots coming afterwards get the refusal, and still record nothing.
    before = event_types(await wait_detail(client, session_id, lambda b: True, "the session"))
    assert {status for _, status, _ in await fetch_like_robots(url)} == {404}
    after = event_types(await wait_detail(client, session_id, lambda b: True, "the session"))
    assert after == before
    # The patient's own browser still gets its page (a reload).
    assert (await client.get(f"/p/{token}")).status == 200
    await ws.close()


async def assert_closed(ws: aiohttp.ClientWebSocketResponse, code: int) -> None:
    """The socket closes with ``code`` (any message before it is skipped)."""
    while True:
        message = await asyncio.wait_for(ws.receive(), 5)
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED):
            assert message.data == code, message
            return


async def open_in(
    browser: aiohttp.ClientSession, token: str, origin: str
) -> aiohttp.ClientWebSocketResponse:
    """Fetch the page in ``browser`` and connect its socket, as the page's script does (a
    browser sends the page's ``Origin``)."""
    async with browser.get(f"/p/{token}") as page:
        assert page.status == 200
    ws = await browser.ws_connect(f"/p/{token}/ws", origin=origin)
    welcome = await receive(ws)
    assert welcome["type"] == "welcome", welcome
    return ws


async def test_given_an_in_app_view_then_another_browser_takes_the_link_over_until_the_video(
    client: Client, peers: list[RTCPeerConnection], browsers: list[aiohttp.ClientSession]
) -> None:
    in_app, chrome, third = browsers
    session_id, token, _ = await invite(client)
    origin = public_origin(client)

    # The e-mail app's in-app view opens the link and its page connects.
    first = await open_in(in_app, token, origin)
    await wait_detail(client, session_id, lambda b: b["state"] == "link_opened", "opened")

    # The patient goes on to Chrome: the in-app view is told, and stops.
    second = await open_in(chrome, token, origin)
    assert await receive(first) == {"type": "taken_over"}
    await assert_closed(first, 4409)
    body = await wait_detail(
        client, session_id, lambda b: "link.taken_over" in event_types(b), "taken over"
    )
    assert [k for k in event_types(body) if k.startswith("link.")] == [
        "link.opened",
        "link.taken_over",
    ]
    assert events_of(body, "link.taken_over")[0]["actor"] == "patient"

    # Until a video is published, the first browser could take it back (and back again).
    back = await open_in(in_app, token, origin)
    assert await receive(second) == {"type": "taken_over"}
    await assert_closed(second, 4409)
    second = await open_in(chrome, token, origin)
    await assert_closed(back, 4409)

    # Chrome sends the video: the link is Chrome's for good.
    peers.append(await publish(second))
    await wait_detail(client, session_id, lambda b: b["state"] == "video_live", "live", 10)
    await wait_bound(client, token)

    # Any other browser is refused now: the page and its socket.
    for browser in (in_app, third):
        async with browser.get(f"/p/{token}") as refused:
            assert refused.status == 404
            assert "Ce lien n'est plus valable" in await refused.text()
        await assert_closed(await browser.ws_connect(f"/p/{token}/ws", origin=origin), 4401)
    body = await wait_detail(client, session_id, lambda b: True, "the session")
    reasons = [event["details"]["reason"] for event in events_of(body, "link.refused")]
    assert reasons == ["other_device", "other_device"]
    assert body["state"] == "video_live"

    # Chrome itself reconnects without a word in the timeline.
    await second.close()
    again = await chrome.ws_connect(f"/p/{token}/ws", origin=origin)
    assert (await receive(again))["type"] == "welcome"
    await again.close()
    after = await wait_detail(client, session_id, lambda b: True, "the session")
    assert event_types(after) == event_types(body)
