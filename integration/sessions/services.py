"""The session domain's logic: open a session, invite, open links, end, expire, purge.

The caller of each public method gets a result once the fact is committed; slow things (the SMS
gateway, the pairing write to Asterisk) happen in background tasks whose outcome is appended to
the session's log and published to listeners (the consoles). Every state change and its event row
are written in the same transaction. Sending invitations is :mod:`.delivery`'s, reading sessions
back :mod:`.history`'s; both are reached through :class:`SessionService`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..background import BackgroundTasks
from ..destinations import Destination, DestinationKind, parse_invitation_destination
from ..log_privacy import loggable
from ..messaging import Channel, DeliveryStatus, Senders
from ..ratelimit import RateLimiter, RateLimitExceeded
from ..settings import Settings
from ..store.models import utcnow
from ..telephony.events import CallAnswered, CallEnded, CallTransferred
from ..telephony.pairing import Pairing
from ..telephony.registry import CallState, CallUpdate, LiveCallRegistry
from .delivery import InvitationDelivery
from .errors import (
    CallNotFound,
    InvalidRole,
    InvitationNotFound,
    SessionClosed,
    TooManyInvitations,
)
from .history import SessionDetail, SessionFilter, find_sessions, read_session
from .journal import SYSTEM, Actor, SessionJournal, SessionUpdate
from .links import PATIENT, THIRD_PARTY, PatientLinks
from .models import Invitation, SessionEvent, VisioSession
from .state import FINAL_STATES, SessionFact, SessionState
from .tokens import new_token

__all__ = [
    "Actor",
    "SessionDetail",
    "SessionFilter",
    "SessionService",
    "SessionUpdate",
]

log = logging.getLogger(__name__)

PAIRING_RETRY_DELAYS: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 30.0)
"""Seconds before each pairing retry after a failure; the last repeats while the call is up."""


@dataclass
class SessionService:
    """Everything that happens to sessions goes through here."""

    db: async_sessionmaker[AsyncSession]
    settings: Settings
    senders: Senders
    registry: LiveCallRegistry
    pairing: Pairing
    listeners: list[Callable[[SessionUpdate], None]] = field(default_factory=list)
    _background: BackgroundTasks = field(
        default_factory=lambda: BackgroundTasks("session background task", log)
    )
    _call_sessions: dict[str, set[str]] = field(default_factory=dict)
    """Open sessions paired with each live call id."""
    _journal: SessionJournal = field(init=False)
    """Transactions and the event log, shared with :attr:`_delivery`."""
    _delivery: InvitationDelivery = field(init=False)
    """Sends the invitations and follows their delivery; keeps the tokens not yet delivered."""
    links: PatientLinks = field(init=False)
    """The links: checked, opened by a person's page, taken over, bound to a browser."""

    def __post_init__(self) -> None:
        limits = self.settings.messaging
        self._per_actor = RateLimiter(limits.per_regulator_per_hour, 3600)
        self._per_destination = RateLimiter(limits.per_destination_per_hour, 3600)
        self._global = RateLimiter(limits.global_per_minute, 60)
        self._journal = SessionJournal(self.db, self._publish)
        self._delivery = InvitationDelivery(
            settings=self.settings,
            senders=self.senders,
            journal=self._journal,
            spawn=self._spawn,
        )
        self.links = PatientLinks(self.db, self._journal)

    # -- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Reload what must survive a restart: pairings of open sessions, lost sends."""
        async with self._journal.transaction() as db:
            rows = await db.execute(
                select(VisioSession.id, VisioSession.call_id).where(
                    VisioSession.call_id.is_not(None),
                    VisioSession.state.not_in([s.value for s in FINAL_STATES]),
                )
            )
            for session_id, call_id in rows:
                if call_id is not None:
                    self._call_sessions.setdefault(call_id, set()).add(session_id)
            # A send that was interrupted by a restart has lost its token (never stored):
            # say so, so that the regulator sends a new invitation.
            pending = await db.scalars(
                select(Invitation).where(Invitation.delivery_status == DeliveryStatus.PENDING)
            )
            for invitation in pending:
                invitation.delivery_status = DeliveryStatus.FAILED
                invitation.error_code = "interrupted"
                await self._journal.append(
                    db,
                    invitation.session_id,
                    SYSTEM,
                    "invitation.failed",
                    {"invitation_id": invitation.id, "error_id": "interrupted"},
                )

    async def close(self) -> None:
        """Cancel background work (deliveries in flight are logged as interrupted next start),
        then release the senders (Twilio's HTTP session); safe to call more than once."""
        await self._background.cancel_all()
        await self.senders.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self._background.spawn(coroutine)

    # -- opening and inviting ------------------------------------------------------------------

    async def open_session(
        self,
        actor: Actor,
        destination: str,
        *,
        call_id: str | None = None,
        language: str = "fr",
    ) -> SessionDetail:
        """Open a session (paired with ``call_id`` when given) and invite ``destination``."""
        target = parse_invitation_destination(destination, self.settings.telephony.region)
        call = self.registry.get(call_id) if call_id else None
        if call_id and call is None:
            raise CallNotFound()
        self._check_limits(actor, target)
        now = utcnow()
        session = VisioSession(
            id=secrets.token_hex(16),
            state=SessionState.CREATED,
            created_at=now,
            updated_at=now,
            created_by=actor.name,
            position=actor.position,
            call_id=call_id,
            caller_number=call.caller.e164 if call else None,
        )
        async with self._journal.transaction() as db:
            db.add(session)
            # Its row first: the tables have foreign keys, the mapped classes no relationships
            # telling the flush which row goes first.
            await db.flush()
            self._journal.created(db, session)
            created = await self._journal.append(
                db,
                session.id,
                actor,
                "session.created",
                {
                    "call_id": call_id,
                    "position": actor.position,
                    "call_position": call.position if call else None,
                },
            )
            invitation, token, invited = await self._new_invitation(
                db, session, actor, target, PATIENT, revoke_previous=False
            )
        if call is not None:
            self._call_sessions.setdefault(call.call_id, set()).add(session.id)
            self._spawn(self._pair(session.id, call.call_id, call.channel))
        self._delivery.start(invitation, token, language)
        # All of it was written just now: no need to read it back.
        return SessionDetail(session, [invitation], [created, invited])

    async def invite(
        self,
        session_id: str,
        actor: Actor,
        destination: str,
        *,
        role: str = PATIENT,
        language: str = "fr",
    ) -> Invitation:
        """Send a new invitation; a new patient link revokes the previous patient links."""
        if role not in (PATIENT, THIRD_PARTY):
            raise InvalidRole(detail="role")
        target = parse_invitation_destination(destination, self.settings.telephony.region)
        self._check_limits(actor, target)
        async with self._journal.transaction() as db:
            session = await self._open_session_row(db, session_id)
            invitation, token, _ = await self._new_invitation(db, session, actor, target, role)
        self._delivery.start(invitation, token, language)
        return invitation

    async def retry(
        self, session_id: str, invitation_id: str, actor: Actor, *, language: str = "fr"
    ) -> Invitation:
        """Send a failed invitation again: the same link while the service still has it.

        An invitation still being sent (automatic retries included) is returned as it is: a
        second send at the same time could reach the patient twice.
        """
        claimed = False
        try:
            async with self._journal.transaction() as db:
                await self._open_session_row(db, session_id)
                invitation = await db.get(Invitation, invitation_id)
                if invitation is None or invitation.session_id != session_id:
                    raise InvitationNotFound()
                if self._delivery.in_flight(invitation_id):
                    log.info("invitation %s: retry ignored, a send is in flight", invitation_id)
                    return invitation
                token = self._delivery.token(invitation_id)
                if token is not None and invitation.revoked_at is None:
                    # Claimed at once: a second retry arriving meanwhile sees it.
                    self._delivery.claim(invitation_id)
                    claimed = True
                    invitation.delivery_status = DeliveryStatus.PENDING
                    invitation.error_code = invitation.error_message = None
                    await self._journal.append(
                        db,
                        session_id,
                        actor,
                        "invitation.retried",
                        {"invitation_id": invitation_id},
                    )
        except BaseException:
            if claimed:
                self._delivery.release(invitation_id)
            raise
        if token is None or invitation.revoked_at is not None:
            # The token is gone (restart, delivered, session closed) or revoked: a fresh
            # invitation to the same place.
            return await self.invite(
                session_id, actor, invitation.destination, role=invitation.role, language=language
            )
        self._delivery.start(invitation, token, language)
        return invitation

    def _check_limits(self, actor: Actor, target: Destination) -> None:
        checks = [
            (self._global, "global", "all"),
            (self._per_actor, "regulator", actor.name),
            (self._per_destination, "destination", target.value.lower()),
        ]
        for limiter, scope, key in checks:
            try:
                limiter.hit(key)
            except RateLimitExceeded as exc:
                shown = loggable(key, log) if scope == "destination" else key
                log.warning("invitation refused: %s limit reached (%s)", scope, shown)
                raise TooManyInvitations(scope, exc.retry_after) from exc

    async def _new_invitation(
        self,
        db: AsyncSession,
        session: VisioSession,
        actor: Actor,
        target: Destination,
        role: str,
        *,
        revoke_previous: bool = True,
    ) -> tuple[Invitation, str, SessionEvent]:
        """A new invitation (a patient's revokes the previous patient links), its token, and its
        ``invitation.created`` event."""
        now = utcnow()
        if role == PATIENT and revoke_previous:
            previous = await db.scalars(
                select(Invitation).where(
                    Invitation.session_id == session.id,
                    Invitation.role == PATIENT,
                    Invitation.revoked_at.is_(None),
                )
            )
            for old in previous:
                old.revoked_at = now
                self._delivery.forget(old.id)
                await self._journal.append(
                    db, session.id, actor, "invitation.revoked", {"invitation_id": old.id}
                )
        token, token_hash = new_token()
        invitation = Invitation(
            id=secrets.token_hex(16),
            session_id=session.id,
            role=role,
            channel=Channel.SMS if target.kind is DestinationKind.SMS else Channel.EMAIL,
            destination=target.value,
            token_hash=token_hash,
            created_at=now,
            created_by=actor.name,
            expires_at=now + timedelta(seconds=self.settings.sessions.link_ttl),
            delivery_status=DeliveryStatus.PENDING,
            attempts=0,
        )
        db.add(invitation)
        self._delivery.remember(invitation.id, token)
        event = await self._journal.append(
            db,
            session.id,
            actor,
            "invitation.created",
            {
                "invitation_id": invitation.id,
                "role": role,
                "channel": invitation.channel,
                "destination": target.value,
                "expires_at": invitation.expires_at.isoformat(),
            },
        )
        return invitation, token, event

    # -- delivery ------------------------------------------------------------------------------

    def link_for(self, token: str) -> str:
        """The URL a token opens."""
        return self._delivery.link_for(token)

    async def on_delivery_status(
        self, provider_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool:
        """A gateway's status report (Twilio callback); False when no invitation matches yet.

        See :meth:`.delivery.InvitationDelivery.on_status`.
        """
        return await self._delivery.on_status(provider_id, status, error_code)

    async def _pair(self, session_id: str, call_id: str, channel: str) -> None:
        """Pair the session with its call; after a failure (AMI out of reach for a moment),
        try again in the background while the call lives, so that its CDR/CEL get the id."""
        delays = iter(PAIRING_RETRY_DELAYS)
        delay = 0.0
        failed = False
        while True:
            try:
                await self.pairing.pair(channel, session_id)
            except Exception as exc:
                log.warning("pairing session %s with %s failed: %s", session_id, channel, exc)
                if not failed:  # once: the console needs no line per attempt
                    failed = True
                    await self.record(
                        session_id,
                        SYSTEM,
                        "call.pairing_failed",
                        {"channel": channel, "error": str(exc)[:200]},
                    )
            else:
                with contextlib.suppress(SessionClosed):  # closed during a retry
                    await self.record(session_id, SYSTEM, "call.paired", {"channel": channel})
                return
            delay = next(delays, delay)
            await asyncio.sleep(delay)
            live = self._paired_call(session_id, call_id)
            if live is None:
                return
            channel = live

    def _paired_call(self, session_id: str, call_id: str) -> str | None:
        """The caller's channel while the call lives and the session is open, else None."""
        call = self.registry.get(call_id)
        if call is None or call.state is CallState.ENDED:
            return None
        # Gone from here when the call ended or the session closed (see :meth:`_forget_call`).
        if session_id not in self._call_sessions.get(call_id, ()):
            return None
        return call.channel

    # -- facts, end, expiry --------------------------------------------------------------------

    async def record(
        self,
        session_id: str,
        actor: Actor,
        kind: str,
        details: dict[str, Any] | None = None,
        *,
        fact: SessionFact | None = None,
    ) -> SessionEvent:
        """Append an event (and move the state when ``fact`` is given)."""
        async with self._journal.transaction() as db:
            return await self._journal.append(db, session_id, actor, kind, details or {}, fact=fact)

    async def end(
        self, session_id: str, actor: Actor, reason: str = "ended_by_regulator"
    ) -> SessionDetail:
        """End a session: its links stop working; its history stays."""
        async with self._journal.transaction() as db:
            session = await self._open_session_row(db, session_id)
            session.ended_at = utcnow()
            session.ended_by = actor.name
            session.end_reason = reason
            await self._journal.append(
                db, session_id, actor, "session.ended", {"reason": reason}, fact=SessionFact.ENDED
            )
        await self._forget(session_id)
        return await self.get(session_id)

    async def expire_idle(self) -> int:
        """Expire sessions idle for longer than ``sessions.idle_expiry``; returns how many."""
        horizon = utcnow() - timedelta(seconds=self.settings.sessions.idle_expiry)
        async with self._journal.transaction() as db:
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
                await self._journal.append(
                    db, session.id, SYSTEM, "session.expired", {}, fact=SessionFact.EXPIRED
                )
        for session in expired:
            await self._forget(session.id)
        return len(expired)

    async def purge(self) -> int:
        """Delete sessions ended more than ``sessions.retention_days`` ago (and their rows)."""
        horizon = utcnow() - timedelta(days=self.settings.sessions.retention_days)
        async with self._journal.transaction() as db:
            ids = list(
                await db.scalars(select(VisioSession.id).where(VisioSession.ended_at < horizon))
            )
            if ids:
                await db.execute(delete(SessionEvent).where(SessionEvent.session_id.in_(ids)))
                await db.execute(delete(Invitation).where(Invitation.session_id.in_(ids)))
                await db.execute(delete(VisioSession).where(VisioSession.id.in_(ids)))
        if ids:
            log.info("retention: purged %d sessions ended before %s", len(ids), horizon.isoformat())
        return len(ids)

    async def _forget(self, session_id: str) -> None:
        """A closed session: its links will never be sent again, its call is none of ours."""
        async with self.db() as db:
            ids = await db.scalars(select(Invitation.id).where(Invitation.session_id == session_id))
            for invitation_id in ids:
                self._delivery.forget(invitation_id)
        self._forget_call(session_id)

    def _forget_call(self, session_id: str) -> None:
        for call_id, sessions in list(self._call_sessions.items()):
            sessions.discard(session_id)
            if not sessions:
                del self._call_sessions[call_id]

    # -- the paired call -----------------------------------------------------------------------

    def on_call(self, update: CallUpdate) -> None:
        """Registry listener: a paired call's answer, transfers and end go to its sessions."""
        sessions = self._call_sessions.get(update.call.call_id)
        if not sessions:
            return
        event = update.event
        if isinstance(event, CallAnswered):
            kind, details = "call.answered", {"position": event.position}
        elif isinstance(event, CallTransferred):
            kind, details = "call.transferred", {"from": event.from_position, "to": event.position}
        elif isinstance(event, CallEnded):
            kind, details = "call.ended", {}
        else:
            kind, details = event.type, {}
        for session_id in list(sessions):
            self._spawn(
                self._record_quietly(session_id, kind, {"call_id": event.call_id, **details})
            )
        if isinstance(event, CallEnded):
            # The session stays open: the video may go on after the call.
            self._call_sessions.pop(update.call.call_id, None)

    async def _record_quietly(self, session_id: str, kind: str, details: dict[str, Any]) -> None:
        with contextlib.suppress(SessionClosed):
            await self.record(session_id, Actor("asterisk"), kind, details)

    # -- reading -------------------------------------------------------------------------------

    async def get(self, session_id: str) -> SessionDetail:
        """A session with its invitations and its timeline, in order."""
        return await read_session(self.db, session_id)

    async def history(
        self, filters: SessionFilter
    ) -> tuple[list[tuple[VisioSession, list[Invitation]]], int]:
        """Sessions matching ``filters`` with their invitations, newest first, and how many
        match in all."""
        return await find_sessions(self.db, filters)

    # -- internals -----------------------------------------------------------------------------

    def _publish(self, update: SessionUpdate) -> None:
        """Tell every listener about a committed event."""
        for listener in list(self.listeners):
            try:
                listener(update)
            except Exception:  # one broken listener must not starve the others
                log.exception("session listener %r failed", listener)

    async def _open_session_row(self, db: AsyncSession, session_id: str) -> VisioSession:
        session = await self._journal.locked(db, session_id)
        if session.state in FINAL_STATES:
            raise SessionClosed(state=session.state)
        return session
