"""The reverse geocoder against a local stand-in of the provider, at its HTTP boundary."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from visioregul.integration.geocoding import ReverseGeocoder
from visioregul.integration.settings import GeocodingSettings

LABEL = "8 Boulevard du Port 80000 Amiens"
ANSWER = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [2.29, 49.89]},
            "properties": {"label": LABEL, "score": 0.99},
        }
    ],
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Provider:
    """The stand-in: records each request's query, answers with ``handler``."""

    server: TestServer
    queries: list[dict[str, str]] = field(default_factory=list)
    handler: Handler | None = None

    @property
    def url(self) -> str:
        return str(self.server.make_url("/geocodage/reverse"))


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    app = web.Application()
    holder: list[Provider] = []

    async def reverse(request: web.Request) -> web.StreamResponse:
        stand_in = holder[0]
        stand_in.queries.append(dict(request.query))
        if stand_in.handler is not None:
            return await stand_in.handler(request)
        return web.json_response(ANSWER)

    app.router.add_get("/geocodage/reverse", reverse)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    holder.append(Provider(server))
    yield holder[0]
    await server.close()


def _geocoder(provider: Provider, **settings: object) -> ReverseGeocoder:
    return ReverseGeocoder(GeocodingSettings(url=provider.url, **settings))  # type: ignore[arg-type]


async def test_given_the_provider_answers_then_the_label_and_the_exact_query(
    provider: Provider,
) -> None:
    geocoder = _geocoder(provider)
    try:
        assert await geocoder.address(49.894067, 2.295753) == LABEL
    finally:
        await geocoder.close()
    assert provider.queries == [
        {"lon": "2.295753", "lat": "49.894067", "limit": "1", "index": "address"}
    ]


async def test_given_a_slow_provider_when_the_timeout_passes_then_coordinates_only(
    provider: Provider,
) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response(ANSWER)

    provider.handler = slow
    geocoder = _geocoder(provider, timeout=0.2)
    try:
        assert await asyncio.wait_for(geocoder.address(48.85, 2.35), 5) is None
    finally:
        release.set()
        await geocoder.close()


@pytest.mark.parametrize(
    "answer",
    [
        web.Response(status=500, text="boom"),
        web.Response(status=429, headers={"Retry-After": "5"}),
        web.Response(text="{not json", content_type="application/json"),
        web.json_response({"type": "FeatureCollection", "features": []}),
        web.json_response({"features": [{"properties": {"label": 42}}]}),
        web.json_response([1, 2, 3]),
    ],
    ids=["http-500", "http-429", "bad-json", "no-feature", "label-not-text", "not-an-object"],
)
async def test_given_a_failing_provider_then_no_address(
    provider: Provider, answer: web.Response
) -> None:
    async def failing(request: web.Request) -> web.StreamResponse:
        return answer

    provider.handler = failing
    geocoder = _geocoder(provider)
    try:
        assert await geocoder.address(48.85, 2.35) is None
    finally:
        await geocoder.close()
    assert len(provider.queries) == 1


async def test_given_geocoding_disabled_then_no_request_is_made(provider: Provider) -> None:
    geocoder = _geocoder(provider, enabled=False)
    try:
        assert await geocoder.address(48.85, 2.35) is None
    finally:
        await geocoder.close()
    assert provider.queries == []


async def test_given_the_rate_limit_reached_then_the_next_fix_goes_without_address(
    provider: Provider,
) -> None:
    geocoder = _geocoder(provider, per_second=2)
    try:
        results = [await geocoder.address(48.85, 2.35) for _ in range(3)]
    finally:
        await geocoder.close()
    assert results == [LABEL, LABEL, None]
    assert len(provider.queries) == 2


async def test_given_no_provider_listening_then_no_address(provider: Provider) -> None:
    url = provider.url
    await provider.server.close()
    geocoder = ReverseGeocoder(GeocodingSettings(url=url))
    try:
        assert await geocoder.address(48.85, 2.35) is None
    finally:
        await geocoder.close()
