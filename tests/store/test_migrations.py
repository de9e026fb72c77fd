"""The schema comes from the shipped Alembic migrations, and they match the models."""

from __future__ import annotations

import ast
import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from visioregul.integration.store.db import (
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from visioregul.integration.store.schema import metadata

from .conftest import NewDatabase

EXPECTED_TABLES = {
    "accounts",
    "account_positions",
    "centres",
    "positions",
    "audit_log",
    "console_logins",
    "cad_link_tokens",
    "provider_sign_ins",
    "outbox_messages",
    "visio_sessions",
    "invitations",
    "session_events",
    "session_files",
    "session_locations",
    "action_claims",
    "room_owners",
    "early_statuses",
    "rate_limit_hits",
    "login_failures",
    "retry_tokens",
    "alembic_version",
}


async def _run_sync(url: str, fn: Any) -> Any:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with asyncio.timeout(30), engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_given_an_empty_database_when_upgrading_then_tables_exist_at_head(
    empty_url: str,
) -> None:
    assert await current_revision(empty_url) is None

    await upgrade(empty_url)

    assert await _run_sync(empty_url, _table_names) == EXPECTED_TABLES
    assert head_revision() == "0025_sending_instance"
    assert await current_revision(empty_url) == head_revision()


async def test_given_a_migrated_database_when_upgrading_again_then_nothing_changes(
    migrated_url: str,
) -> None:
    engine = create_async_engine(migrated_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, details) "
                    "VALUES (CURRENT_TIMESTAMP, 'system', 'service.started', '{}')"
                )
            )

        await upgrade(migrated_url)

        async with engine.connect() as connection:
            versions = await connection.execute(text("SELECT version_num FROM alembic_version"))
            assert versions.scalars().all() == [head_revision()]
            count = await connection.scalar(text("SELECT count(*) FROM audit_log"))
            assert count == 1
    finally:
        await engine.dispose()


async def test_given_a_migrated_database_when_downgrading_to_base_then_upgrade_restores_it(
    migrated_url: str,
) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(migrated_url), "base")
    assert await _run_sync(migrated_url, _table_names) == {"alembic_version"}
    assert await current_revision(migrated_url) is None

    await upgrade(migrated_url)

    assert await _run_sync(migrated_url, _table_names) == EXPECTED_TABLES


async def test_given_the_models_when_comparing_with_the_migrated_schema_then_no_difference(
    migrated_url: str,
) -> None:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert await _run_sync(migrated_url, compare) == []


async def test_given_a_sqlite_file_in_a_missing_folder_when_upgrading_then_the_folder_is_made(
    tmp_path: Path,
) -> None:
    database = tmp_path / "var" / "data" / "visioregul.db"
    url = f"sqlite+aiosqlite:///{database}"
    assert await current_revision(url) is None
    assert not database.parent.exists(), "reading the revision must not create the database"

    await upgrade(url)

    assert database.is_file()
    assert await current_revision(url) == head_revision()


async def test_given_two_databases_when_upgrading_one_then_the_other_is_untouched(
    new_database: NewDatabase,
) -> None:
    first, second = await new_database(), await new_database()
    await upgrade(first)

    assert await current_revision(first) == head_revision()
    assert await current_revision(second) is None
    rows = await _run_sync(
        first, lambda connection: connection.execute(select(metadata.tables["accounts"])).all()
    )
    assert rows == []


