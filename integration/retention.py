"""Purging what has been kept long enough, besides the sessions themselves.

The local outbox keeps the messages it simulated (links included) no longer than the sessions
they invited to (``sessions.retention_days``); the audit log has its own, much longer retention
(``audit.retention_days``); console logins past their cookie's lifetime are dropped, and so are
the CAD's used deep-link tokens past their expiry, and so are the tokens kept for a retry past
their link's expiry. Each purge
runs in its own transaction and is logged when it removed something.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import cad_links, console_logins, practitioners
from .sessions.early_statuses import purge_early
from .sessions.retry_tokens import purge_expired_tokens
from .settings import Settings
from .shared_login_throttle import purge_login_failures
from .shared_ratelimit import purge_hits
from .store import claims
from .store.models import AuditEntry, OutboxMessage, utcnow

__all__ = ["purge_audit", "purge_outbox", "purge_retained"]

log = logging.getLogger(__name__)


async def purge_outbox(db: AsyncSession, retention_days: int) -> int:
    """Delete outbox messages stored more than ``retention_days`` ago; return how many."""
    horizon = utcnow() - timedelta(days=retention_days)
    result = await db.execute(delete(OutboxMessage).where(OutboxMessage.created_at < horizon))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_audit(db: AsyncSession, retention_days: int) -> int:
    """Delete audit entries written more than ``retention_days`` ago; return how many.

    The only deletion the audit log knows: entries are never changed, and go only when their
    retention is over.
    """
    horizon = utcnow() - timedelta(days=retention_days)
    result = await db.execute(delete(AuditEntry).where(AuditEntry.at < horizon))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_retained(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Run every purge of this module with the configured retentions."""
    async with sessionmaker.begin() as db:
        outbox = await purge_outbox(db, settings.sessions.retention_days)
    if outbox:
        log.info("retention: purged %d outbox messages", outbox)
    async with sessionmaker.begin() as db:
        audit = await purge_audit(db, settings.audit.retention_days)
    if audit:
        log.info("retention: purged %d audit entries", audit)
    async with sessionmaker.begin() as db:
        logins = await console_logins.purge_expired(db)
    if logins:
        log.info("retention: purged %d expired console logins", logins)
    async with sessionmaker.begin() as db:
        tokens = await cad_links.purge_used(db)
    if tokens:
        log.info("retention: purged %d used CAD link tokens", tokens)
    async with sessionmaker.begin() as db:
        early = await purge_early(db)
    if early:
        log.info("retention: purged %d gateway reports that found no message", early)
    async with sessionmaker.begin() as db:
        expired = await purge_expired_tokens(db)
    if expired:
        log.info("retention: purged %d tokens kept for links now expired", expired)
    async with sessionmaker.begin() as db:
        await purge_hits(db)  # counts of past minutes: nothing worth a log line
    async with sessionmaker.begin() as db:
        await purge_login_failures(db)  # failures long forgiven: nothing worth a log line
    async with sessionmaker.begin() as db:
        claimed = await claims.purge_claims(db)
    if claimed:
        log.info("retention: purged %d old action claims", claimed)
    async with sessionmaker.begin() as db:
        sign_ins = await practitioners.purge_expired_sign_ins(db)
    if sign_ins:
        log.info("retention: purged %d abandoned Pro Santé Connect sign-ins", sign_ins)
