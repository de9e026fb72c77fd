"""A real service from ``create_app``, on SQLite, telephony off, with one console account."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection
from pydantic import SecretStr

from tests.store.conftest import NewDatabase, backend, new_database  # noqa: F401  (fixtures)
from visioregul.integration import accounts, appkeys
from visioregul.integration.app import create_app
from visioregul.integration.settings import (
    ApiKey,
    ConsoleSettings,
    DatabaseSettings,
    ServiceSettings,
    Settings,
    TelephonySettings,
)
from visioregul.integration.store.models import Role
from visioregul.media.passthrough import close_peer_connection

CAD_KEY = "cad-key-0123456789"
PASSWORD = "correct horse battery"

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


def make_settings(tmp_path: Path, **telephony: object) -> Settings:
    return Settings(
        service=ServiceSettings(data_dir=tmp_path, public_url="http://127.0.0.1:8015"),
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"),
        telephony=TelephonySettings(**{"source": "none", **telephony}),  # type: ignore[arg-type]
        console=ConsoleSettings(
            api_keys=[ApiKey(key=SecretStr(CAD_KEY), account="regulateur")],
            login_failures_before_delay=5,
        ),
    )


@pytest.fixture
async def app(tmp_path: Path, new_database: NewDatabase) -> web.Application:  # noqa: F811
    """The service on a fresh database: every test using it runs on SQLite and on PostgreSQL."""
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=await new_database())
    return create_app(settings)


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, app: web.Application
) -> TestClient[web.Request, web.Application]:
    client = await aiohttp_client(app)
    async with app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db,
            "regulateur",
            PASSWORD,
            display_name="Dr Martin",
            role=Role.REGULATOR,
            position="PJSIP/1001",
            positions=["PJSIP/1001", "PJSIP/1002"],
        )
    return client


def public_origin(client: TestClient[web.Request, web.Application]) -> str:
    """The ``Origin`` a browser sends from the service's pages (its public URL)."""
    return client.app[appkeys.SETTINGS].service.public_url


async def login(client: TestClient[web.Request, web.Application], position: str = "") -> str:
    """Log in through the form; return the CSRF token."""
    response = await client.post(
        "/console/login",
        data={"username": "regulateur", "password": PASSWORD, "position": position},
        headers={"Origin": str(client.make_url("/")).rstrip("/")},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/console"
    me = await (await client.get("/console/api/me")).json()
    token = me["csrf_token"]
    assert re.fullmatch(r"[\w-]{20,}", token)
    return str(token)


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    """aiortc peer connections a test makes (the patient's phone...), closed at its end."""
    made: list[RTCPeerConnection] = []
    yield made
    for pc in made:
        await close_peer_connection(pc)