async def test_given_tasks_upgrading_together_when_done_then_the_schema_is_at_head(
    empty_url: str,
) -> None:
    """Alembic's context is process-wide: concurrent upgrades in one process must take turns."""
    async with asyncio.timeout(60):
        await asyncio.gather(*(upgrade(empty_url) for _ in range(3)))

    assert await current_revision(empty_url) == head_revision()


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_given_instances_starting_together_when_upgrading_then_one_migrates(
    empty_url: str,
) -> None:
    """Service instances sharing one PostgreSQL may start at the same moment."""
    # Each process loads everything, says so, then waits for the word to start, so that the
    # migrations really run at the same time.
    script = (
        "import asyncio, sys\n"
        "from visioregul.integration.store.db import upgrade\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "asyncio.run(upgrade(sys.argv[1]))\n"
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            empty_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    async with asyncio.timeout(60):
        for process in processes:
            assert process.stdout is not None
            assert await process.stdout.readline() == b"ready\n"
        outcomes = await asyncio.gather(*(process.communicate(b"go\n") for process in processes))

    errors = [
        stderr.decode()
        for process, (_, stderr) in zip(processes, outcomes, strict=True)
        if process.returncode != 0
    ]
    assert errors == []
    assert await current_revision(empty_url) == head_revision()


async def test_given_rows_of_0003_when_upgrading_then_they_join_the_default_centre(
    empty_url: str,
) -> None:
    """Existing accounts and sessions belong to the default centre; an account's default
    position (free text before) becomes a declared position it may take."""
    await asyncio.to_thread(command.upgrade, alembic_config(empty_url), "0003")
    engine = create_async_engine(empty_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO accounts (username, display_name, password_hash, role, position,"
                    " disabled, created_at) VALUES ('regulateur', 'R', 'x', 'regulator',"
                    " 'PJSIP/1001', false, CURRENT_TIMESTAMP), ('medecin', 'M', 'x', 'doctor',"
                    " NULL, false, CURRENT_TIMESTAMP)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO visio_sessions (id, state, created_at, updated_at, created_by)"
                    " VALUES ('s1', 'invited', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'regulateur')"
                )
            )

        await upgrade(empty_url)

        async with engine.connect() as connection:
            centres = (await connection.execute(text("SELECT id, code FROM centres"))).all()
            accounts = (
                await connection.execute(
                    text("SELECT username, centre_id FROM accounts ORDER BY username")
                )
            ).all()
            sessions = (
                await connection.execute(text("SELECT centre_id FROM visio_sessions"))
            ).all()
            granted = (
                await connection.execute(
                    text(
                        "SELECT accounts.username, positions.endpoint FROM account_positions"
                        " JOIN accounts ON accounts.id = account_positions.account_id"
                        " JOIN positions ON positions.id = account_positions.position_id"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert centres == [(1, "default")]
    assert accounts == [("medecin", 1), ("regulateur", 1)]
    assert sessions == [(1,)]
    assert granted == [("regulateur", "PJSIP/1001")]


async def test_given_rows_of_0014_when_upgrading_then_accounts_keep_their_password_and_centres_grow(
    empty_url: str,
) -> None:
    """Existing accounts need not change their password; a new centre gets a fresh id (on
    PostgreSQL the default centre's explicit id left the sequence behind)."""
    await asyncio.to_thread(command.upgrade, alembic_config(empty_url), "0014_centre_settings")
    engine = create_async_engine(empty_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO accounts (username, display_name, password_hash, role, disabled,"
                    " created_at, centre_id) VALUES ('chef', 'C', 'x', 'admin', false,"
                    " CURRENT_TIMESTAMP, 1)"
                )
            )

        await upgrade(empty_url)

        async with engine.begin() as connection:
            flags = (
                await connection.execute(
                    text("SELECT username, must_change_password FROM accounts")
                )
            ).all()
            await connection.execute(text("INSERT INTO centres (code, name) VALUES ('b', 'B')"))
            ids = (await connection.execute(text("SELECT id FROM centres ORDER BY id"))).all()
    finally:
        await engine.dispose()
    assert flags == [("chef", False)]
    assert ids == [(1,), (2,)]


async def test_given_a_schema_of_a_newer_release_when_this_release_starts_then_it_runs_on_it(
    migrated_url: str,
) -> None:
    # A rolling upgrade: a newer instance migrated the database; this one starts again on it.
    engine = create_async_engine(migrated_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0999_next'"))
    finally:
        await engine.dispose()
    await upgrade(migrated_url)
    assert await current_revision(migrated_url) == "0999_next"


EXPAND_ONLY_FROM = 22
"""Migrations from this number on only add (expand/contract): the release before runs on the
schema they make, during a rolling upgrade of several instances."""
_CONTRACTING = {
    "drop_table",
    "drop_column",
    "alter_column",
    "rename_table",
    "drop_constraint",
    "execute",
}


def test_given_the_migrations_of_rolling_releases_then_they_only_add() -> None:
    versions = Path(alembic_config("sqlite+aiosqlite://").get_main_option("script_location") or "")
    checked = 0
    for path in sorted((versions / "versions").glob("0*.py")):
        if int(path.name[:4]) < EXPAND_ONLY_FROM:
            continue
        tree = ast.parse(path.read_text())
        (upgrade_function,) = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == "upgrade"
        ]
        calls = {
            node.func.attr
            for node in ast.walk(upgrade_function)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "op"
        }
        assert not calls & _CONTRACTING, f"{path.name} does more than add: {calls & _CONTRACTING}"
        checked += 1
    assert checked >= 1
