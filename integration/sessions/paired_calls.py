"""Sessions paired with live calls: the pairing written to Asterisk, and the call's life logged.

A session opened from a call is paired with it: the caller's channel gets ``VISIOREGUL_SESSION``
(so CDR/CEL carry it), retried in the background while the call lives when Asterisk cannot be
reached for a moment. The call's answer, transfers and end then go to the session's log; the
session stays open when the call ends (the video may go on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..telephony.events import CallAnswered, CallEnded, CallTransferred
from ..telephony.pairing import Pairing
from ..telephony.registry import CallState, CallUpdate, LiveCallRegistry
from .errors import SessionClosed
from .journal import SYSTEM, Actor, SessionJournal
from .models import VisioSession
from .state import FINAL_STATES

__all__ = ["PAIRING_RETRY_DELAYS", "PairedCalls"]

log = logging.getLogger(__name__)

PAIRING_RETRY_DELAYS: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 30.0)
"""Seconds before each pairing retry after a failure; the last repeats while the call is up."""

_ASTERISK = Actor("asterisk")


@dataclass(kw_only=True)
class PairedCalls:
    """Which open sessions are paired with which live call, and what the calls do."""

    journal: SessionJournal
    registry: LiveCallRegistry
    pairing: Pairing
    """Writes the pairing variable to Asterisk."""
    spawn: Callable[[Coroutine[Any, Any, None]], None]
    """Runs a coroutine in the background, cancelled when the service closes."""
    _call_sessions: dict[str, set[str]] = field(default_factory=dict, init=False)
    """Open sessions paired with each live call id."""

    async def reload(self, db: AsyncSession) -> None:
        """After a restart: the open sessions' pairings, from their rows."""
        rows = await db.execute(
            select(VisioSession.id, VisioSession.call_id).where(
                VisioSession.call_id.is_not(None),
                VisioSession.state.not_in([s.value for s in FINAL_STATES]),
            )
        )
        for session_id, call_id in rows:
            if call_id is not None:
                self._call_sessions.setdefault(call_id, set()).add(session_id)

    def pair(self, session_id: str, call_id: str, channel: str) -> None:
        """A session was opened from the call: pair them (in the background)."""
        self._call_sessions.setdefault(call_id, set()).add(session_id)
        self.spawn(self._pair(session_id, call_id, channel))

    def forget(self, session_id: str) -> None:
        """A closed session: its call is none of ours any more."""
        for call_id, sessions in list(self._call_sessions.items()):
            sessions.discard(session_id)
            if not sessions:
                del self._call_sessions[call_id]

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
            self.spawn(
                self._record_quietly(session_id, kind, {"call_id": event.call_id, **details})
            )
        if isinstance(event, CallEnded):
            # The session stays open: the video may go on after the call.
            self._call_sessions.pop(update.call.call_id, None)

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
                    await self._record(
                        session_id,
                        SYSTEM,
                        "call.pairing_failed",
                        {"channel": channel, "error": str(exc)[:200]},
                    )
            else:
                with contextlib.suppress(SessionClosed):  # closed during a retry
                    await self._record(session_id, SYSTEM, "call.paired", {"channel": channel})
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
        # Gone from here when the call ended or the session closed (see :meth:`forget`).
        if session_id not in self._call_sessions.get(call_id, ()):
            return None
        return call.channel

    async def _record(
        self, session_id: str, actor: Actor, kind: str, details: dict[str, Any]
    ) -> None:
        async with self.journal.transaction() as db:
            await self.journal.append(db, session_id, actor, kind, details)

    async def _record_quietly(self, session_id: str, kind: str, details: dict[str, Any]) -> None:
        with contextlib.suppress(SessionClosed):
            await self._record(session_id, _ASTERISK, kind, details)
