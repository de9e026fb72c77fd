"""Helpers for tests that run the service against the sandbox Asterisk with real SIP calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from panoramisk import Manager
from pydantic import SecretStr

from tests.sandbox.asterisk import SandboxAsterisk
from visioregul.integration import accounts, appkeys
from visioregul.integration.settings import (
    AmiSettings,
    ApiKey,
    AriSettings,
    ConsoleSettings,
    DatabaseSettings,
    ServiceSettings,
    Settings,
    TelephonySettings,
)
from visioregul.integration.store.models import Role
from visioregul.integration.telephony.link import LinkState

CAD_KEY = "integration-cad-key"
"""A CAD key acting for nobody: live calls and their events."""
CAD_SESSIONS_KEY = "integration-cad-sessions-key"
"""A CAD key acting for the regulator's account (made by :func:`add_account`): sessions too."""
PASSWORD = "integration password 15"

Client = TestClient[web.Request, web.Application]


def service_settings(
    sandbox: SandboxAsterisk, source: str, tmp_path: Path, **overrides: Any
) -> Settings:
    """Settings that point the service at ``sandbox`` through ``source`` (ami or ari)."""
    ami = AmiSettings(
        host=sandbox.host,
        port=overrides.pop("ami_port", sandbox.ports.ami),
        username=sandbox.ami_user,
        secret=overrides.pop("ami_secret", sandbox.ami_secret),
    )
    ari = AriSettings(
        url=overrides.pop("ari_url", sandbox.ari_url),
        username=sandbox.ari_user,
        password=overrides.pop("ari_password", sandbox.ari_password),
    )
    return Settings(
        service=ServiceSettings(data_dir=tmp_path),
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"),
        telephony=TelephonySettings(
            source=source,  # type: ignore[arg-type]
            ami=ami,
            ari=ari,
            reconnect_min=0.2,
            reconnect_max=1.0,
        ),
        console=ConsoleSettings(
            api_keys=[
                ApiKey(key=SecretStr(CAD_KEY)),
                ApiKey(key=SecretStr(CAD_SESSIONS_KEY), account="regulateur"),
            ]
        ),
    )


async def until(
    predicate: Callable[[], object], timeout: float = 10.0, message: str = "condition"
) -> None:
    """Poll ``predicate`` every 50 ms until truthy; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        await asyncio.sleep(0.05)


async def wait_link_up(client: Client, timeout: float = 15.0) -> None:
    """Wait until the service's telephony link is up."""
    status = client.app[appkeys.TELEPHONY].status
    await until(lambda: status.state is LinkState.UP, timeout, f"{status.name} link up ({status})")


async def add_account(
    client: Client, username: str = "regulateur", display_name: str | None = None
) -> None:
    """A console account for the tests (its display name its login unless given)."""
    async with client.app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db, username, PASSWORD, display_name=display_name or username, role=Role.REGULATOR
        )


@dataclass
class Listener:
    """Messages received on one WebSocket, collected by a background task."""

    ws: aiohttp.ClientWebSocketResponse
    http: aiohttp.ClientSession | None = None
    """The console's own HTTP session (cookie jar), closed with the listener."""
    base_url: str = ""
    """The service's address, for :meth:`request`."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    _csrf_token: str | None = None

    def start(self) -> Listener:
        """Collect in the background."""
        self.task = asyncio.create_task(self._collect())
        return self

    async def _collect(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(message.json())

    async def csrf_token(self) -> str:
        """The console session's CSRF token (``GET /console/api/me``)."""
        if self._csrf_token is None:
            status, me = await self.request("GET", "/console/api/me")
            assert status == 200, me
            self._csrf_token = str(me["csrf_token"])
        return self._csrf_token

    async def request(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        """A request as this console (its cookie; its CSRF token when unsafe): status, JSON."""
        assert self.http is not None, "a console's listener"
        headers = {}
        if method not in ("GET", "HEAD"):
            headers["X-CSRF-Token"] = await self.csrf_token()
        async with self.http.request(
            method, self.base_url + path, json=json, headers=headers
        ) as response:
            return response.status, await response.json()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Messages of one type, in order."""
        return [message for message in self.messages if message.get("type") == kind]

    async def wait_for(
        self,
        kind: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _m: True,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """The first message of ``kind`` matching ``predicate`` (waiting for it)."""
        found: list[dict[str, Any]] = []

        def check() -> bool:
            found[:] = [m for m in self.of_type(kind) if predicate(m)]
            return bool(found)

        await until(check, timeout, f"a {kind!r} message (got {self.messages})")
        return found[0]

    async def close(self) -> None:
        """Close the socket and stop collecting."""
        await self.ws.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)
        if self.http is not None:
            await self.http.close()


async def console(client: Client, position: str, username: str | None = None) -> Listener:
    """A console logged in at ``position`` (its own cookie jar), listening to its WebSocket."""
    username = username or f"reg{position.rsplit('/', 1)[-1]}"
    await add_account(client, username)
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    base = str(client.make_url("/")).rstrip("/")
    async with session.post(
        f"{base}/console/login",
        data={"username": username, "password": PASSWORD, "position": position},
        headers={"Origin": base},
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()
        assert response.headers["Location"] == "/console"
    ws = await session.ws_connect(
        f"{base}/console/ws", origin=client.app[appkeys.SETTINGS].service.public_url
    )
    listener = Listener(ws, http=session, base_url=base).start()
    await listener.wait_for("hello")
    return listener


async def cad_events(client: Client) -> Listener:
    """The CAD's event stream."""
    ws = await client.ws_connect("/api/v1/events", headers={"Authorization": f"Bearer {CAD_KEY}"})
    listener = Listener(ws).start()
    await listener.wait_for("snapshot")
    return listener


async def admin_ami(sandbox: SandboxAsterisk) -> Manager:
    """The sandbox's admin AMI user (plays a phone's keys, reads channel variables); close it."""
    manager = Manager(
        host=sandbox.host,
        port=sandbox.ports.ami,
        username=sandbox.admin_ami_user,
        secret=sandbox.admin_ami_secret,
        ping_delay=3600,
    )
    await manager.connect()
    await until(lambda: manager.authenticated, 5, "admin AMI login")
    return manager


async def live_channels(sandbox: SandboxAsterisk) -> list[dict[str, str]]:
    """Asterisk's live channels (``core show channels concise``): name, caller id, uniqueid..."""
    fields = [
        *("channel", "context", "exten", "priority", "state", "application", "data"),
        *("callerid", "accountcode", "peeraccount", "amaflags", "duration", "bridged", "uniqueid"),
    ]
    output = await sandbox.cli("core show channels concise")
    return [
        dict(zip(fields, line.split("!"), strict=False))
        for line in output.splitlines()
        if line.count("!") >= len(fields) - 1
    ]
