"""Typed messages in the room, both ways: for a caller who cannot speak, or a call that dropped.

The regulator types a message or picks a ready-made instruction (:data:`PRESETS`, written in the
patient's language from the catalogue); the patient answers by text. Each message is an event of
the session's log (``text.sent`` from the regulator, ``text.received`` from the patient) holding
its text, so the console's timeline, the history and the consoles following the session see it
like any other step; the patient's page hears it through :meth:`TextMessages.listen`.

Texts are bounded (:data:`MAX_TEXT` characters), cleaned of control characters, and
rate-limited per session and side: a flood is refused with :class:`TooManyTexts`.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import DomainError
from ..i18n import DEFAULT_LANGUAGE, Catalogue
from ..ratelimit import RateLimiter, RateLimitExceeded
from .errors import SessionClosed
from .journal import Actor, SessionUpdate
from .models import SessionEvent
from .services import SessionService
from .state import FINAL_STATES

__all__ = [
    "MAX_TEXT",
    "PRESETS",
    "TEXT_EVENTS",
    "TEXT_RECEIVED",
    "TEXT_SENT",
    "InvalidText",
    "TextMessages",
    "TooManyTexts",
    "clean_text",
]

log = logging.getLogger(__name__)

MAX_TEXT: Final = 500
"""Characters in one message, after cleaning: a few sentences, never a document."""
TEXT_SENT: Final = "text.sent"
"""Event of a message from the regulator (details: ``text``, and ``preset`` when picked)."""
TEXT_RECEIVED: Final = "text.received"
"""Event of a message from the patient (details: ``text``)."""
TEXT_EVENTS: Final = frozenset({TEXT_SENT, TEXT_RECEIVED})
PRESETS: Final = ("show_person", "come_closer", "light_on", "stay_on_line")
"""Ready-made instructions; their text is ``patient.text.preset.<key>`` in the catalogue."""
_LIMIT: Final = 10
_PERIOD: Final = 30.0
"""At most ten messages each way in thirty seconds: faster than anyone types."""

TextListener = Callable[[SessionEvent], None]


class InvalidText(DomainError):
    """An empty message (``invalid_text``), a too long one (``text_too_long``), or an unknown
    ready-made instruction (``unknown_preset``)."""

    error_id = "invalid_text"


class TooManyTexts(DomainError):
    """Too many messages in a short time (details: ``retry_after`` in seconds)."""

    error_id = "too_many_texts"


def clean_text(raw: str) -> str:
    """``raw`` without control characters (line breaks kept, tabs as spaces), trimmed; raise
    :class:`InvalidText` when nothing is left or it is longer than :data:`MAX_TEXT`."""
    kept = []
    for char in raw.replace("\r\n", "\n").replace("\t", " "):
        category = unicodedata.category(char)
        # Cc: C0/C1 controls (NUL breaks PostgreSQL's JSON); Cs: lone surrogates; the
        # bidirectional overrides (Cf) could disguise the text on the other side.
        if char == "\n" or category not in ("Cc", "Cs", "Cf"):
            kept.append(char)
    text = "".join(kept).strip()
    if not text:
        raise InvalidText()
    if len(text) > MAX_TEXT:
        raise InvalidText("text_too_long", max=MAX_TEXT)
    return text


@dataclass
class TextMessages:
    """Sends, answers and hands out the room's typed messages."""

    service: SessionService
    catalogue: Catalogue
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(_LIMIT, _PERIOD))
    _languages: dict[str, str] = field(default_factory=dict)
    _listeners: dict[str, set[TextListener]] = field(default_factory=dict)

    def page_language(self, session_id: str, language: str) -> None:
        """The patient's page of ``session_id`` reads ``language``: instructions use it."""
        self._languages[session_id] = language

    async def send(
        self, session_id: str, actor: Actor, *, text: str | None = None, preset: str | None = None
    ) -> SessionEvent:
        """A message from the regulator: typed (``text``) or ready-made (``preset``)."""
        details: dict[str, Any]
        if preset is not None:
            if preset not in PRESETS:
                raise InvalidText("unknown_preset")
            language = self._languages.get(session_id, DEFAULT_LANGUAGE)
            key = f"patient.text.preset.{preset}"
            details = {"text": self.catalogue.get(language, key), "preset": preset}
        else:
            details = {"text": clean_text(text or "")}
        return await self._record(session_id, actor, TEXT_SENT, details, side="regulator")

    async def answer(self, session_id: str, actor: Actor, text: str) -> SessionEvent:
        """A message from the patient's page."""
        details = {"text": clean_text(text)}
        return await self._record(session_id, actor, TEXT_RECEIVED, details, side="patient")

    async def latest_from_regulator(self, session_id: str) -> SessionEvent | None:
        """The regulator's newest message of ``session_id``, or None: a page that connects again
        (its network was down, it was reloaded) shows it, whatever its old socket missed."""
        detail = await self.service.get(session_id)
        sent = [event for event in detail.events if event.type == TEXT_SENT]
        return sent[-1] if sent else None

    def listen(self, session_id: str, listener: TextListener) -> Callable[[], None]:
        """Hear the messages of one session, both ways; returns the function that stops."""
        self._listeners.setdefault(session_id, set()).add(listener)

        def stop() -> None:
            listeners = self._listeners.get(session_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[session_id]

        return stop

    def on_session(self, update: SessionUpdate) -> None:
        """Session listener: hand each committed message to the session's listeners."""
        session_id = update.session.id
        if update.session.state in FINAL_STATES:
            self._languages.pop(session_id, None)
        if update.event.type not in TEXT_EVENTS:
            return
        for listener in list(self._listeners.get(session_id, ())):
            try:
                listener(update.event)
            except Exception:  # one broken listener must not starve the others
                log.exception("text listener %r failed", listener)

    async def _record(
        self, session_id: str, actor: Actor, kind: str, details: dict[str, Any], *, side: str
    ) -> SessionEvent:
        detail = await self.service.get(session_id)  # SessionNotFound for an unknown id
        if detail.session.state in FINAL_STATES:
            raise SessionClosed(state=detail.session.state)
        try:
            self.limiter.hit(f"{session_id}:{side}")
        except RateLimitExceeded as exc:
            raise TooManyTexts(retry_after=exc.retry_after) from exc
        return await self.service.record(session_id, actor, kind, details)
