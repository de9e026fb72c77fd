"""The service's engine and sessions."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from visioregul.integration.audit import record
from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.store.db import create_engine, make_sessionmaker, upgrade
from visioregul.integration.store.models import AuditEntry


async def test_given_a_sqlite_url_when_creating_the_engine_then_folder_and_pragmas_are_set(
    tmp_path: Path,
) -> None:
    database = tmp_path / "var" / "visioregul.db"
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{database}"))
    try:
        assert database.parent.is_dir()
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
    finally:
        await engine.dispose()


async def test_given_a_released_savepoint_when_the_transaction_rolls_back_then_its_work_is_undone(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """pysqlite's legacy transaction mode lets a SAVEPOINT escape the transaction (no BEGIN)."""
    async with sessionmaker() as session:
        async with session.begin_nested():
            await record(session, actor="system", action="test.savepoint")
        await session.rollback()

    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_given_a_committed_object_when_read_after_commit_then_no_reload_is_needed(
    engine: AsyncEngine,
) -> None:
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker.begin() as session:
        entry = await record(session, actor="system", action="test.committed")

    # With expire_on_commit, this attribute access would need IO and fail outside a greenlet.
    assert entry.action == "test.committed"


async def test_given_the_service_engine_when_upgrading_the_same_database_then_both_work(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'visioregul.db'}"
    engine = create_engine(DatabaseSettings(url=url))
    try:
        await upgrade(url)
        async with make_sessionmaker(engine).begin() as session:
            entry = await record(session, actor="system", action="service.started")
        assert entry.id == 1
    finally:
        await engine.dispose()
