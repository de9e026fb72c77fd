"""Alembic environment for VisioRegul's store (from Alembic's ``async`` template).

The database URL comes from the configuration's ``sqlalchemy.url`` (set by
``visioregul.integration.store.db.upgrade``), else ``-x url=...`` on the command line, else the
service's settings.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from visioregul.integration.settings import load_settings
from visioregul.integration.store.db import ensure_sqlite_directory
from visioregul.integration.store.models import UTCDateTime
from visioregul.integration.store.schema import metadata

config = context.config

# The service calls Alembic with its own logging already set up: do not reconfigure it.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata

_POSTGRES_LOCK_KEY = 0x5649_5349_4F00_0015
"""Advisory lock taken while migrating PostgreSQL (any constant unique to this service)."""


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        url = context.get_x_argument(as_dictionary=True).get("url")
    return url or load_settings().database.url


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write the project's column types as plain SQLAlchemy ones in generated revisions."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


def run_migrations_offline() -> None:
    """Emit the migrations as SQL (``alembic upgrade head --sql``) without a database."""
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on an open connection."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite alters a table by copying it: batch mode does that for every operation.
        render_as_batch=_is_sqlite(connection),
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Service instances sharing the database may start together: the first migrates,
            # the others wait here, then find the schema at head and do nothing.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
            )
        context.run_migrations()


async def run_async_migrations() -> None:
    """Connect with the async driver and run the migrations through ``run_sync``."""
    # A plain engine: SQLite's foreign-key checks stay off, as batch mode needs when it copies a
    # table (enforcing them would make dropping the old copy fail or cascade).
    url = _database_url()
    ensure_sqlite_directory(url)
    connectable = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with connectable.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await connectable.dispose()


def run_migrations_online() -> None:
    """Run the migrations against the database."""
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
