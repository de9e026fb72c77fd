"""The session domain's logic: open a session, invite, deliver, open links, end, expire, purge.

The caller of each public method gets a result once the fact is committed; slow things (the SMS
gateway, the pairing write to Asterisk) happen in background tasks whose outcome is appended to
the session's log and published to listeners (the consoles). Every state change and its event row
are written in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..destinations import Destination, DestinationKind, parse_invitation_destination
from ..messaging import (
    Channel,
    DeliveryError,
    DeliveryStatus,
    OutgoingMessage,
    Senders,
    render_invitation,
)
from ..settings import Settings
from ..store.models import utcnow
from ..telephony.events import CallAnswered, CallEnded, CallTransferred
from ..telephony.pairing import Pairing
from ..telephony.registry import CallUpdate, LiveCallRegistry
from ..web.errors import InvalidRequest, RateLimited
from ..web.ratelimit import RateLimiter
from .errors import InvitationNotFound, SessionClosed, SessionNotFound, TooManyInvitations
from .models import Invitation, SessionEvent, VisioSession
from .state import FINAL_STATES, InvalidTransition, SessionFact, SessionState, next_state
from .tokens import TOKEN_PATTERN, hash_token, new_token

__all__ = [
    "Actor",
    "LinkOpening",
    "SessionDetail",
    "SessionFilter",
    "SessionService",
    "SessionUpdate",
]

log = logging.getLogger(__name__)

PATIENT = "patient"
THIRD_PARTY = "third_party"
_RETRY_DELAYS = (1.0, 3.0)
"""Delays before resending when the gateway could not be reached at all (nothing was sent)."""
_PROGRESS = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.UNDELIVERED: 3,
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.DELIVERED: 4,
}
"""How far a message has gone: a status report that goes backwards is a late one, not news."""
_UPDATES = "visioregul.session_updates"
"""``AsyncSession.info`` key: the events appended in this transaction, to publish after commit."""
_LOCKED = "visioregul.locked_sessions"
"""``AsyncSession.info`` key: the session rows this transaction loaded for update (or created)."""
_EARLY_STATUS_TTL = 60.0
_EARLY_STATUS_MAX = 1000
"""Status reports for a message id not known yet are kept this long, this many at most."""


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


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """A session with its invitations and its whole timeline."""

    session: VisioSession
    invitations: Sequence[Invitation]
    events: Sequence[SessionEvent]


@dataclass(frozen=True, slots=True)
class LinkOpening:
    """A valid link was opened."""

    session_id: str
    invitation_id: str
    role: str
    device_key: str
    """Give it back to the browser: later openings of the link are accepted from it alone."""


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
    limit: int = 50
    offset: int = 0


@dataclass
class SessionService:
    """Everything that happens to sessions goes through here."""

    db: async_sessionmaker[AsyncSession]
    settings: Settings
    senders: Senders
    registry: LiveCallRegistry
    pairing: Pairing
    listeners: list[Callable[[SessionUpdate], None]] = field(default_factory=list)
    _tokens: dict[str, str] = field(default_factory=dict)
    """Tokens of invitations not yet delivered, kept in memory only, for a retry by hand."""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _call_sessions: dict[str, set[str]] = field(default_factory=dict)
    """Open sessions paired with each live call id."""
    _sending: set[str] = field(default_factory=set)
    """Invitations being sent right now (automatic retries included)."""
    _early_statuses: dict[str, tuple[DeliveryStatus, str | None, float]] = field(
        default_factory=dict
    )
    """Gateway reports that arrived before the gateway's answer to the send itself (its message
    id): applied once the answer is stored. Keyed by message id."""

    def __post_init__(self) -> None:
        limits = self.settings.messaging
        self._per_actor = RateLimiter(limits.per_regulator_per_hour, 3600)
        self._per_destination = RateLimiter(limits.per_destination_per_hour, 3600)
        self._global = RateLimiter(limits.global_per_minute, 60)

    # -- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Reload what must survive a restart: pairings of open sessions, lost sends."""
        async with self._transaction() as db:
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
                await self._append(
                    db,
                    invitation.session_id,
                    SYSTEM,
                    "invitation.failed",
                    {"invitation_id": invitation.id, "error_id": "interrupted"},
                )

    async def close(self) -> None:
        """Cancel background work (deliveries in flight are logged as interrupted next start),
        then release the senders (Twilio's HTTP session); safe to call more than once."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.senders.close()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("session background task failed", exc_info=task.exception())

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
            raise InvalidRequest("call_not_found")
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
        async with self._transaction() as db:
            db.add(session)
            # Its row first: the tables have foreign keys, the mapped classes no relationships
            # telling the flush which row goes first.
            await db.flush()
            db.info.setdefault(_LOCKED, {})[session.id] = session  # new: no one else sees it
            created = await self._append(
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
            self._spawn(self._pair(session.id, call.channel))
        self._start_delivery(invitation, token, language)
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
            raise InvalidRequest("invalid_request", detail="role")
        target = parse_invitation_destination(destination, self.settings.telephony.region)
        self._check_limits(actor, target)
        async with self._transaction() as db:
            session = await self._open_session_row(db, session_id)
            invitation, token, _ = await self._new_invitation(db, session, actor, target, role)
        self._start_delivery(invitation, token, language)
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
            async with self._transaction() as db:
                await self._open_session_row(db, session_id)
                invitation = await db.get(Invitation, invitation_id)
                if invitation is None or invitation.session_id != session_id:
                    raise InvitationNotFound()
                if invitation_id in self._sending:
                    log.info("invitation %s: retry ignored, a send is in flight", invitation_id)
                    return invitation
                token = self._tokens.get(invitation_id)
                if token is not None and invitation.revoked_at is None:
                    # Claimed at once: a second retry arriving meanwhile sees it.
                    self._sending.add(invitation_id)
                    claimed = True
                    invitation.delivery_status = DeliveryStatus.PENDING
                    invitation.error_code = invitation.error_message = None
                    await self._append(
                        db,
                        session_id,
                        actor,
                        "invitation.retried",
                        {"invitation_id": invitation_id},
                    )
        except BaseException:
            if claimed:
                self._sending.discard(invitation_id)
            raise
        if token is None or invitation.revoked_at is not None:
            # The token is gone (restart, delivered, session closed) or revoked: a fresh
            # invitation to the same place.
            return await self.invite(
                session_id, actor, invitation.destination, role=invitation.role, language=language
            )
        self._spawn(self._deliver(invitation, token, language))
        return invitation

    def _start_delivery(self, invitation: Invitation, token: str, language: str) -> None:
        self._sending.add(invitation.id)
        self._spawn(self._deliver(invitation, token, language))

    def _check_limits(self, actor: Actor, target: Destination) -> None:
        checks = [
            (self._global, "global", "all"),
            (self._per_actor, "regulator", actor.name),
            (self._per_destination, "destination", target.value.lower()),
        ]
        for limiter, scope, key in checks:
            try:
                limiter.hit(key)
            except RateLimited as exc:
                log.warning("invitation refused: %s limit reached (%s)", scope, key)
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
                self._tokens.pop(old.id, None)
                await self._append(
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
        self._tokens[invitation.id] = token
        event = await self._append(
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
        return f"{self.settings.service.public_url}/p/{token}"

    async def _deliver(self, invitation: Invitation, token: str, language: str) -> None:
        """Send ``invitation`` (as it was just written: nothing is read back before the send)."""
        try:
            await self._send(invitation, token, language)
        finally:
            self._sending.discard(invitation.id)

    async def _send(self, invitation: Invitation, token: str, language: str) -> None:
        invitation_id = invitation.id
        channel = Channel(invitation.channel)
        rendered = render_invitation(
            language,
            channel,
            role=invitation.role,  # type: ignore[arg-type]
            link=self.link_for(token),
            expires_at=invitation.expires_at,
            sender_name=self.settings.messaging.sender_name,
        )
        callback = None
        if channel is Channel.SMS and self.settings.messaging.sms == "twilio":
            callback = f"{self.settings.service.public_url}/webhooks/twilio/status"
        message = OutgoingMessage(
            idempotency_key=invitation.id,
            channel=channel,
            to=invitation.destination,
            text=rendered.text,
            subject=rendered.subject,
            html=rendered.html,
            status_callback=callback,
        )
        sender = self.senders.sms if channel is Channel.SMS else self.senders.email
        error: DeliveryError | None = None
        for attempt, delay in enumerate((0.0, *_RETRY_DELAYS)):
            if delay:
                await asyncio.sleep(delay)
            try:
                result = await sender.send(message)
            except DeliveryError as exc:
                error = exc
                await self._count_attempt(invitation_id)
                # Only a gateway that surely took nothing (no connection was made) is tried
                # again by itself, so that nothing is sent twice by accident.
                if exc.retryable and exc.sent_nothing and attempt < len(_RETRY_DELAYS):
                    continue
                break
            except Exception as exc:
                log.exception("sending invitation %s failed unexpectedly", invitation_id)
                error = DeliveryError("gateway_refused", str(exc), retryable=False)
                break
            else:
                await self._delivered(invitation_id, result.status, result.provider_id)
                early = self._early_statuses.pop(result.provider_id or "", None)
                if early is not None and result.provider_id:
                    await self.on_delivery_status(result.provider_id, early[0], early[1])
                return
        assert error is not None
        async with self._transaction() as db:
            row = await db.get(Invitation, invitation_id)
            if row is None:
                return
            row.delivery_status = DeliveryStatus.FAILED
            row.error_code = error.provider_code or error.error_id
            row.error_message = str(error.message)[:255]
            await self._append(
                db,
                row.session_id,
                SYSTEM,
                "invitation.failed",
                {
                    "invitation_id": invitation_id,
                    "error_id": error.error_id,
                    "provider_code": error.provider_code,
                    "retryable": error.retryable,
                },
            )

    async def _count_attempt(self, invitation_id: str) -> None:
        async with self._transaction() as db:
            invitation = await db.get(Invitation, invitation_id)
            if invitation is not None:
                invitation.attempts += 1

    async def _delivered(
        self, invitation_id: str, status: DeliveryStatus, provider_id: str | None
    ) -> None:
        async with self._transaction() as db:
            invitation = await db.get(Invitation, invitation_id)
            if invitation is None:
                return
            invitation.attempts += 1
            invitation.provider_id = provider_id
            invitation.delivery_status = status
            details = {
                "invitation_id": invitation_id,
                "channel": invitation.channel,
                "status": status.value,
                "provider_id": provider_id,
            }
            # Sent is sent, even to a session ended meanwhile: logged, without moving its state.
            session = await self._locked(db, invitation.session_id)
            closed = session.state in FINAL_STATES
            await self._append(
                db,
                invitation.session_id,
                SYSTEM,
                "invitation.sent",
                details,
                fact=None if closed else SessionFact.INVITATION_SENT,
            )
            if status is DeliveryStatus.DELIVERED:
                self._tokens.pop(invitation_id, None)
                await self._append(
                    db,
                    invitation.session_id,
                    SYSTEM,
                    "invitation.delivered",
                    {"invitation_id": invitation_id},
                )

    async def on_delivery_status(
        self, provider_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool:
        """A gateway's status report (Twilio callback); False when no invitation matches yet.

        A replayed report, or one older than what is known (callbacks may arrive out of order),
        changes nothing. A report about a message id not stored yet (it can overtake the
        gateway's answer to the send) is kept for a while and applied once the id is stored.
        """
        async with self._transaction() as db:
            invitation = await db.scalar(
                select(Invitation).where(Invitation.provider_id == provider_id)
            )
            if invitation is None:
                self._keep_early_status(provider_id, status, error_code)
                return False
            current = DeliveryStatus(invitation.delivery_status)
            if status == current or _PROGRESS[status] < _PROGRESS[current]:
                return True
            if status is DeliveryStatus.DELIVERED:
                self._tokens.pop(invitation.id, None)
            invitation.delivery_status = status
            invitation.error_code = error_code
            kind = {
                DeliveryStatus.DELIVERED: "invitation.delivered",
                DeliveryStatus.UNDELIVERED: "invitation.undelivered",
                DeliveryStatus.FAILED: "invitation.failed",
            }.get(status, "invitation.status")
            await self._append(
                db,
                invitation.session_id,
                Actor("gateway"),
                kind,
                {"invitation_id": invitation.id, "status": status.value, "error_code": error_code},
            )
        return True

    def _keep_early_status(
        self, provider_id: str, status: DeliveryStatus, error_code: str | None
    ) -> None:
        now = time.monotonic()
        kept = self._early_statuses
        for key, (_, _, at) in list(kept.items()):
            if now - at > _EARLY_STATUS_TTL:
                del kept[key]
        previous = kept.get(provider_id)
        if previous is not None and _PROGRESS[status] < _PROGRESS[previous[0]]:
            return
        while len(kept) >= _EARLY_STATUS_MAX:
            del kept[next(iter(kept))]
        kept[provider_id] = (status, error_code, now)

    async def _pair(self, session_id: str, channel: str) -> None:
        try:
            await self.pairing.pair(channel, session_id)
        except Exception as exc:
            log.warning("pairing session %s with %s failed: %s", session_id, channel, exc)
            await self.record(
                session_id,
                SYSTEM,
                "call.pairing_failed",
                {"channel": channel, "error": str(exc)[:200]},
            )
        else:
            await self.record(session_id, SYSTEM, "call.paired", {"channel": channel})

    # -- the patient's link --------------------------------------------------------------------

    async def open_link(self, token: str, device_key: str | None) -> LinkOpening | None:
        """The session a link opens, or None: unknown, expired, revoked, ended, or opened
        first from another browser. The reason is logged, never told: no oracle."""
        token_hash = hash_token(token if TOKEN_PATTERN.fullmatch(token) else "")
        device_hash = hashlib.sha256((device_key or "").encode()).hexdigest()
        async with self._transaction() as db:
            invitation = await db.scalar(
                select(Invitation).where(Invitation.token_hash == token_hash)
            )
            now = utcnow()
            reason = None
            if invitation is None:
                reason = "unknown"
            elif invitation.revoked_at is not None:
                reason = "revoked"
            elif invitation.expires_at <= now:
                reason = "expired"
            elif invitation.device_key is not None and invitation.device_key != device_hash:
                reason = "other_device"
            session = await self._locked(db, invitation.session_id) if invitation else None
            if session is not None and reason is None and session.state in FINAL_STATES:
                reason = "session_closed"
            if reason is not None:
                if invitation is not None:
                    await self._append(
                        db,
                        invitation.session_id,
                        Actor(invitation.role),
                        "link.refused",
                        {"invitation_id": invitation.id, "reason": reason},
                    )
                log.info("link refused: %s", reason)
                return None
            assert invitation is not None and session is not None
            first = invitation.opened_at is None
            key = device_key if device_key and not first else secrets.token_urlsafe(24)
            if first:
                invitation.opened_at = now
                invitation.device_key = hashlib.sha256(key.encode()).hexdigest()
            await self._append(
                db,
                session.id,
                Actor(invitation.role),
                "link.opened",
                {"invitation_id": invitation.id, "first": first},
                fact=SessionFact.LINK_OPENED if invitation.role == PATIENT else None,
            )
            return LinkOpening(session.id, invitation.id, invitation.role, key)

    async def check_link(self, token: str, device_key: str | None) -> LinkOpening | None:
        """The opening a link already made from this browser, or None; records nothing.

        Used by the page's own requests (its WebSocket): the link must be valid, already opened,
        and ``device_key`` the key given to the browser that opened it.
        """
        if not device_key or not TOKEN_PATTERN.fullmatch(token):
            return None
        device_hash = hashlib.sha256(device_key.encode()).hexdigest()
        async with self.db() as db:
            invitation = await db.scalar(
                select(Invitation).where(Invitation.token_hash == hash_token(token))
            )
            if (
                invitation is None
                or invitation.revoked_at is not None
                or invitation.expires_at <= utcnow()
                or invitation.device_key is None
                or not secrets.compare_digest(invitation.device_key, device_hash)
            ):
                return None
            session = await db.get(VisioSession, invitation.session_id)
            if session is None or session.state in FINAL_STATES:
                return None
            return LinkOpening(session.id, invitation.id, invitation.role, device_key)

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
        async with self._transaction() as db:
            return await self._append(db, session_id, actor, kind, details or {}, fact=fact)

    async def end(
        self, session_id: str, actor: Actor, reason: str = "ended_by_regulator"
    ) -> SessionDetail:
        """End a session: its links stop working; its history stays."""
        async with self._transaction() as db:
            session = await self._open_session_row(db, session_id)
            session.ended_at = utcnow()
            session.ended_by = actor.name
            session.end_reason = reason
            await self._append(
                db, session_id, actor, "session.ended", {"reason": reason}, fact=SessionFact.ENDED
            )
        await self._forget(session_id)
        return await self.get(session_id)

    async def expire_idle(self) -> int:
        """Expire sessions idle for longer than ``sessions.idle_expiry``; returns how many."""
        horizon = utcnow() - timedelta(seconds=self.settings.sessions.idle_expiry)
        async with self._transaction() as db:
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
                await self._append(
                    db, session.id, SYSTEM, "session.expired", {}, fact=SessionFact.EXPIRED
                )
        for session in expired:
            await self._forget(session.id)
        return len(expired)

    async def purge(self) -> int:
        """Delete sessions ended more than ``sessions.retention_days`` ago (and their rows)."""
        horizon = utcnow() - timedelta(days=self.settings.sessions.retention_days)
        async with self._transaction() as db:
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
                self._tokens.pop(invitation_id, None)
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
        async with self.db() as db:
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

    async def history(
        self, filters: SessionFilter
    ) -> tuple[list[tuple[VisioSession, list[Invitation]]], int]:
        """Sessions matching ``filters`` with their invitations, newest first, and how many
        match in all."""
        query = select(VisioSession)
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
        if filters.number:
            invited = select(Invitation.session_id).where(Invitation.destination == filters.number)
            query = query.where(
                (VisioSession.caller_number == filters.number) | VisioSession.id.in_(invited)
            )
        async with self.db() as db:
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

    # -- internals -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction; the events it appended are published once it has committed."""
        async with self.db.begin() as db:
            yield db
        for update in db.info.pop(_UPDATES, ()):
            for listener in list(self.listeners):
                try:
                    listener(update)
                except Exception:  # one broken listener must not starve the others
                    log.exception("session listener %r failed", listener)

    async def _open_session_row(self, db: AsyncSession, session_id: str) -> VisioSession:
        session = await self._locked(db, session_id)
        if session.state in FINAL_STATES:
            raise SessionClosed(state=session.state)
        return session

    async def _locked(self, db: AsyncSession, session_id: str) -> VisioSession:
        """The session's row, locked for update, loaded once per transaction.

        Each :meth:`_transaction` is a fresh ``AsyncSession``: what ``db.info`` holds lives as
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

    async def _append(
        self,
        db: AsyncSession,
        session_id: str,
        actor: Actor,
        kind: str,
        details: dict[str, Any],
        *,
        fact: SessionFact | None = None,
    ) -> SessionEvent:
        session = await self._locked(db, session_id)
        if fact is not None:
            try:
                new_state = next_state(SessionState(session.state), fact)
            except InvalidTransition as exc:
                if exc.state in FINAL_STATES:
                    raise SessionClosed(state=exc.state.value) from exc
                raise InvalidRequest("invalid_transition", detail=str(exc)) from exc
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
        # Listeners hear it once the transaction commits, never a fact that was rolled back.
        db.info.setdefault(_UPDATES, []).append(SessionUpdate(session=session, event=event))
        return event
