"""The read side of sessions: one session's whole record, and the search through past sessions.

Reads only, outside any write transaction: nothing here locks a row or publishes an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .errors import SessionNotFound
from .models import Invitation, SessionEvent, VisioSession
from .outcome import OUTCOME_EVENTS, Outcome, session_outcome

__all__ = ["SessionDetail", "SessionFilter", "find_sessions", "read_session", "session_outcomes"]


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """A session with its invitations and its whole timeline."""

    session: VisioSession
    invitations: Sequence[Invitation]
    events: Sequence[SessionEvent]


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """History filters; all optional."""

    since: datetime | None = None
    until: datetime | None = None
    states: tuple[str, ...] = ()
    """Any of these states; empty for all."""
    number: str | None = None
    regulator: str | None = None
    call_id: str | None = None
    outcomes: tuple[str, ...] = ()
    """Any of these outcomes (``OutcomeKind`` values): how the session ended, so only ended
    sessions match; empty for all."""
    limit: int = 50
    offset: int = 0
    centre_id: int | None = None
    """The centre whose sessions are listed (a client sees its own centre's only)."""


async def read_session(
    sessionmaker: async_sessionmaker[AsyncSession], session_id: str
) -> SessionDetail:
    """A session with its invitations and its timeline, in order."""
    async with sessionmaker() as db:
        session = await db.get(VisioSession, session_id)
        if session is None:
            raise SessionNotFound()
        invitations = list(
            await db.scalars(
                select(Invitation)
                .where(Invitation.session_id == session_id)
                .order_by(Invitation.created_at, Invitation.id)
            )
        )
        events = list(
            await db.scalars(
                select(SessionEvent)
                .where(SessionEvent.session_id == session_id)
                .order_by(SessionEvent.id)
            )
        )
    return SessionDetail(session, invitations, events)


async def find_sessions(
    sessionmaker: async_sessionmaker[AsyncSession], filters: SessionFilter
) -> tuple[list[tuple[VisioSession, list[Invitation]]], int]:
    """Sessions matching ``filters`` with their invitations, newest first, and how many match
    in all."""
    query = select(VisioSession)
    if filters.centre_id is not None:
        query = query.where(VisioSession.centre_id == filters.centre_id)
    if filters.since:
        query = query.where(VisioSession.created_at >= filters.since)
    if filters.until:
        query = query.where(VisioSession.created_at < filters.until)
    if filters.states:
        query = query.where(VisioSession.state.in_(filters.states))
    if filters.regulator:
        query = query.where(VisioSession.created_by == filters.regulator)
    if filters.call_id:
        query = query.where(VisioSession.call_id == filters.call_id)
    if filters.outcomes:
        query = query.where(VisioSession.outcome.in_(filters.outcomes))
    if filters.number:
        # Two indexed look-ups joined, rather than an OR that PostgreSQL answers by reading every
        # session of the centre (a few ms instead of tens over 100,000 sessions).
        called = select(VisioSession.id).where(VisioSession.caller_number == filters.number)
        if filters.centre_id is not None:
            called = called.where(VisioSession.centre_id == filters.centre_id)
        invited = select(Invitation.session_id).where(Invitation.destination == filters.number)
        query = query.where(VisioSession.id.in_(union(called, invited)))
    async with sessionmaker() as db:
        total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
        sessions = list(
            await db.scalars(
                query.order_by(VisioSession.created_at.desc(), VisioSession.id)
                .limit(filters.limit)
                .offset(filters.offset)
            )
        )
        invitations: dict[str, list[Invitation]] = {session.id: [] for session in sessions}
        if sessions:
            rows = await db.scalars(
                select(Invitation)
                .where(Invitation.session_id.in_(list(invitations)))
                .order_by(Invitation.created_at, Invitation.id)
            )
            for invitation in rows:
                invitations[invitation.session_id].append(invitation)
        return [(session, invitations[session.id]) for session in sessions], int(total)


async def session_outcomes(
    sessionmaker: async_sessionmaker[AsyncSession], session_ids: Sequence[str]
) -> dict[str, Outcome]:
    """The outcome of each session (a history page): only the events outcomes read are loaded."""
    if not session_ids:
        return {}
    events: dict[str, list[SessionEvent]] = {session_id: [] for session_id in session_ids}
    async with sessionmaker() as db:
        rows = await db.scalars(
            select(SessionEvent)
            .where(
                SessionEvent.session_id.in_(list(session_ids)),
                SessionEvent.type.in_(sorted(OUTCOME_EVENTS)),
            )
            .order_by(SessionEvent.id)
        )
        for event in rows:
            events[event.session_id].append(event)
    return {session_id: session_outcome(log) for session_id, log in events.items()}
