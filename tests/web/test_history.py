"""The history over HTTP: a number typed in any French form finds the session, the regulator,
call and date filters, and another centre's sessions never listed (console and CAD)."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from visioregul.integration import appkeys

from .conftest import CAD_KEY, login
from .helpers import open_session

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {CAD_KEY}"}


async def _found(client: Client, headers: dict[str, str] | None = None, **query: str) -> list[str]:
    prefix = "/api/v1/sessions" if headers else "/console/api/sessions"
    response = await client.get(f"{prefix}?{urlencode(query)}", headers=headers or {})
    assert response.status == 200, await response.text()
    return [session["id"] for session in (await response.json())["sessions"]]


async def test_given_sessions_when_searching_the_history_then_any_typed_number_and_filter(
    client: Client,
) -> None:
    csrf = await login(client)
    mine = await open_session(client, csrf, "06 12 34 56 78")
    other = await open_session(client, csrf, "07 81 23 45 67")
    foreign = await open_session(client, csrf, "06 12 34 56 78")
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(text("INSERT INTO centres (id, code, name) VALUES (2, 'b', 'SAMU B')"))
        await db.execute(
            text("UPDATE visio_sessions SET centre_id = 2 WHERE id = :id"), {"id": foreign["id"]}
        )
        await db.execute(
            text(
                "UPDATE visio_sessions SET call_id = 'c-42', created_by = 'durand' WHERE id = :id"
            ),
            {"id": other["id"]},
        )

    for typed in ("06 12 34 56 78", "06.12.34.56.78", "+33 6 12 34 56 78", "0033612345678"):
        assert await _found(client, number=typed) == [mine["id"]], typed
        assert await _found(client, AUTH, number=typed) == [mine["id"]], typed
    assert await _found(client, regulator="durand") == [other["id"]]
    assert await _found(client, call_id="c-42") == [other["id"]]
    assert await _found(client, call_id="c-43") == []
    assert set(await _found(client, since="2020-01-01T00:00:00+01:00")) == {
        mine["id"],
        other["id"],
    }
    assert await _found(client, until="2020-01-01T00:00:00+01:00") == []
    assert foreign["id"] not in await _found(client)
    assert foreign["id"] not in await _found(client, AUTH)
    refused = await client.get("/console/api/sessions?since=2026-12-01")
    assert refused.status == 400
    assert "since" in (await refused.json())["details"]["detail"]
