"""Keeping the session tables tidy: what a restart interrupted, closed sessions forgotten, idle
sessions expired, old ones purged after the retention period."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..messaging import DeliveryStatus
from ..settings import Settings
from ..storage import FileStorage
from ..store.models import utcnow
from .delivery import InvitationDelivery
from .journal import SYSTEM, SessionJournal
from .location import SessionLocation
from .models import Invitation, SessionEvent, SessionFile, VisioSession
from .opening import SEND_TAKES_AT_MOST
from .paired_calls import PairedCalls
from .retry_tokens import RetryToken
from .state import FINAL_STATES, SessionFact

__all__ = ["Housekeeping", "session_files_prefix"]

log = logging.getLogger(__name__)


def session_files_prefix(session_id: str) -> str:
    """The storage prefix of every file of a session: purging the session deletes it whole."""
    return f"sessions/{session_id.lower()}"


@dataclass(kw_only=True)
class Housekeeping:
    """Restart recovery, expiry of idle sessions, retention."""

    db: async_sessionmaker[AsyncSession]
    settings: Settings
    journal: SessionJournal
    delivery: InvitationDelivery
    paired_calls: PairedCalls
    storage: FileStorage | None = None
    """Where the sessions' files are (their rows go with the session, their bytes after it)."""

    async def recover(self, db: AsyncSession) -> None:
        """After a restart, in ``db``'s transaction: a send was interrupted: say so, so that the
        regulator sends it again (the same link: its token is kept sealed)."""
        # Only this instance's sends: another instance may be sending its own right now.
        pending = await db.scalars(
            select(Invitation).where(
                Invitation.delivery_status == DeliveryStatus.PENDING,
                or_(
                    Invitation.sending_instance.is_(None),
                    Invitation.sending_instance == self.settings.service.instance,
                ),
            )
        )
        for invitation in pending:
            invitation.delivery_status = DeliveryStatus.FAILED
            invitation.error_code = "interrupted"
            await self.journal.append(
                db,
                invitation.session_id,
                SYSTEM,
                "invitation.failed",
                {"invitation_id": invitation.id, "error_id": "interrupted"},
            )

    async def interrupted_elsewhere(self) -> int:
        """Sends pending far longer than any send takes: their instance died while sending
        (several instances). Say so, once, as :meth:`recover` does for this instance's own."""
        horizon = utcnow() - SEND_TAKES_AT_MOST
        async with self.journal.transaction() as db:
            # Marked in one statement: two instances doing this at once fail each send once.
            rows = (
                await db.execute(
                    update(Invitation)
                    .where(
                        Invitation.delivery_status == DeliveryStatus.PENDING,
                        Invitation.sending_since < horizon,
                    )
                    .values(delivery_status=DeliveryStatus.FAILED, error_code="interrupted")
                    .returning(Invitation.id, Invitation.session_id)
                )
            ).all()
            for invitation_id, session_id in rows:
                await self.journal.append(
                    db,
                    session_id,
                    SYSTEM,
                    "invitation.failed",
                    {"invitation_id": invitation_id, "error_id": "interrupted"},
                )
        if rows:
            log.warning("%d sends of a stopped instance said interrupted", len(rows))
        return len(rows)

    async def forget(self, session_id: str) -> None:
        """A closed session: its links will never be sent again, its call is none of ours."""
        async with self.db.begin() as db:
            ids = list(
                await db.scalars(select(Invitation.id).where(Invitation.session_id == session_id))
            )
            await self.delivery.tokens.forget(db, *ids)
        self.paired_calls.forget(session_id)

    async def expire_idle(self) -> int:
        """Expire sessions idle for longer than ``sessions.idle_expiry``; returns how many."""
        horizon = utcnow() - timedelta(seconds=self.settings.sessions.idle_expiry)
        async with self.journal.transaction() as db:
            rows = await db.scalars(
                select(VisioSession).where(
                    VisioSession.updated_at < horizon,
                    VisioSession.state.not_in([s.value for s in FINAL_STATES]),
                )
            )
            expired = list(rows)
            for session in expired:
                session.ended_at = utcnow()
                session.ended_by = SYSTEM.name
                session.end_reason = "expired"
                await self.journal.append(
                    db, session.id, SYSTEM, "session.expired", {}, fact=SessionFact.EXPIRED
                )
        for session in expired:
            await self.forget(session.id)
        return len(expired)

    async def purge(self) -> int:
        """Delete sessions ended more than ``sessions.retention_days`` ago (and their rows)."""
        horizon = utcnow() - timedelta(days=self.settings.sessions.retention_days)
        async with self.journal.transaction() as db:
            ids = list(
                await db.scalars(select(VisioSession.id).where(VisioSession.ended_at < horizon))
            )
            if ids:
                await db.execute(delete(SessionFile).where(SessionFile.session_id.in_(ids)))
                await db.execute(delete(SessionLocation).where(SessionLocation.session_id.in_(ids)))
                await db.execute(delete(SessionEvent).where(SessionEvent.session_id.in_(ids)))
                invitations = select(Invitation.id).where(Invitation.session_id.in_(ids))
                await db.execute(
                    delete(RetryToken).where(RetryToken.invitation_id.in_(invitations))
                )
                await db.execute(delete(Invitation).where(Invitation.session_id.in_(ids)))
                await db.execute(delete(VisioSession).where(VisioSession.id.in_(ids)))
        if self.storage is not None:
            # Once the rows are gone: a file never outlives its record's purge for long, and a
            # purge that failed before committing keeps both.
            for session_id in ids:
                await self.storage.delete_prefix(session_files_prefix(session_id))
        if ids:
            log.info("retention: purged %d sessions ended before %s", len(ids), horizon.isoformat())
        return len(ids)
