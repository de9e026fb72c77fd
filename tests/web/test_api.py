"""The CAD API: keys, calls, the event stream, health and the OpenAPI description."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.settings import ApiKey, ConsoleSettings
from visioregul.integration.telephony.events import CallAnswered, CallRinging

from .conftest import CAD_KEY, ClientFactory, make_settings

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {CAD_KEY}"}


async def test_given_no_or_a_wrong_key_then_401(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {CAD_KEY}"}):
        response = await client.get("/api/v1/calls", headers=headers)
        assert response.status == 401
        assert (await response.json())["error_id"] == "unauthorized"


async def test_given_a_hashed_key_in_settings_then_the_key_works(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    digest = hashlib.sha256(b"another-key").hexdigest()
    settings.console = ConsoleSettings(api_keys=[ApiKey(key=SecretStr(f"sha256:{digest}"))])
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/v1/calls", headers={"Authorization": "Bearer another-key"})
    assert response.status == 200


async def test_calls_and_events(client: Client) -> None:
    registry = client.app[appkeys.REGISTRY]
    at = datetime.now(UTC)
    async with client.ws_connect("/api/v1/events", headers=AUTH) as ws:
        snapshot = await ws.receive_json(timeout=5)
        assert snapshot == {"type": "snapshot", "telephony": snapshot["telephony"], "calls": []}
        registry.apply(CallRinging("c1", "15", "0612345678", "PJSIP/trunk-1", "c1", at))
        registry.apply(CallAnswered("c1", "PJSIP/1001", at))
        first, second = await ws.receive_json(timeout=5), await ws.receive_json(timeout=5)
        assert [first["type"], second["type"]] == ["call.ringing", "call.answered"]
        assert second["call"]["position"] == "PJSIP/1001"
    body = await (await client.get("/api/v1/calls", headers=AUTH)).json()
    assert [call["call_id"] for call in body["calls"]] == ["c1"]
    body = await (await client.get("/api/v1/calls?position=PJSIP/1002", headers=AUTH)).json()
    assert body["calls"] == []
    call = await (await client.get("/api/v1/calls/c1", headers=AUTH)).json()
    assert call["caller"]["e164"] == "+33612345678"
    response = await client.get("/api/v1/calls/nope", headers=AUTH)
    assert response.status == 404
    assert (await response.json())["error_id"] == "call_not_found"


async def test_health_says_up_publicly_and_details_with_the_api_key(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "up"}
    response = await client.get("/healthz", headers={"Authorization": "Bearer wrong"})
    assert response.status == 401
    response = await client.get("/healthz", headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["database"] == "up"
    assert body["telephony"]["state"] == "disabled"
    assert body["status"] == "ok"


async def test_openapi_describes_every_api_route(client: Client) -> None:
    response = await client.get("/api/v1/openapi.yaml")
    assert response.status == 200
    document = yaml.safe_load(await response.text())
    assert document["openapi"].startswith("3.")
    described = set(document["paths"])
    served = {
        route.resource.canonical
        for route in client.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith(("/api/", "/healthz"))
    }
    assert served == described


async def test_unknown_api_path_gives_json_404(client: Client) -> None:
    response = await client.get("/api/v1/nope")
    assert response.status == 404
    assert (await response.json())["error_id"] == "not_found"


async def test_given_a_nul_character_in_the_url_then_a_clear_400_on_every_database(
    client: Client,
) -> None:
    # PostgreSQL refuses NUL in text: these were 500s there.
    for path in (
        "/api/v1/sessions/%00",
        "/api/v1/sessions?regulator=%00",
        "/api/v1/sessions?call_id=a%00b",
        "/api/v1/sessions?number=%2B33612345678%00",
        "/api/v1/calls/%00",
        "/api/v1/calls?position=%00",
    ):
        response = await client.get(path, headers={**AUTH, "Accept-Language": "en"})
        assert response.status == 400, path
        body = await response.json()
        assert body["error_id"] == "invalid_request", path
        assert body["message"] == "Invalid request: NUL character in the URL", path
    response = await client.get("/console/api/sessions/%00")
    assert response.status == 400
    assert (await response.json())["error_id"] == "invalid_request"
    # The patient's page answers as for any unknown link: it tells a guesser nothing.
    assert (await client.get("/p/%00")).status == 404


async def test_openapi_documents_the_400_of_every_authenticated_operation(client: Client) -> None:
    document = yaml.safe_load(await (await client.get("/api/v1/openapi.yaml")).text())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            assert "400" in operation["responses"], f"{method.upper()} {path}"


async def test_given_a_request_aiohttp_cannot_parse_then_400_and_one_warning_line(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """Client garbage on the public port: refused, logged as a warning, no traceback."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    assert status_line.split()[1:2] == [b"400"], status_line

    await asyncio.sleep(0.05)  # the log line follows the answer
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records, "the refusal is logged"
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in records), [
        (r.levelname, r.getMessage()) for r in records
    ]
    assert "malformed request" in records[0].getMessage()
