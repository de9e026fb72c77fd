"""Opening sessions and inviting people: the session row, its links, the sending limits.

Each invitation is written with its event in one transaction, then handed to
:class:`~.delivery.InvitationDelivery` to send in the background; a session opened from a live
call is handed to :class:`~.paired_calls.PairedCalls` to be paired with it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..centres import CentreDirectory
from ..destinations import Destination, DestinationKind, parse_invitation_destination
from ..log_privacy import loggable
from ..messaging import Channel, DeliveryStatus
from ..ratelimit import RateLimiter, RateLimitExceeded
from ..settings import Settings
from ..shared_ratelimit import Limiter, LocalLimiter, StoreLimiter
from ..store.db import is_postgresql
from ..store.models import DEFAULT_CENTRE_ID, utcnow
from ..telephony.registry import LiveCallRegistry
from .delivery import InvitationDelivery
from .errors import CallNotFound, InvalidRole, InvitationNotFound, TooManyInvitations
from .history import SessionDetail
from .journal import Actor, SessionJournal
from .links import PATIENT, THIRD_PARTY
from .models import Invitation, SessionEvent, VisioSession
from .paired_calls import PairedCalls
from .state import SessionState
from .tokens import new_token

__all__ = ["SEND_TAKES_AT_MOST", "SessionOpening"]

SEND_TAKES_AT_MOST = timedelta(minutes=2)
"""Longer than any send with its automatic retries: a send still pending after this was
interrupted (its instance died)."""

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class SessionOpening:
    """Opens sessions, sends new invitations and sends failed ones again, within the limits."""

    settings: Settings
    registry: LiveCallRegistry
    journal: SessionJournal
    delivery: InvitationDelivery
    paired_calls: PairedCalls
    centres: CentreDirectory
    """Which centre a call belongs to, and the time zone of each centre's invitations."""
    _per_actor: Limiter = field(init=False)
    _per_destination: Limiter = field(init=False)
    _global: Limiter = field(init=False)

    def __post_init__(self) -> None:
        limits = self.settings.messaging
        self._per_actor = self._limiter("invite_regulator", limits.per_regulator_per_hour, 3600)
        self._per_destination = self._limiter(
            "invite_destination", limits.per_destination_per_hour, 3600
        )
        self._global = self._limiter("invite_global", limits.global_per_minute, 60)

    def _limiter(self, name: str, limit: int, period: int) -> Limiter:
        """Counted in the store when instances share it (PostgreSQL): behind a load balancer,
        each instance counting for itself would let N times the invitations out."""
        if is_postgresql(self.settings.database.url):
            return StoreLimiter(name, limit, period, lambda: self.journal.db)
        return LocalLimiter(RateLimiter(limit, period))

    async def open_session(
        self,
        actor: Actor,
        destination: str,
        *,
        call_id: str | None = None,
        language: str = "fr",
        centre_id: int = DEFAULT_CENTRE_ID,
    ) -> SessionDetail:
        """Open a session of ``centre_id`` (paired with ``call_id`` when given: a call of that
        centre) and invite ``destination``."""
        target = parse_invitation_destination(destination, self.settings.telephony.region)
        call = self.registry.get(call_id) if call_id else None
        if call_id and (call is None or self.centres.of_call(call) != centre_id):
            # Another centre's call is answered exactly like an unknown one.
            raise CallNotFound()
        await self._check_limits(actor, target)
        now = utcnow()
        session = VisioSession(
            id=secrets.token_hex(16),
            centre_id=centre_id,
            state=SessionState.CREATED,
            created_at=now,
            updated_at=now,
            created_by=actor.name,
            position=actor.position,
            call_id=call_id,
            caller_number=call.caller.e164 if call else None,
        )
        async with self.journal.transaction() as db:
            db.add(session)
            # Its row first: the tables have foreign keys, the mapped classes no relationships
            # telling the flush which row goes first.
            await db.flush()
            self.journal.created(db, session)
            created = await self.journal.append(
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
            self.paired_calls.pair(session.id, call.call_id, call.channel)
        self.delivery.start(invitation, token, language, self.centres.time_zone(centre_id))
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
        sees_patient: bool = False,
    ) -> Invitation:
        """Send a new invitation; a new patient link revokes the previous patient links.

        ``sees_patient``: a third party may watch the patient's video (the regulator allowed it).
        """
        if role not in (PATIENT, THIRD_PARTY):
            raise InvalidRole(detail="role")
        target = parse_invitation_destination(destination, self.settings.telephony.region)
        await self._check_limits(actor, target)
        async with self.journal.transaction() as db:
            session = await self.journal.open_row(db, session_id)
            invitation, token, _ = await self._new_invitation(
                db, session, actor, target, role, sees_patient=sees_patient and role == THIRD_PARTY
            )
        self.delivery.start(invitation, token, language, self.centres.time_zone(session.centre_id))
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
            async with self.journal.transaction() as db:
                session = await self.journal.open_row(db, session_id)
                invitation = await db.get(Invitation, invitation_id)
                if invitation is None or invitation.session_id != session_id:
                    raise InvitationNotFound()
                if self.delivery.in_flight(invitation_id) or self._sent_elsewhere(invitation):
                    log.info("invitation %s: retry ignored, a send is in flight", invitation_id)
                    return invitation
                token = await self.delivery.token(db, invitation_id)
                if token is not None and invitation.revoked_at is None:
                    # Claimed at once: a second retry arriving meanwhile sees it.
                    self.delivery.claim(invitation_id)
                    claimed = True
                    invitation.delivery_status = DeliveryStatus.PENDING
                    invitation.sending_instance = self.settings.service.instance
                    invitation.sending_since = utcnow()
                    invitation.error_code = invitation.error_message = None
                    await self.journal.append(
                        db,
                        session_id,
                        actor,
                        "invitation.retried",
                        {"invitation_id": invitation_id},
                    )
        except BaseException:
            if claimed:
                self.delivery.release(invitation_id)
            raise
        if token is None or invitation.revoked_at is not None:
            # The token is gone (delivered, session closed, expired) or revoked: a fresh
            # invitation to the same place.
            return await self.invite(
                session_id, actor, invitation.destination, role=invitation.role, language=language
            )
        self.delivery.start(invitation, token, language, self.centres.time_zone(session.centre_id))
        return invitation

    def _sent_elsewhere(self, invitation: Invitation) -> bool:
        """Whether another instance is sending ``invitation`` now (it has not said how it went,
        and it began lately: a send takes seconds, one pending for minutes was interrupted)."""
        return (
            invitation.delivery_status == DeliveryStatus.PENDING
            and invitation.sending_instance not in (None, self.settings.service.instance)
            and invitation.sending_since is not None
            and utcnow() - invitation.sending_since < SEND_TAKES_AT_MOST
        )

    async def _check_limits(self, actor: Actor, target: Destination) -> None:
        checks = [
            (self._global, "global", "all"),
            (self._per_actor, "regulator", actor.name),
            (self._per_destination, "destination", target.value.lower()),
        ]
        for limiter, scope, key in checks:
            try:
                await limiter.hit(key)
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
        sees_patient: bool = False,
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
                await self.delivery.forget(db, old.id)
                await self.journal.append(
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
            sees_patient=sees_patient,
            sending_instance=self.settings.service.instance,
            sending_since=now,
        )
        db.add(invitation)
        await self.delivery.remember(db, invitation, token)
        event = await self.journal.append(
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
                **({"sees_patient": True} if sees_patient else {}),
            },
        )
        return invitation, token, event
