"""The technical test page: ``/test`` (before any session) and ``/p/<token>/test`` (from a link).

The page checks the phone's camera, then publishes it to a throw-away peer of the service
(``POST /test/offer``, :class:`visioregul.media.network_test.NetworkTestPeers`) and measures the
connection from its side, then gives a verdict. Opened from a link, the page sends its result to
``POST /p/<token>/test/result`` and the session's log gets a ``test.result`` event that the
regulator reads in the room's timeline.

Public endpoints take the same care as the others: JSON bodies only, bounded in size, from the
service's own origin (a cross-site form cannot post JSON, and its ``Origin`` is refused), and a
rate limit per client address; an offer with audio is refused like a room's.
"""

from __future__ import annotations

import html
import json
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from visioregul.integration import appkeys
from visioregul.integration.client_address import client_address
from visioregul.integration.errors import DomainError
from visioregul.integration.language import browser_language
from visioregul.integration.ratelimit import RateLimitExceeded
from visioregul.integration.sessions.journal import Actor

from .http import DEVICE_COOKIE
from .http import _render as render_page

__all__ = ["TEST_RESULT", "TestResult", "routes"]

routes = web.RouteTableDef()

TEST_RESULT = "test.result"
"""The event a test run from a link adds to its session's log."""
_MAX_BODY = 64 * 1024
"""An offer with all its candidates stays well under this."""


class TestResult(BaseModel):
    """What the page measured, and its verdict."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["ready", "fragile", "photos"]
    camera: Literal["ok", "denied", "unavailable"]
    width: int = Field(default=0, ge=0, le=10_000)
    height: int = Field(default=0, ge=0, le=10_000)
    torch: bool = False
    zoom: bool = False
    connected: bool = False
    connect_ms: int | None = Field(default=None, ge=0, le=120_000)
    rtt_ms: int | None = Field(default=None, ge=0, le=120_000)
    bitrate_kbps: int | None = Field(default=None, ge=0, le=1_000_000)
    loss_percent: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    relay: bool = False
    duration_ms: int = Field(default=0, ge=0, le=600_000)


class _Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=1, max_length=_MAX_BODY)


def _page(request: web.Request) -> web.Response:
    """The test page, with the ICE servers its peer connection uses (as the patient page's)."""
    response = render_page(request, "test.html", 200)
    rooms = request.app[appkeys.ROOMS]
    servers = json.dumps(rooms.browser_ice_servers("network-test"))
    assert response.text is not None
    response.text = response.text.replace('data-ice=""', f'data-ice="{html.escape(servers)}"', 1)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@routes.get("/test")
async def test_page(request: web.Request) -> web.StreamResponse:
    """The test page, usable before any session."""
    return _page(request)


@routes.get("/p/{token}/test")
async def link_test_page(request: web.Request) -> web.StreamResponse:
    """The test page opened from a link: its result joins the session's log."""
    access = await request.app[appkeys.SESSION_SERVICE].links.check(
        request.match_info["token"], request.cookies.get(DEVICE_COOKIE)
    )
    if access is None:
        return render_page(request, "link-refused.html", 404)
    return _page(request)


@routes.post("/test/offer")
async def test_offer(request: web.Request) -> web.StreamResponse:
    """Answer the page's offer with a throw-away peer (video only, closed after a few seconds)."""
    await _check_request(request)
    body = await _json(request)
    try:
        offer = _Offer.model_validate(body)
    except ValidationError:
        raise DomainError("testpage_offer") from None
    answer = await request.app[appkeys.TEST_PEERS].answer(offer.sdp)
    return web.json_response({"sdp": answer})


@routes.post("/p/{token}/test/result")
async def test_result(request: web.Request) -> web.StreamResponse:
    """The test's result, for the session of the link the page was opened from."""
    await _check_request(request)
    access = await request.app[appkeys.SESSION_SERVICE].links.check(
        request.match_info["token"], request.cookies.get(DEVICE_COOKIE)
    )
    if access is None:
        raise web.HTTPNotFound()
    body = await _json(request)
    try:
        result = TestResult.model_validate(body)
    except ValidationError:
        raise DomainError("invalid_test_result") from None
    await request.app[appkeys.SESSION_SERVICE].record(
        access.session_id, Actor(access.role), TEST_RESULT, result.model_dump(mode="json")
    )
    return web.json_response({"recorded": True})


async def _check_request(request: web.Request) -> None:
    """Same origin, JSON, within the rate limit of the client's address."""
    origin = request.headers.get("Origin")
    if origin is not None:
        public = urlsplit(request.app[appkeys.SETTINGS].service.public_url)
        try:
            seen = urlsplit(origin)
        except ValueError:
            seen = urlsplit("")
        allowed = {(public.scheme, public.netloc), (request.scheme, request.host)}
        if (seen.scheme, seen.netloc) not in allowed:
            raise web.HTTPForbidden(text="cross-origin request refused")
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="JSON only")
    try:
        await request.app[appkeys.TEST_LIMITER].hit(client_address(request))
    except RateLimitExceeded as error:
        catalogue = request.app[appkeys.CATALOGUE]
        message = catalogue.get(browser_language(request), "error.testpage_busy")
        raise web.HTTPTooManyRequests(
            text=json.dumps({"error_id": "testpage_busy", "message": message}),
            content_type="application/json",
            headers={"Retry-After": str(error.retry_after)},
        ) from None


async def _json(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=_MAX_BODY, actual_size=request.content_length)
    raw = await request.content.read(_MAX_BODY + 1)
    if len(raw) > _MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=_MAX_BODY, actual_size=len(raw))
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise DomainError("testpage_offer") from None
