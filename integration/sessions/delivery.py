"""Sending invitations: the gateway call, its automatic retries, and the gateway's status reports.

The links' tokens are stored hashed only: the ones of invitations not yet delivered are also kept
sealed (:mod:`.retry_tokens`), so that a regulator can have the same link sent again, from any
instance, or after a restart. Everything this writes goes
through the session service's transaction and event log, handed over by the service that owns
this object (:class:`~.services.SessionService`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..messaging import (
    Channel,
    DeliveryError,
    DeliveryStatus,
    OutgoingMessage,
    Senders,
    render_invitation,
)
from ..settings import Settings
from .early_statuses import keep_early, take_early
from .journal import SYSTEM, Actor, SessionJournal
from .models import Invitation
from .retry_tokens import RetryTokens
from .state import FINAL_STATES, SessionFact

__all__ = ["InvitationDelivery"]

log = logging.getLogger(__name__)

_RETRY_DELAYS = (1.0, 3.0)
"""Delays before resending when the gateway could not be reached at all (nothing was sent)."""
_PROGRESS = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.UNDELIVERED: 3,
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.DELIVERED: 4,
    DeliveryStatus.SIMULATED: 4,
}
"""How far a message has gone: a status report that goes backwards is a late one, not news."""
GATEWAY = Actor("gateway")
"""Who the gateway's status reports are written by."""


