"""Session events pushed to the CAD: signed, retried, never blocking the service."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from visioregul.integration.app import create_app
from visioregul.integration.settings import WebhookSettings

from .conftest import CAD_KEY, ClientFactory, make_settings
from .helpers import add_regulator

SECRET = "webhook-secret-for-tests"
AUTH = {"Authorization": f"Bearer {CAD_KEY}"}


class Receiver:
    """A CAD's webhook endpoint: checks signatures, fails on demand."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.attempts = 0
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        timestamp = request.headers["X-VisioRegul-Timestamp"]
        expected = (
            "sha256="
            + hmac.new(
                SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        if not hmac.compare_digest(expected, request.headers["X-VisioRegul-Signature"]):
            self.bad_signatures += 1
            return web.Response(status=401)
        assert abs(time.time() - int(timestamp)) < 60
        if self.failures:
            self.failures -= 1
            return web.Response(status=503)
        self.events.append(json.loads(body))
        return web.Response(status=204)


async def serve(receiver: Receiver) -> TestServer:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app)
    await server.start_server()
    return server


async def until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_given_a_receiver_failing_twice_then_every_event_arrives_signed_in_order(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    receiver = Receiver(failures=2)
    server = await serve(receiver)
    settings = make_settings(tmp_path)
    settings.webhooks = WebhookSettings(
        urls=[str(server.make_url("/hook"))], secret=SecretStr(SECRET)
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    await add_regulator(client.app)  # the account the CAD's key acts for
    response = await client.post(
        "/api/v1/sessions", json={"destination": "0612345678"}, headers=AUTH
    )
    session = await response.json()
    await until(lambda: len(receiver.events) >= 3)
    assert receiver.bad_signatures == 0
    assert receiver.attempts == len(receiver.events) + 2
    types = [event["event"]["type"] for event in receiver.events]
    assert types[:2] == ["session.created", "invitation.created"]
    # The outbox sends nothing: the CAD hears "simulated", never "sent" or "delivered".
    assert types[2] == "invitation.simulated"
    assert not {"invitation.sent", "invitation.delivered"} & set(types)
    assert all(event["session_id"] == session["id"] for event in receiver.events)
    ids = [event["id"] for event in receiver.events]
    assert ids == sorted(ids)
    await server.close()


async def test_given_a_dead_receiver_then_the_service_does_not_wait(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    settings.webhooks = WebhookSettings(
        urls=["http://127.0.0.1:9/hook"], secret=SecretStr(SECRET), timeout=30
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    await add_regulator(client.app)  # the account the CAD's key acts for
    started = time.monotonic()
    for number in ("0611111111", "0622222222", "0633333333"):
        response = await client.post("/api/v1/sessions", json={"destination": number}, headers=AUTH)
        assert response.status == 201
    assert time.monotonic() - started < 5
