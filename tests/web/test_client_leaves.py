"""A request whose client goes away mid-transaction still ends its transaction.

The test server cancels handlers when their client disconnects (production's server does not):
the middleware must keep the transaction whole either way, or SQLite's write lock is left held
and every later transaction fails with "database is locked".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from sqlalchemy import text

from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.store.db import create_engine, make_sessionmaker
from visioregul.integration.web.middleware import Handler, finish_middleware

from .conftest import ClientFactory


async def test_given_a_client_that_leaves_mid_transaction_then_the_transaction_ends_whole(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"))
    db = make_sessionmaker(engine)
    async with db.begin() as session:
        await session.execute(text("CREATE TABLE notes (body TEXT)"))
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def write_slowly(request: web.Request) -> web.Response:
        async with db.begin() as session:
            await session.execute(text("INSERT INTO notes VALUES ('first half')"))
            inside.set()
            await go_on.wait()
            await session.execute(text("INSERT INTO notes VALUES ('second half')"))
        return web.Response(text="written")

    server_saw_it_leave = asyncio.Event()

    @web.middleware
    async def watch(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except asyncio.CancelledError:
            server_saw_it_leave.set()
            raise

    app = web.Application(middlewares=[watch, finish_middleware])
    app.router.add_post("/write", write_slowly)
    client = await aiohttp_client(app)
    try:
        leaving = asyncio.create_task(client.post("/write"))
        await inside.wait()
        leaving.cancel()  # the client closes its connection in the middle
        await asyncio.gather(leaving, return_exceptions=True)
        await server_saw_it_leave.wait()
        go_on.set()

        async with db.begin() as session:  # takes the write lock: the first must have ended
            rows = (await session.execute(text("SELECT body FROM notes"))).scalars().all()
        assert rows == ["first half", "second half"]
    finally:
        await engine.dispose()
