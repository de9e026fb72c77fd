"""Fixtures for the store's tests: each test runs once on SQLite and once on PostgreSQL.

PostgreSQL comes from ``VISIOREGUL_TEST_POSTGRES_URL``, which ``tests/services/postgres.sh``
prints. Without it the PostgreSQL cases fail (they are never skipped: a green run must mean both
databases were tested). Each test gets databases of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.store.db import create_engine, make_sessionmaker, upgrade

POSTGRES_URL_ENV = "VISIOREGUL_TEST_POSTGRES_URL"

NewDatabase = Callable[[], Awaitable[str]]
"""Makes an empty database and returns its URL."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind under test."""
    name: str = request.param
    return name


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.fail(
            f"{POSTGRES_URL_ENV} is not set: start the test server with "
            f'`export {POSTGRES_URL_ENV}="$(bash tests/services/postgres.sh)"` '
            "or use the README's test command",
            pytrace=False,
        )
    return url


@pytest.fixture
async def new_database(backend: str, tmp_path: Path) -> AsyncIterator[NewDatabase]:
    """A factory of empty databases of the current ``backend``, removed after the test."""
    if backend == "sqlite":
        count = 0

        async def new_sqlite() -> str:
            nonlocal count
            count += 1
            return f"sqlite+aiosqlite:///{tmp_path / f'db{count}' / 'visioregul.db'}"

        yield new_sqlite
        return

    base_url = make_url(_postgres_base_url())
    admin = create_async_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    created: list[str] = []

    async def new_postgres() -> str:
        # A database per use: tests stay independent, whatever they leave behind.
        name = f"visioregul_test_{uuid.uuid4().hex[:16]}"
        async with asyncio.timeout(30), admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return base_url.set(database=name).render_as_string(hide_password=False)

    try:
        yield new_postgres
    finally:
        async with asyncio.timeout(30), admin.connect() as connection:
            for name in created:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
async def empty_url(new_database: NewDatabase) -> str:
    """URL of an empty database."""
    return await new_database()


@pytest.fixture
async def migrated_url(empty_url: str) -> str:
    """URL of a database brought to the newest schema."""
    async with asyncio.timeout(60):
        await upgrade(empty_url)
    return empty_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """The service's engine on a migrated database."""
    engine = create_engine(DatabaseSettings(url=migrated_url))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The service's session factory."""
    return make_sessionmaker(engine)


@pytest.fixture
async def other_instance(migrated_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A second service's own engine on the same database."""
    engine = create_engine(DatabaseSettings(url=migrated_url))
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that the test may commit or leave to be rolled back."""
    async with sessionmaker() as session:
        yield session
