"""Helpers for tests that drive a real service over HTTP: start it, log in, read sessions."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from visioregul.integration import accounts, appkeys
from visioregul.integration.store.models import Role

from .conftest import PASSWORD

Client = TestClient[web.Request, web.Application]
LINK = re.compile(r"https?://\S+/p/([A-Za-z0-9_-]{43})")
"""A patient link in a message; group 1 is the token."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now (nothing listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def add_regulator(app: web.Application, username: str = "regulateur") -> None:
    """The console account :func:`tests.web.conftest.login` logs in with."""
    async with app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db,
            username,
            PASSWORD,
            display_name="Dr Martin",
            role=Role.REGULATOR,
            position="PJSIP/1001",
            positions=["PJSIP/1001", "PJSIP/1002"],
        )


async def detail(client: Client, session_id: str) -> dict[str, Any]:
    """``GET /console/api/sessions/{id}``: the session, its invitations and its timeline."""
    response = await client.get(f"/console/api/sessions/{session_id}")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def wait_detail(
    client: Client,
    session_id: str,
    predicate: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Poll the session every 20 ms until ``predicate`` holds; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        body = await detail(client, session_id)
        if predicate(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}: {body}")
        await asyncio.sleep(0.02)


def event_types(body: dict[str, Any]) -> list[str]:
    """The types of a session's timeline, in order."""
    return [event["type"] for event in body["timeline"]]


def events_of(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The timeline's events of one type, in order."""
    return [event for event in body["timeline"] if event["type"] == kind]


def has_event(kind: str) -> Callable[[dict[str, Any]], bool]:
    """A :func:`wait_detail` predicate: the timeline holds an event of this type."""
    return lambda body: kind in event_types(body)


async def open_session(
    client: Client, csrf: str, destination: str = "06 12 34 56 78"
) -> dict[str, Any]:
    """Open a session from the console; the created session (201 asserted)."""
    response = await client.post(
        "/console/api/sessions", json={"destination": destination}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body
