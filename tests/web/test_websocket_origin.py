"""Every WebSocket checks ``Origin`` against the public URL before the upgrade."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from .conftest import CAD_KEY, login, public_origin
from .patient import invite

Client = TestClient[web.Request, web.Application]

AUTH = {"Authorization": f"Bearer {CAD_KEY}"}
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def _refused(client: Client, path: str, headers: dict[str, str]) -> dict[str, object]:
    """The refusal of an upgrade: 403 and a JSON error, no socket."""
    response = await client.get(path, headers={**UPGRADE, **headers})
    assert response.status == 403
    body: dict[str, object] = await response.json()
    return body


async def test_given_another_sites_page_then_the_console_socket_is_refused(client: Client) -> None:
    await login(client)
    body = await _refused(client, "/console/ws", {"Origin": "https://evil.example"})
    assert body["error_id"] == "origin_refused"
    assert body["message"] == "Connexion refusée\u00a0: cette page n'est pas celle du service."
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/console/ws", origin="http://127.0.0.1:8015.evil.example")
    assert refused.value.status == 403
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"


async def test_given_no_origin_then_only_a_client_with_an_api_key_gets_a_socket(
    client: Client,
) -> None:
    await login(client)
    # A script holding a stolen console cookie is no browser: no Origin, no key, no socket.
    body = await _refused(client, "/console/ws", {})
    assert body["error_id"] == "origin_refused"
    # The CAD sends no Origin and its key.
    async with client.ws_connect("/api/v1/events", headers=AUTH) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    response = await client.get(
        "/api/v1/events", headers={**UPGRADE, "Authorization": "Bearer not-the-key"}
    )
    assert response.status == 401
    # A page of another site cannot use the CAD's socket either, key or not.
    body = await _refused(client, "/api/v1/events", {**AUTH, "Origin": "https://evil.example"})
    assert body["error_id"] == "origin_refused"


async def test_given_another_sites_page_then_the_patient_socket_is_refused(
    client: Client,
) -> None:
    _session_id, token, _csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200
    for headers in ({"Origin": "https://evil.example"}, {}):
        body = await _refused(client, f"/p/{token}/ws", headers)
        assert body["error_id"] == "origin_refused"
