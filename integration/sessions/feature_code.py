"""The phone key that sends the video link: a regulator presses it on the desk phone during a call.

The shipped ``[visioregul-feature]`` subroutine emits the user event ``VisioRegulInvite`` from the
regulator's channel, then waits at most 3 seconds for ``VISIOREGUL_INVITE`` on that channel:
``sent`` gives two short beeps, ``refused`` the error tone, and so does silence (the service
stopped, slow or unreachable). Telephony never waits longer on the service.

On each press: find the live call, and when the caller's number can receive an SMS, open a session
paired with the call and invite that number, exactly as the console's one click does; then answer
the phone. A refusal is written to the audit log with its reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .. import audit
from ..background import BackgroundTasks
from ..centres import CentreDirectory
from ..errors import DomainError
from ..store.claims import claim
from ..store.models import DEFAULT_CENTRE_ID
from ..telephony.facts import FeatureCodePressed, position_of
from ..telephony.pairing import INVITE_VARIABLE
from ..telephony.registry import CallState, LiveCallRegistry
from .services import Actor, SessionService

__all__ = [
    "ELSEWHERE",
    "PHONE_WAIT",
    "REFUSED",
    "SENT",
    "FeatureCode",
    "FeatureCodeOutcome",
    "VariableWriter",
]

log = logging.getLogger(__name__)

SENT = "sent"
"""``VISIOREGUL_INVITE`` when the session is open and the SMS on its way: two short beeps."""
REFUSED = "refused"
"""``VISIOREGUL_INVITE`` when nothing was sent: the error tone."""
ELSEWHERE = "elsewhere"
"""Another instance claimed the press: it answers the phone, this one does nothing."""
PHONE_WAIT = 3.0
"""How long the shipped subroutine waits for the answer, in seconds (its WaitForCondition)."""


class VariableWriter(Protocol):
    """Sets a channel variable in Asterisk (``Pairing.set_variable``)."""

    async def __call__(
        self, channel: str, name: str, value: str, *, timeout: float | None = None
    ) -> None:
        """Set ``name=value`` on ``channel``; raise when it cannot be done."""


@dataclass(frozen=True, slots=True)
class FeatureCodeOutcome:
    """What a press gave."""

    answer: str
    """``sent`` or ``refused``: what the phone was told; ``elsewhere`` when another instance
    claimed the press (this one told the phone nothing)."""
    reason: str | None = None
    """Why it was refused: ``call_not_found``, ``call_ended``, the caller's kind when it gets no
    SMS (``landline``, ``special``, ``freephone``, ``premium``, ``short``, ``international``,
    ``withheld``, ``invalid``), ``in_progress``, the ``error_id`` of a refusal of the session
    domain (such as ``too_many_invitations_destination``), or ``error``."""
    session_id: str | None = None
    """The session opened, when sent."""
    answered: bool = False
    """Whether the answer reached Asterisk (else the phone times out: the error tone)."""


class FeatureCode:
    """Answers the phone key: opens a session for the call and invites the caller's mobile."""

    def __init__(
        self,
        sessions: SessionService,
        registry: LiveCallRegistry,
        db: async_sessionmaker[AsyncSession],
        write_variable: VariableWriter,
        *,
        centres: CentreDirectory | None = None,
        language: str = "fr",
        instance: str = "",
    ) -> None:
        """``write_variable`` answers the phone; ``centres`` tells the call's centre (the
        session's); ``language`` is the SMS's; ``instance`` names this one among several."""
        self.sessions = sessions
        self.centres = centres
        self.registry = registry
        self.db = db
        self.write_variable = write_variable
        self.language = language
        self.instance = instance
        self._background = BackgroundTasks("phone key handling", log)
        self._in_progress: set[str] = set()
        """Calls whose press is being handled: a second press meanwhile is refused, not doubled."""

    def on_pressed(self, fact: FeatureCodePressed) -> None:
        """Telephony listener: handle the press in the background and return at once."""
        self._spawn(self.handle(fact))

    async def handle(self, fact: FeatureCodePressed) -> FeatureCodeOutcome:
        """Decide, answer the phone, then write the audit line; return what happened.

        Every instance hears the press: only the one that claims it first acts.
        """
        if not await self._claim(fact):
            log.info("feature code on %s: handled by another instance", fact.channel.name)
            return FeatureCodeOutcome(ELSEWHERE)
        loop = asyncio.get_running_loop()
        started = loop.time()
        position = position_of(fact.channel.name)
        call = self.registry.get(fact.call_id)
        if position is None and call is not None:
            position = call.position
        actor = Actor(f"position:{position or 'unknown'}", position)
        outcome = await self._decide(fact, actor)
        remaining = PHONE_WAIT - (loop.time() - started)
        answered = await self._answer(fact, outcome.answer, remaining)
        outcome = FeatureCodeOutcome(outcome.answer, outcome.reason, outcome.session_id, answered)
        log.info(
            "feature code on %s for call %s: %s%s",
            fact.channel.name,
            fact.call_id,
            outcome.answer,
            f" ({outcome.reason})" if outcome.reason else "",
        )
        await self._audit(fact, actor, outcome)
        return outcome

    async def close(self) -> None:
        """Cancel presses still being handled, and wait for them. Safe to call twice."""
        await self._background.cancel_all()

    # -- internals -----------------------------------------------------------------------------

    async def _claim(self, fact: FeatureCodePressed) -> bool:
        if fact.press_id is None:
            return True  # a dialplan older than the press's id: one instance is assumed
        try:
            async with self.db.begin() as db:
                return await claim(db, f"feature-code:{fact.press_id}", self.instance)
        except Exception:  # the store is down: acting fails cleanly and answers "refused"
            log.warning("feature code: claiming the press failed", exc_info=True)
            return True

    def _spawn(self, coroutine: Coroutine[Any, Any, FeatureCodeOutcome]) -> None:
        self._background.spawn(coroutine, name="feature-code")

    async def _decide(self, fact: FeatureCodePressed, actor: Actor) -> FeatureCodeOutcome:
        call = self.registry.get(fact.call_id)
        if call is None:
            # Not a call of a line VisioRegul serves, or the service started after it was tagged
            # and has not seen it since.
            return FeatureCodeOutcome(REFUSED, "call_not_found")
        if call.state is CallState.ENDED:
            return FeatureCodeOutcome(REFUSED, "call_ended")
        if not call.caller.sms_capable or call.caller.e164 is None:
            # Not a mobile, withheld or invalid: the regulator asks for a mobile on the console.
            return FeatureCodeOutcome(REFUSED, call.caller.kind.value)
        if call.call_id in self._in_progress:
            return FeatureCodeOutcome(REFUSED, "in_progress")
        self._in_progress.add(call.call_id)
        try:
            # The session is the call's centre's, whichever desk pressed the key.
            detail = await self.sessions.open_session(
                actor,
                call.caller.e164,
                call_id=call.call_id,
                language=self.language,
                centre_id=self.centres.of_call(call) if self.centres else DEFAULT_CENTRE_ID,
            )
        except DomainError as exc:
            # Every refusal of the domain gives the error tone; the audit line says which.
            return FeatureCodeOutcome(REFUSED, exc.error_id)
        except Exception:
            log.exception("feature code: opening a session for call %s failed", call.call_id)
            return FeatureCodeOutcome(REFUSED, "error")
        finally:
            self._in_progress.discard(call.call_id)
        return FeatureCodeOutcome(SENT, session_id=detail.session.id)

    async def _answer(self, fact: FeatureCodePressed, answer: str, remaining: float) -> bool:
        if remaining <= 0:
            # The phone has played the error tone already; the variable still tells the truth.
            log.warning(
                "feature code on %s answered %.1f s after the phone stopped waiting",
                fact.channel.name,
                -remaining,
            )
        try:
            await self.write_variable(
                fact.channel.name, INVITE_VARIABLE, answer, timeout=max(remaining, 0.5)
            )
        except Exception as exc:  # the phone times out: the error tone
            log.warning("feature code: cannot answer %s: %s", fact.channel.name, exc or repr(exc))
            return False
        return True

    async def _audit(
        self, fact: FeatureCodePressed, actor: Actor, outcome: FeatureCodeOutcome
    ) -> None:
        details: dict[str, Any] = {"channel": fact.channel.name, "answered": outcome.answered}
        if outcome.answer == SENT:
            action = "feature_code.sent"
            details["session_id"] = outcome.session_id
        else:
            action = "feature_code.refused"
            details["reason"] = outcome.reason
        try:
            async with self.db.begin() as db:
                await audit.record(
                    db, actor=actor.name, action=action, target=fact.call_id, details=details
                )
        except Exception:  # the phone has its answer; a lost audit line is only logged
            log.exception("feature code: audit of call %s failed", fact.call_id)
