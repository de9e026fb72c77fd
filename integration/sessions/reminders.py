"""Links nobody opened: after ``invitations.remind_after_minutes`` the session's log says so once
per link (``link.not_opened``), and the room offers to send it again, or by e-mail.

A caller who gets no SMS, or does not see it, waits on the phone for a video that never comes; the
regulator, busy with the call, may not notice how long it has been. The reminder is an event of
the session's log like any other: the room hears it at once, the history keeps it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select

from ..messaging import DeliveryStatus
from ..store.models import utcnow
from .journal import SYSTEM, SessionJournal
from .links import PATIENT
from .models import Invitation, SessionEvent, VisioSession
from .state import SessionState

__all__ = ["LINK_NOT_OPENED", "remind_unopened_links", "reminder_interval", "run_reminders"]

log = logging.getLogger(__name__)

LINK_NOT_OPENED = "link.not_opened"
"""The event kind: ``invitation_id``, ``channel``, ``minutes``."""

_WAITING_STATES = (SessionState.CREATED.value, SessionState.INVITED.value)
_UNDELIVERED = (DeliveryStatus.FAILED.value, DeliveryStatus.UNDELIVERED.value)


async def remind_unopened_links(journal: SessionJournal, after_minutes: float) -> int:
    """Log ``link.not_opened`` for each patient link sent over ``after_minutes`` ago, not opened,
    not revoked nor expired, not already reminded, whose session waits for it; returns how many.

    A link that could not be delivered is not reminded: the room already says so.
    """
    if after_minutes <= 0:
        return 0
    now = utcnow()
    async with journal.transaction() as db:
        candidates = list(
            await db.scalars(
                select(Invitation)
                .join(VisioSession, VisioSession.id == Invitation.session_id)
                .where(
                    Invitation.role == PATIENT,
                    Invitation.revoked_at.is_(None),
                    Invitation.opened_at.is_(None),
                    Invitation.created_at < now - timedelta(minutes=after_minutes),
                    Invitation.expires_at > now,
                    Invitation.delivery_status.not_in(_UNDELIVERED),
                    VisioSession.state.in_(_WAITING_STATES),
                )
                .order_by(Invitation.created_at, Invitation.id)
            )
        )
        if not candidates:
            return 0
        reminded = {
            str((event.details or {}).get("invitation_id"))
            for event in await db.scalars(
                select(SessionEvent).where(
                    SessionEvent.session_id.in_({i.session_id for i in candidates}),
                    SessionEvent.type == LINK_NOT_OPENED,
                )
            )
        }
        due = [invitation for invitation in candidates if invitation.id not in reminded]
        for invitation in due:
            await journal.append(
                db,
                invitation.session_id,
                SYSTEM,
                LINK_NOT_OPENED,
                {
                    "invitation_id": invitation.id,
                    "channel": invitation.channel,
                    "minutes": max(1, round(after_minutes)),
                },
            )
    for invitation in due:
        log.info("session %s: link not opened after %g min", invitation.session_id, after_minutes)
    return len(due)


def reminder_interval(after_minutes: float) -> float:
    """How often to look, in seconds: a quarter of the delay, between 0.5 s and 30 s."""
    return min(30.0, max(0.5, after_minutes * 60 / 4))


async def run_reminders(remind: Callable[[], Awaitable[int]], after_minutes: float) -> None:
    """Call ``remind()`` for ever at :func:`reminder_interval` (cancel to stop); a failed round
    is logged, the next one tries again."""
    if after_minutes <= 0:
        return
    interval = reminder_interval(after_minutes)
    while True:
        try:
            await remind()
        except Exception:  # the service must not stop for a reminder
            log.exception("link reminders failed")
        await asyncio.sleep(interval)
