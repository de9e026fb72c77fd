"""Links and the browsers that use them: checked, opened by a person, taken over, bound.

A link is a capability that robots fetch before the person does (mail scanners, link previews,
in-app views): fetching it changes nothing. :meth:`PatientLinks.check` only reads.

The page's script, when it connects its socket, *opens* the link in that browser
(:meth:`PatientLinks.open`): ``link.opened`` the first time, ``link.taken_over`` when another
browser held it before (a patient who tapped in an e-mail app's in-app view and goes on to
Chrome). The browser that held it is told (its holder callback) and lets go. The browser is
*bound* only once its video reaches the relay (:meth:`PatientLinks.bind`); from then on every
other browser is refused. Each browser proves who it is with a random key (a cookie scoped to
the link) of which only the hash is stored.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..store.models import utcnow
from .journal import Actor, SessionJournal
from .models import Invitation, VisioSession
from .state import FINAL_STATES, SessionFact
from .tokens import TOKEN_PATTERN, hash_token

__all__ = [
    "DEVICE_KEY_PATTERN",
    "PATIENT",
    "THIRD_PARTY",
    "LinkAccess",
    "LinkOpening",
    "PatientLinks",
    "new_device_key",
]

log = logging.getLogger(__name__)

PATIENT = "patient"
THIRD_PARTY = "third_party"
DEVICE_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
"""What :func:`new_device_key` produces; anything else is no key at all."""


def new_device_key() -> str:
    """A fresh browser key (192 random bits)."""
    return secrets.token_urlsafe(24)


def _device_hash(device_key: str | None) -> str | None:
    if not device_key or not DEVICE_KEY_PATTERN.fullmatch(device_key):
        return None
    return hashlib.sha256(device_key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LinkAccess:
    """A valid link, as the browser that asked may use it."""

    session_id: str
    invitation_id: str
    role: str


@dataclass(frozen=True, slots=True)
class LinkOpening:
    """A link opened in one browser (its page's socket)."""

    session_id: str
    invitation_id: str
    role: str
    device_key: str
    """The browser's key: :meth:`PatientLinks.bind` takes it back."""
    taken_over: bool
    """Another browser held the link before this one."""
    sees_patient: bool
    """A third party's link that may watch the patient's video (the regulator allowed it)."""
    release: Callable[[], None]
    """Call when the browser's socket is gone: it is no longer told of a takeover."""


@dataclass
class _Holder:
    device_hash: str
    on_taken_over: Callable[[], None]


@dataclass
class PatientLinks:
    """Who may use each link, and when it becomes a browser's for good."""

    db: async_sessionmaker[AsyncSession]
    journal: SessionJournal
    _holders: dict[str, list[_Holder]] = field(default_factory=dict, init=False)
    """Sockets of this process holding each invitation's link, told when another takes it."""

    async def check(self, token: str, device_key: str | None) -> LinkAccess | None:
        """The link's session if ``device_key``'s browser may use it, else None; writes nothing.

        Refused: unknown, revoked, expired, session ended, or bound to another browser. The
        reason is logged, never told: no oracle.
        """
        device_hash = _device_hash(device_key)
        async with self.db() as db:
            invitation = await _invitation(db, token)
            session = await db.get(VisioSession, invitation.session_id) if invitation else None
            reason = _refusal(invitation, session, device_hash, utcnow())
        if reason is not None:
            log.info("link refused: %s", reason)
            return None
        assert invitation is not None
        return LinkAccess(invitation.session_id, invitation.id, invitation.role)

    async def session_of(self, token: str) -> str | None:
        """The open session a link is for, valid or not (to find where its room is); None for
        an unknown link or an ended session. Writes nothing."""
        async with self.db() as db:
            invitation = await _invitation(db, token)
            session = await db.get(VisioSession, invitation.session_id) if invitation else None
        if session is None or session.state in FINAL_STATES:
            return None
        return session.id

    async def open(
        self,
        token: str,
        device_key: str | None,
        *,
        role: str | None,
        on_taken_over: Callable[[], None],
    ) -> LinkOpening | None:
        """Open the link in ``device_key``'s browser (its page's socket connects), or None.

        ``role``: the role the page expects (None: the link's own). ``link.opened`` the first
        time; ``link.taken_over`` when another browser held it (that
        browser's ``on_taken_over`` is called); nothing when the same browser comes back. A
        refusal of a known link is logged as ``link.refused`` (a person's page asked).
        """
        device_hash = _device_hash(device_key)
        async with self.journal.transaction() as db:
            invitation = await _invitation(db, token)
            session = await self.journal.locked(db, invitation.session_id) if invitation else None
            now = utcnow()
            reason = _refusal(invitation, session, device_hash, now)
            if reason is None and invitation is not None and role not in (None, invitation.role):
                reason = "role"
            if reason is not None or device_hash is None:
                reason = reason or "no_key"
                if invitation is not None:
                    await self.journal.append(
                        db,
                        invitation.session_id,
                        Actor(invitation.role),
                        "link.refused",
                        {"invitation_id": invitation.id, "reason": reason},
                    )
                log.info("link refused: %s", reason)
                return None
            assert invitation is not None
            first = invitation.opened_at is None
            taken_over = not first and invitation.device_key != device_hash
            if first:
                invitation.opened_at = now
            invitation.device_key = device_hash
            if first or taken_over:
                await self.journal.append(
                    db,
                    invitation.session_id,
                    Actor(invitation.role),
                    "link.opened" if first else "link.taken_over",
                    {"invitation_id": invitation.id},
                    fact=SessionFact.LINK_OPENED if invitation.role == PATIENT else None,
                )
        assert device_key is not None
        holder = _Holder(device_hash, on_taken_over)
        self._take(invitation.id, holder)
        if taken_over:
            log.info("session %s: link taken over by another browser", invitation.session_id)
        return LinkOpening(
            invitation.session_id,
            invitation.id,
            invitation.role,
            device_key,
            taken_over,
            bool(invitation.sees_patient) and invitation.role == THIRD_PARTY,
            lambda: self._release(invitation.id, holder),
        )

    async def bind(self, invitation_id: str, device_key: str) -> bool:
        """The browser's video reached the relay: the link is that browser's from now on.

        False when another browser took the link meanwhile, or it is no longer valid.
        """
        device_hash = _device_hash(device_key)
        async with self.journal.transaction() as db:
            invitation = await db.get(Invitation, invitation_id)
            if invitation is None:
                return False
            session = await self.journal.locked(db, invitation.session_id)
            if invitation.bound_at is not None:
                return invitation.device_key == device_hash
            if (
                invitation.device_key != device_hash
                or _refusal(invitation, session, device_hash, utcnow()) is not None
            ):
                return False
            invitation.bound_at = utcnow()
        log.info("session %s: link bound to the browser that sends the video", session.id)
        return True

    def _take(self, invitation_id: str, holder: _Holder) -> None:
        holders = self._holders.setdefault(invitation_id, [])
        others = [h for h in holders if h.device_hash != holder.device_hash]
        holders[:] = [h for h in holders if h.device_hash == holder.device_hash]
        holders.append(holder)
        for other in others:
            try:
                other.on_taken_over()
            except Exception:  # one broken socket must not keep the link from the new one
                log.exception("telling a socket its link was taken over failed")

    def _release(self, invitation_id: str, holder: _Holder) -> None:
        holders = self._holders.get(invitation_id)
        if holders is None:
            return
        holders[:] = [h for h in holders if h is not holder]
        if not holders:
            del self._holders[invitation_id]


async def _invitation(db: AsyncSession, token: str) -> Invitation | None:
    token_hash = hash_token(token if TOKEN_PATTERN.fullmatch(token) else "")
    return await db.scalar(select(Invitation).where(Invitation.token_hash == token_hash))


def _refusal(
    invitation: Invitation | None,
    session: VisioSession | None,
    device_hash: str | None,
    now: datetime,
) -> str | None:
    """Why the link is refused to this browser, or None."""
    if invitation is None or session is None:
        return "unknown"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    if invitation.bound_at is not None and (
        device_hash is None
        or invitation.device_key is None
        or not secrets.compare_digest(invitation.device_key, device_hash)
    ):
        return "other_device"
    if session.state in FINAL_STATES:
        return "session_closed"
    return None