@dataclass(kw_only=True)
class InvitationDelivery:
    """Sends invitations in the background and follows them until the gateway's last word."""

    settings: Settings
    senders: Senders
    journal: SessionJournal
    """The session service's transactions and event log: all this writes goes through it."""
    spawn: Callable[[Coroutine[Any, Any, None]], None]
    """Runs a coroutine in the background, cancelled when the service closes."""
    tokens: RetryTokens
    """Tokens of invitations not yet delivered, kept sealed in the store, for a retry by hand."""
    _sending: set[str] = field(default_factory=set, init=False)
    """Invitations being sent right now (automatic retries included)."""

    # -- tokens and sends in flight ------------------------------------------------------------

    async def remember(self, db: AsyncSession, invitation: Invitation, token: str) -> None:
        """Keep an invitation's token until it is delivered, for a retry by hand (in ``db``'s
        transaction, the one that adds the invitation)."""
        await self.tokens.keep(db, invitation.id, token, invitation.expires_at)

    async def token(self, db: AsyncSession, invitation_id: str) -> str | None:
        """The token kept for an invitation, if it still is."""
        return await self.tokens.find(db, invitation_id)

    async def forget(self, db: AsyncSession, invitation_id: str) -> None:
        """The invitation's link will never be sent again (delivered, revoked, session closed)."""
        await self.tokens.forget(db, invitation_id)

    def in_flight(self, invitation_id: str) -> bool:
        """Whether the invitation is being sent right now (automatic retries included)."""
        return invitation_id in self._sending

    def claim(self, invitation_id: str) -> None:
        """Mark the invitation as being sent, before its send starts: a second send at the same
        time could reach the patient twice."""
        self._sending.add(invitation_id)

    def release(self, invitation_id: str) -> None:
        """Undo :meth:`claim` when the send will not start after all."""
        self._sending.discard(invitation_id)

    def start(
        self, invitation: Invitation, token: str, language: str, time_zone: str | None = None
    ) -> None:
        """Send ``invitation`` in the background (claimed first, if not already); its times are
        written in ``time_zone`` (the session's centre's), else the service's."""
        self.claim(invitation.id)
        zone = time_zone or self.settings.service.time_zone
        self.spawn(self._deliver(invitation, token, language, zone))

    def link_for(self, token: str) -> str:
        """The URL a token opens."""
        return f"{self.settings.service.public_url}/p/{token}"

    # -- sending -------------------------------------------------------------------------------

    async def _deliver(
        self, invitation: Invitation, token: str, language: str, time_zone: str
    ) -> None:
        """Send ``invitation`` (as it was just written: nothing is read back before the send)."""
        try:
            await self._send(invitation, token, language, time_zone)
        finally:
            self.release(invitation.id)

    async def _send(
        self, invitation: Invitation, token: str, language: str, time_zone: str
    ) -> None:
        invitation_id = invitation.id
        channel = Channel(invitation.channel)
        rendered = render_invitation(
            language,
            channel,
            role=invitation.role,  # type: ignore[arg-type]
            link=self.link_for(token),
            expires_at=invitation.expires_at,
            sender_name=self.settings.messaging.sender_name,
            timezone=time_zone,
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
                if result.provider_id:
                    await self._apply_early(result.provider_id)
                return
        assert error is not None
        async with self.journal.transaction() as db:
            row = await db.get(Invitation, invitation_id)
            if row is None:
                return
            await self.journal.locked(db, row.session_id)  # lock order: session, then invitation
            row.delivery_status = DeliveryStatus.FAILED
            row.error_code = error.provider_code or error.error_id
            row.error_message = str(error.message)[:255]
            await self.journal.append(
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
        async with self.journal.transaction() as db:
            invitation = await db.get(Invitation, invitation_id)
            if invitation is not None:
                invitation.attempts += 1

    async def _delivered(
        self, invitation_id: str, status: DeliveryStatus, provider_id: str | None
    ) -> None:
        async with self.journal.transaction() as db:
            invitation = await db.get(Invitation, invitation_id)
            if invitation is None:
                return
            # Lock order: the session's row first, then its invitation, as the link's opening
            # does; changing the invitation first (flushed before the session's lock) deadlocks
            # with a link opened at that moment, on PostgreSQL.
            session = await self.journal.locked(db, invitation.session_id)
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
            closed = session.state in FINAL_STATES
            # The local outbox sends nothing: its message is "simulated", never "sent".
            simulated = status is DeliveryStatus.SIMULATED
            await self.journal.append(
                db,
                invitation.session_id,
                SYSTEM,
                "invitation.simulated" if simulated else "invitation.sent",
                details,
                fact=None if closed else SessionFact.INVITATION_SENT,
            )
            if simulated or status is DeliveryStatus.DELIVERED:
                await self.forget(db, invitation_id)
            if status is DeliveryStatus.DELIVERED:
                await self.journal.append(
                    db,
                    invitation.session_id,
                    SYSTEM,
                    "invitation.delivered",
                    {"invitation_id": invitation_id},
                )

    # -- the gateway's reports -----------------------------------------------------------------

    async def on_status(
        self, provider_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool:
        """A gateway's status report (Twilio callback); False when no invitation matches yet.

        A replayed report, or one older than what is known (callbacks may arrive out of order),
        changes nothing. A report about a message id not stored yet (it can overtake the
        gateway's answer to the send) is kept in the store and applied once the id is stored
        (see ``early_statuses``).
        """
        if await self._apply(provider_id, status, error_code):
            return True
        async with self.journal.transaction() as db:
            await keep_early(db, provider_id, status, error_code, _PROGRESS)
        # The sender may have stored the id meanwhile, and looked for this report too early.
        return await self._apply_early(provider_id)

    async def _apply_early(self, provider_id: str) -> bool:
        """Apply the report kept for ``provider_id``, if any (its invitation is stored)."""
        async with self.journal.transaction() as db:
            if await db.scalar(select(Invitation.id).where(Invitation.provider_id == provider_id)):
                early = await take_early(db, provider_id)
            else:
                early = None
        return early is not None and await self._apply(provider_id, *early)

    async def _apply(
        self, provider_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool:
        """Apply a report to its invitation; False when no invitation has the id yet."""
        async with self.journal.transaction() as db:
            invitation = await db.scalar(
                select(Invitation).where(Invitation.provider_id == provider_id)
            )
            if invitation is None:
                return False
            current = DeliveryStatus(invitation.delivery_status)
            if status == current or _PROGRESS[status] < _PROGRESS[current]:
                return True
            await self.journal.locked(db, invitation.session_id)  # session, then invitation
            if status is DeliveryStatus.DELIVERED:
                await self.forget(db, invitation.id)
            invitation.delivery_status = status
            invitation.error_code = error_code
            kind = {
                DeliveryStatus.DELIVERED: "invitation.delivered",
                DeliveryStatus.UNDELIVERED: "invitation.undelivered",
                DeliveryStatus.FAILED: "invitation.failed",
            }.get(status, "invitation.status")
            await self.journal.append(
                db,
                invitation.session_id,
                GATEWAY,
                kind,
                {"invitation_id": invitation.id, "status": status.value, "error_code": error_code},
            )
        return True
