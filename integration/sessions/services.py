"""The session domain's entry point: one object the edges call, each job done by its own part.

:class:`SessionService` wires the parts and keeps the few facts every caller needs (record an
event, end a session, read one back); the jobs live in their modules:

- opening sessions and inviting (:mod:`.opening`);
- sending invitations and following their delivery (:mod:`.delivery`);
- links and the browsers that use them (:mod:`.links`, reached as :attr:`SessionService.links`);
- the pairing with live calls (:mod:`.paired_calls`);
- restart recovery, expiry and retention (:mod:`.housekeeping`);
- reading sessions back (:mod:`.history`).

The caller of each method gets a result once the fact is committed; slow things (the SMS gateway,
the pairing write to Asterisk) happen in background tasks whose outcome is appended to the
session's log and published to listeners (the consoles). Every state change and its event row
are written in the same transaction (:mod:`.journal`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..background import BackgroundTasks
from ..centres import CentreDirectory
from ..messaging import DeliveryStatus, Senders
from ..settings import Settings
from ..storage import FileStorage
from ..store.models import DEFAULT_CENTRE_ID, Base, utcnow
from ..telephony.pairing import Pairing
from ..telephony.registry import CallUpdate, LiveCallRegistry
from .delivery import InvitationDelivery
from .fanout import SessionFanout
from .history import SessionDetail, SessionFilter, find_sessions, read_session, session_outcomes
from .housekeeping import Housekeeping
from .journal import SYSTEM, Actor, SessionJournal, SessionUpdate
from .links import PATIENT, PatientLinks
from .models import Invitation, SessionEvent, VisioSession
from .opening import SessionOpening
from .outcome import Outcome
from .paired_calls import PairedCalls
from .reminders import remind_unopened_links
from .retry_tokens import RetryTokens
from .state import SessionFact

__all__ = [
    "SYSTEM",
    "Actor",
    "SessionDetail",
    "SessionFilter",
    "SessionService",
    "SessionUpdate",
]

log = logging.getLogger(__name__)


@dataclass
class SessionService:
    """Everything that happens to visio sessions goes through here."""

    db: async_sessionmaker[AsyncSession]
    settings: Settings
    senders: Senders
    registry: LiveCallRegistry
    pairing: Pairing
    retry_key: bytes
    """The service's secret key, from which the key sealing the tokens kept for a retry is
    derived (shared by the instances, kept across restarts)."""
    listeners: list[Callable[[SessionUpdate], None]] = field(default_factory=list)
    """Told of each committed event (the consoles' notifier, the video rooms, the CAD)."""
    storage: FileStorage | None = None
    """Where the sessions' files are kept (purged with their sessions)."""
    centres: CentreDirectory | None = None
    """Which centre a call belongs to, and each centre's time zone; None: a single centre in
    ``service.time_zone``."""
    links: PatientLinks = field(init=False)
    """The links: checked, opened by a person's page, taken over, bound to a browser."""
    _background: BackgroundTasks = field(
        default_factory=lambda: BackgroundTasks("session background task", log)
    )

    def __post_init__(self) -> None:
        centres = self.centres or CentreDirectory(self.settings.service.time_zone)
        self.centres = centres
        self._journal = SessionJournal(self.db, self._publish)
        self._delivery = InvitationDelivery(
            settings=self.settings,
            senders=self.senders,
            journal=self._journal,
            spawn=self._spawn,
            tokens=RetryTokens.from_secret(self.retry_key),
        )
        self._paired_calls = PairedCalls(
            journal=self._journal, registry=self.registry, pairing=self.pairing, spawn=self._spawn
        )
        self._opening = SessionOpening(
            settings=self.settings,
            registry=self.registry,
            journal=self._journal,
            delivery=self._delivery,
            paired_calls=self._paired_calls,
            centres=centres,
        )
        self._housekeeping = Housekeeping(
            db=self.db,
            settings=self.settings,
            journal=self._journal,
            delivery=self._delivery,
            paired_calls=self._paired_calls,
            storage=self.storage,
        )
        self.links = PatientLinks(self.db, self._journal)

    def use_senders(self, senders: Senders) -> None:
        """Send through ``senders`` from now on (the delivery part holds them too)."""
        self.senders = senders
        self._delivery.senders = senders

    # -- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Reload what must survive a restart: pairings of open sessions, lost sends."""
        async with self._journal.transaction() as db:
            await self._paired_calls.reload(db)
            await self._housekeeping.recover(db)

    async def close(self) -> None:
        """Cancel background work (deliveries in flight are logged as interrupted next start),
        then release the senders (Twilio's HTTP session); safe to call more than once."""
        await self._background.cancel_all()
        await self.senders.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self._background.spawn(coroutine)

    # -- opening and inviting (see :mod:`.opening`) ---------------------------------------------

    async def open_session(
        self,
        actor: Actor,
        destination: str,
        *,
        call_id: str | None = None,
        language: str = "fr",
        centre_id: int = DEFAULT_CENTRE_ID,
    ) -> SessionDetail:
        """Open a session of ``centre_id`` (paired with ``call_id`` when given, a call of that
        centre: another's is ``CallNotFound``) and invite ``destination``."""
        return await self._opening.open_session(
            actor, destination, call_id=call_id, language=language, centre_id=centre_id
        )

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
        """Send a new invitation; a new patient link revokes the previous patient links; a third
        party ``sees_patient`` when the regulator allowed it."""
        return await self._opening.invite(
            session_id,
            actor,
            destination,
            role=role,
            language=language,
            sees_patient=sees_patient,
        )

    async def retry(
        self, session_id: str, invitation_id: str, actor: Actor, *, language: str = "fr"
    ) -> Invitation:
        """Send a failed invitation again (see :meth:`.opening.SessionOpening.retry`)."""
        return await self._opening.retry(session_id, invitation_id, actor, language=language)

    # -- delivery (see :mod:`.delivery`) ---------------------------------------------------------

    def link_for(self, token: str) -> str:
        """The URL a token opens."""
        return self._delivery.link_for(token)

    async def on_delivery_status(
        self, provider_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool:
        """A gateway's status report (Twilio callback); False when no invitation matches yet."""
        return await self._delivery.on_status(provider_id, status, error_code)

    # -- the paired call (see :mod:`.paired_calls`) ----------------------------------------------

    def on_call(self, update: CallUpdate) -> None:
        """Registry listener: a paired call's answer, transfers and end go to its sessions."""
        self._paired_calls.on_call(update)

    # -- facts and the end ---------------------------------------------------------------------

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

    async def record_with_rows(
        self,
        session_id: str,
        actor: Actor,
        kind: str,
        details: dict[str, Any],
        rows: Sequence[Base],
    ) -> SessionEvent:
        """Append an event to an open session with ``rows`` added in the same transaction (a
        file's record and the event that says who kept it); ``SessionClosed`` once it ended."""
        async with self._journal.transaction() as db:
            await self._journal.open_row(db, session_id)
            db.add_all(rows)
            return await self._journal.append(db, session_id, actor, kind, details)

    async def end(
        self, session_id: str, actor: Actor, reason: str = "ended_by_regulator"
    ) -> SessionDetail:
        """End a session: its links stop working; its history stays."""
        async with self._journal.transaction() as db:
            session = await self._journal.open_row(db, session_id)
            session.ended_at = utcnow()
            session.ended_by = actor.name
            session.end_reason = reason
            await self._journal.append(
                db, session_id, actor, "session.ended", {"reason": reason}, fact=SessionFact.ENDED
            )
        await self._housekeeping.forget(session_id)
        return await self.get(session_id)

    # -- housekeeping (see :mod:`.housekeeping`) -------------------------------------------------

    async def expire_idle(self) -> int:
        """Expire sessions idle for longer than ``sessions.idle_expiry``; returns how many."""
        return await self._housekeeping.expire_idle()

    async def interrupted_elsewhere(self) -> int:
        """Say which sends a stopped instance left pending (see :mod:`.housekeeping`)."""
        return await self._housekeeping.interrupted_elsewhere()

    async def purge(self) -> int:
        """Delete sessions ended more than ``sessions.retention_days`` ago, rows and files."""
        return await self._housekeeping.purge()

    # -- reading (see :mod:`.history`) -----------------------------------------------------------

    async def get(self, session_id: str) -> SessionDetail:
        """A session with its invitations and its timeline, in order."""
        return await read_session(self.db, session_id)

    async def history(
        self, filters: SessionFilter
    ) -> tuple[list[tuple[VisioSession, list[Invitation]]], int]:
        """Sessions matching ``filters`` with their invitations, newest first, and how many
        match in all."""
        return await find_sessions(self.db, filters)

    async def remind_unopened_links(self) -> int:
        """Log ``link.not_opened`` once for each patient link not opened in time (see
        :mod:`.reminders`); returns how many."""
        return await remind_unopened_links(
            self._journal, self.settings.invitations.remind_after_minutes
        )

    async def outcomes(self, session_ids: Sequence[str]) -> dict[str, Outcome]:
        """The outcome of each of these sessions, read from their logs."""
        return await session_outcomes(self.db, session_ids)

    def share_with_other_instances(self, fanout: SessionFanout) -> None:
        """Announce every event to the other instances through ``fanout``, and hand theirs to
        this instance's listeners."""
        self._journal.announce = fanout.announce

    def publish_from_elsewhere(self, update: SessionUpdate) -> None:
        """An event another instance wrote: tell this instance's listeners."""
        self._publish(update)

    # -- internals -----------------------------------------------------------------------------

    def _publish(self, update: SessionUpdate) -> None:
        """Tell every listener about a committed event."""
        for listener in list(self.listeners):
            try:
                listener(update)
            except Exception:  # one broken listener must not starve the others
                log.exception("session listener %r failed", listener)
