"""Database engine, sessions and schema migrations.

The service owns one :class:`~sqlalchemy.ext.asyncio.AsyncEngine` for its lifetime and hands out
sessions from :func:`make_sessionmaker`. The schema is brought up to date with :func:`upgrade`,
which runs the Alembic migrations shipped inside this package.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from ..settings import DatabaseSettings

log = logging.getLogger(__name__)

__all__ = [
    "ALEMBIC_INI",
    "MIGRATIONS_DIR",
    "alembic_config",
    "create_engine",
    "current_revision",
    "ensure_sqlite_directory",
    "head_revision",
    "is_postgresql",
    "make_sessionmaker",
    "upgrade",
]

_HERE = Path(__file__).resolve().parent
ALEMBIC_INI = _HERE / "alembic.ini"
"""The Alembic configuration shipped with the package (also usable with the ``alembic`` command)."""
MIGRATIONS_DIR = _HERE / "migrations"
"""Alembic's script location: ``env.py`` and ``versions/``."""


# Alembic's ``context`` and ``op`` are process-wide proxies: two commands running at once in
# different threads would drive each other's migration contexts.
_alembic_lock = threading.Lock()


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_postgresql(url: str) -> bool:
    """Whether the store at ``url`` is PostgreSQL (the only one several instances share)."""
    return make_url(url).get_backend_name() == "postgresql"


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of the SQLite database file at ``url`` if missing (SQLite would not).

    Does nothing for other databases and for in-memory SQLite.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """Create the service's engine for ``settings.url`` (SQLite or PostgreSQL).

    For SQLite, the folder of the database file is created if missing, the service uses one
    connection (transactions take turns in the pool's queue), and the connection gets foreign
    keys enforced, write-ahead logging and real transactions (see :func:`_configure_sqlite`).
    PostgreSQL needs nothing special.
    """
    ensure_sqlite_directory(settings.url)
    options: dict[str, Any] = {}
    if _is_sqlite(settings.url) and not _is_memory(settings.url):
        # One connection. Every transaction takes SQLite's only write lock (BEGIN IMMEDIATE,
        # below), so several connections never run at once anyway: they poll for the lock,
        # sleeping up to 100 ms between tries, and a burst of invitations then waits in those
        # sleeps for hundreds of milliseconds. With one connection, transactions wait their
        # turn in the pool's queue instead, and each starts the moment the previous one ends.
        options = {"pool_size": 1, "max_overflow": 0}
    engine = create_async_engine(settings.url, echo=settings.echo, **options)
    if _is_sqlite(settings.url):
        _configure_sqlite(engine)
    return engine


def _is_memory(url: str) -> bool:
    database = make_url(url).database
    return not database or database == ":memory:" or "mode=memory" in database


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Make SQLite connections behave like a server database's.

    Python's sqlite3 driver (under aiosqlite) does not emit ``BEGIN`` before a ``SELECT`` or a
    ``SAVEPOINT``, so reads are not repeatable and savepoints escape the transaction. Taking over
    ``BEGIN`` is the fix documented by SQLAlchemy ("Enabling Non-Legacy SQLite Transactional
    Modes").
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # SQLite leaves foreign keys unchecked unless asked, on every new connection.
            cursor.execute("PRAGMA foreign_keys=ON")
            # WAL is stored in the file and persists; setting it again is cheap.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front. A deferred transaction that reads, then writes
        # after another connection committed, fails at once with "database is locked" (the busy
        # timeout cannot help a snapshot that is already stale). SQLite serialises writers
        # anyway; PostgreSQL is the choice when that matters.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory for ``engine``.

    Objects stay usable after commit (``expire_on_commit=False``): reloading them would be
    implicit IO, which the asyncio extension cannot do.
    """
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the shipped migrations, pointed at the database ``url``.

    Paths are resolved from this file, not from the current directory, so it works from a
    source checkout and from an installed package alike.
    """
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The value goes through configparser interpolation: a percent-encoded password must survive.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # When embedded in the service, leave its logging configuration alone.
    config.attributes["configure_logger"] = False
    return config


def head_revision() -> str | None:
    """The newest revision of the shipped migrations."""
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    return script.get_current_head()


async def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``).

    Safe to run on every start: an up-to-date database is left untouched. Safe to run from several
    processes at once on PostgreSQL (``env.py`` takes an advisory lock) and from several tasks at
    once (they take turns). Callable from a running event loop: Alembic's ``env.py`` runs its own
    loop, so it runs in a worker thread.
    """
    config = alembic_config(url)
    current = await current_revision(url)
    if current is not None and not _known_revision(current):
        # Expand/contract: a newer release migrated the database (a rolling upgrade, or a
        # rollback); its migrations only add, so this release runs on it as it is.
        log.warning(
            "the database's schema (%s) is newer than this release's (%s): it is left as it is",
            current,
            head_revision(),
        )
        return
    await asyncio.to_thread(_upgrade_head, config)


def _known_revision(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _upgrade_head(config: Config) -> None:
    with _alembic_lock:
        command.upgrade(config, "head")


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, or ``None`` if it was never migrated."""
    if _sqlite_file_missing(url):
        # Connecting would create an empty file: a missing file has simply not been migrated.
        return None
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read_revision)
    finally:
        await engine.dispose()


def _sqlite_file_missing(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return not Path(database).expanduser().exists()


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
