"""The session log's writer: transactions over the session tables, and who acts in them.

Every write of the session domain goes through one :class:`SessionJournal` (shared by
:class:`~.services.SessionService` and :class:`~.delivery.InvitationDelivery`), so that each
state change is written with its event in one transaction, and published only once committed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..store.models import utcnow
from .errors import IllegalFact, SessionClosed, SessionNotFound
from .models import Invitation, SessionEvent, VisioSession
from .outcome import OUTCOME_EVENTS, session_outcome
from .state import FINAL_STATES, InvalidTransition, SessionFact, SessionState, next_state

__all__ = ["SYSTEM", "Actor", "SessionJournal", "SessionUpdate"]

log = logging.getLogger(__name__)

_UPDATES = "visioregul.session_updates"
"""``AsyncSession.info`` key: the events appended in this transaction, to publish after commit."""
_LOCKED = "visioregul.locked_sessions"
"""``AsyncSession.info`` key: the session rows this transaction loaded for update (or created)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something: a logged-in regulator, a desk phone (feature code), the CAD..."""

    name: str
    position: str | None = None


SYSTEM = Actor("system")


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    """Published after each committed event."""

    session: VisioSession
    event: SessionEvent
    invitations: Sequence[Invitation] = ()
    elsewhere: bool = False
    """Written by another instance (heard through the store): what must happen once across
    the instances (a webhook, a count) was done there."""


@dataclass
class SessionJournal:
    """Transactions over the session tables, and the event log written within them.

    Shared by :class:`SessionService` and its :class:`~.delivery.InvitationDelivery`, so that
    every write follows the same rules: the session row locked once, each state change written
    with its event, events published only once committed.
    """

    db: async_sessionmaker[AsyncSession]
    publish: Callable[[SessionUpdate], None]
    """Tells the listeners about one committed event."""
    announce: Callable[[AsyncSession, Sequence[SessionUpdate]], Awaitable[None]] | None = None
    """Tells the other instances, inside the transaction, of the events it appended."""

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction; the events it appended are published once it has committed."""
        async with self.db.begin() as db:
            yield db
            updates = db.info.get(_UPDATES)
            if updates and self.announce is not None:
                await self.announce(db, updates)
        for update in db.info.pop(_UPDATES, ()):
            self.publish(update)

    async def locked(self, db: AsyncSession, session_id: str) -> VisioSession:
        """The session's row, locked for update, loaded once per transaction.

        Each :meth:`transaction` is a fresh ``AsyncSession``: what ``db.info`` holds lives as
        long as its one transaction.
        """
        rows: dict[str, VisioSession] = db.info.setdefault(_LOCKED, {})
        session = rows.get(session_id)
        if session is None:
            session = await db.get(VisioSession, session_id, with_for_update=True)
            if session is None:
                raise SessionNotFound()
            rows[session_id] = session
        return session

    async def open_row(self, db: AsyncSession, session_id: str) -> VisioSession:
        """The session's row, locked (:meth:`locked`); ``SessionClosed`` once it has ended."""
        session = await self.locked(db, session_id)
        if session.state in FINAL_STATES:
            raise SessionClosed(state=session.state)
        return session

    def created(self, db: AsyncSession, session: VisioSession) -> None:
        """``session`` was inserted by ``db``'s transaction: no one else sees it, no lock needed."""
        db.info.setdefault(_LOCKED, {})[session.id] = session

    async def append(
        self,
        db: AsyncSession,
        session_id: str,
        actor: Actor,
        kind: str,
        details: dict[str, Any],
        *,
        fact: SessionFact | None = None,
    ) -> SessionEvent:
        """Append an event to ``db``'s transaction, moving the session's state when ``fact`` is
        given; listeners hear of it once the transaction commits."""
        session = await self.locked(db, session_id)
        if fact is not None:
            try:
                new_state = next_state(SessionState(session.state), fact)
            except InvalidTransition as exc:
                if exc.state in FINAL_STATES:
                    raise SessionClosed(state=exc.state.value) from exc
                raise IllegalFact(detail=str(exc)) from exc
            if new_state != session.state:
                log.info("session %s: %s -> %s (%s)", session_id, session.state, new_state, kind)
                details = {**details, "state": new_state.value, "previous_state": session.state}
                session.state = new_state
        event = SessionEvent(
            session_id=session_id, at=utcnow(), actor=actor.name, type=kind, details=details
        )
        session.updated_at = event.at
        # Written with the rest of the transaction, in the order added (no flush per event).
        db.add(event)
        if session.state in FINAL_STATES and session.outcome is None:
            # How it ended, kept on the row for the history's search by outcome.
            session.outcome = await self._final_outcome(db, session_id)
        # Listeners hear it once the transaction commits, never a fact that was rolled back.
        db.info.setdefault(_UPDATES, []).append(SessionUpdate(session=session, event=event))
        return event

    async def _final_outcome(self, db: AsyncSession, session_id: str) -> str:
        """The outcome of a session that has just ended, from its log (this event included)."""
        await db.flush()
        events = await db.scalars(
            select(SessionEvent)
            .where(
                SessionEvent.session_id == session_id,
                SessionEvent.type.in_(sorted(OUTCOME_EVENTS)),
            )
            .order_by(SessionEvent.id)
        )
        return session_outcome(list(events)).kind.value
