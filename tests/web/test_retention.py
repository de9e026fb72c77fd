"""The service's housekeeping purges the outbox with the sessions, the audit log on its own
(longer) retention, and console logins past their lifetime."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select, update

from visioregul.integration import appkeys, audit
from visioregul.integration.app import create_app
from visioregul.integration.settings import AuditSettings, DatabaseSettings
from visioregul.integration.store.models import (
    AuditEntry,
    ConsoleLogin,
    OutboxMessage,
    utcnow,
)

from .conftest import NewDatabase, login, make_settings
from .helpers import Client, add_regulator, has_event, open_session, wait_detail

RETENTION_LOG = "visioregul.integration.retention"


async def _logins(client: Client) -> int:
    async with client.app[appkeys.DB]() as db:
        return int(await db.scalar(select(func.count()).select_from(ConsoleLogin)) or 0)


async def test_given_old_outbox_audit_and_logins_when_the_service_starts_then_purged(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    new_database: NewDatabase,
) -> None:
    database = DatabaseSettings(url=await new_database())
    settings = make_settings(tmp_path)
    settings.database = database
    first = await aiohttp_client(create_app(settings))
    await add_regulator(first.app)
    csrf = await login(first)
    old = await open_session(first, csrf, "06 11 11 11 11")
    recent = await open_session(first, csrf, "06 22 22 22 22")
    for session in (old, recent):
        await wait_detail(first, session["id"], has_event("invitation.simulated"), "the outbox")
    sessions = first.app[appkeys.SETTINGS].sessions
    async with first.app[appkeys.DB].begin() as db:
        await audit.record(db, actor="system", action="test.ancient")
        await audit.record(db, actor="system", action="test.old")
        # Older than the sessions' retention, younger than the audit log's: kept.
        await db.execute(
            update(AuditEntry)
            .where(AuditEntry.action == "test.old")
            .values(at=utcnow() - timedelta(days=sessions.retention_days + 1))
        )
        await db.execute(
            update(AuditEntry)
            .where(AuditEntry.action == "test.ancient")
            .values(at=utcnow() - timedelta(days=3651))
        )
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.to == "+33611111111")
            .values(created_at=utcnow() - timedelta(days=sessions.retention_days + 1))
        )
        await db.execute(update(ConsoleLogin).values(expires_at=utcnow() - timedelta(seconds=1)))
    await first.close()

    assert settings.audit == AuditSettings(retention_days=3650)
    with caplog.at_level(logging.INFO, logger=RETENTION_LOG):
        second = await aiohttp_client(create_app(settings))
        await _until_purged(second)

    async with second.app[appkeys.DB]() as db:
        outbox = list(await db.scalars(select(OutboxMessage.to)))
        actions = set(await db.scalars(select(AuditEntry.action)))
    assert outbox == ["+33622222222"]
    assert "test.old" in actions
    assert "test.ancient" not in actions
    assert await _logins(second) == 0
    messages = [r.getMessage() for r in caplog.records if r.name == RETENTION_LOG]
    assert messages == [
        "retention: purged 1 outbox messages",
        "retention: purged 1 audit entries",
        "retention: purged 1 expired console logins",
    ]


async def _until_purged(client: Client) -> None:
    """Until the first round of housekeeping has dropped the expired login (its last purge)."""
    async with asyncio.timeout(10):
        while True:
            if not await _logins(client):
                return
            await asyncio.sleep(0.05)
