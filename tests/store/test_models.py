"""Column types and constraint names of the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from visioregul.integration.store.models import AuditEntry
from visioregul.integration.store.schema import metadata

from .conftest import NewDatabase

EXPECTED_NAMES = {
    "accounts": {
        "pk": "pk_accounts",
        "unique": {"uq_accounts_practitioner_id", "uq_accounts_username"},
        "check": {"ck_accounts_role", "ck_accounts_username_lowercase"},
        "indexes": {"ix_accounts_centre_id"},
    },
    "centres": {
        "pk": "pk_centres",
        "unique": {"uq_centres_code"},
        "check": set(),
        "indexes": set(),
    },
    "positions": {
        "pk": "pk_positions",
        "unique": {"uq_positions_endpoint"},
        "check": set(),
        "indexes": {"ix_positions_centre_id"},
    },
    "account_positions": {
        "pk": "pk_account_positions",
        "unique": set(),
        "check": set(),
        "indexes": {"ix_account_positions_position_id"},
    },
    "audit_log": {
        "pk": "pk_audit_log",
        "unique": set(),
        "check": set(),
        "indexes": {
            "ix_audit_log_action",
            "ix_audit_log_at",
            "ix_audit_log_centre_id",
            "ix_audit_log_target",
        },
    },
    "outbox_messages": {
        "pk": "pk_outbox_messages",
        "unique": {"uq_outbox_messages_idempotency_key"},
        "check": {"ck_outbox_messages_channel"},
        "indexes": {"ix_outbox_messages_created_at"},
    },
    "visio_sessions": {
        "pk": "pk_visio_sessions",
        "unique": set(),
        "check": set(),
        "indexes": {
            "ix_visio_sessions_state",
            "ix_visio_sessions_created_at",
            "ix_visio_sessions_created_by",
            "ix_visio_sessions_call_id",
            "ix_visio_sessions_caller_number",
            "ix_visio_sessions_centre_id",
            "ix_visio_sessions_centre_created",
            "ix_visio_sessions_centre_state_created",
            "ix_visio_sessions_centre_creator_created",
            "ix_visio_sessions_centre_caller_created",
            "ix_visio_sessions_centre_call_created",
            "ix_visio_sessions_centre_outcome_created",
        },
    },
    "invitations": {
        "pk": "pk_invitations",
        "unique": {"uq_invitations_token_hash"},
        "check": set(),
        "indexes": {
            "ix_invitations_session_id",
            "ix_invitations_destination",
            "ix_invitations_provider_id",
        },
    },
    "session_events": {
        "pk": "pk_session_events",
        "unique": set(),
        "check": set(),
        "indexes": {"ix_session_events_session_id"},
    },
}


def _constraint_names(connection: Connection) -> dict[str, dict[str, Any]]:
    inspector = inspect(connection)
    return {
        table: {
            "pk": inspector.get_pk_constraint(table)["name"],
            "unique": {c["name"] for c in inspector.get_unique_constraints(table)},
            "check": {c["name"] for c in inspector.get_check_constraints(table)},
            # PostgreSQL reports a unique constraint's index as an index too.
            "indexes": {
                i["name"]
                for i in inspector.get_indexes(table)
                if not i.get("duplicates_constraint")
            },
        }
        for table in EXPECTED_NAMES
    }


async def test_given_migrations_when_inspecting_then_constraints_have_the_conventional_names(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_constraint_names) == EXPECTED_NAMES


async def test_given_the_models_when_creating_tables_directly_then_names_match_the_migrations(
    new_database: NewDatabase,
) -> None:
    """The naming convention, not the database, chooses the names: both paths agree."""
    url = await new_database()
    if url.startswith("sqlite"):
        # create_engine() and upgrade() make the folder; a bare engine does not.
        Path(url.removeprefix("sqlite+aiosqlite:///")).parent.mkdir(parents=True)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with asyncio.timeout(30), engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            assert await connection.run_sync(_constraint_names) == EXPECTED_NAMES
    finally:
        await engine.dispose()


async def test_given_an_aware_time_in_another_zone_when_stored_then_it_reads_back_in_utc(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    paris_summer = timezone(timedelta(hours=2))
    at = datetime(2026, 7, 14, 12, 30, 15, 123456, tzinfo=paris_summer)
    async with sessionmaker.begin() as session:
        entry = AuditEntry(at=at, actor="system", action="test.stored", details={})
        session.add(entry)
    async with sessionmaker() as session:
        loaded = await session.get(AuditEntry, entry.id)

    assert loaded is not None
    assert loaded.at == at
    assert loaded.at.tzinfo is UTC
    assert loaded.at.hour == 10


async def test_given_a_naive_time_when_stored_then_it_is_refused(session: AsyncSession) -> None:
    session.add(AuditEntry(at=datetime(2026, 7, 14, 12, 0), actor="system", action="test.naive"))
    with pytest.raises(StatementError, match="naive datetime refused"):
        await session.flush()
