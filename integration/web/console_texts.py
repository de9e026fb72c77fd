"""Typed messages to the patient, over the console's WebSocket.

Console -> service:
    ``{"type": "text.send", "session_id": str, "text": str}`` a typed message, or
    ``{"type": "text.send", "session_id": str, "preset": str}`` a ready-made instruction
    (``show_person``, ``come_closer``, ``light_on``, ``stay_on_line``), written in the patient's
    language.

Service -> console:
    ``{"type": "text.accepted", "session_id", "event"}``: the message is in the session's log
    (the consoles following the session also get it as a ``session.updated``).
    ``{"type": "text.error", "session_id", "error_id", "message"}``: refused (empty, too long,
    too many at once, session closed or unknown).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import DomainError, error_body
from ..i18n import DEFAULT_LANGUAGE, Catalogue
from ..sessions.journal import Actor
from ..sessions.texts import TextMessages
from .notifier import Connection
from .schemas import event_json

__all__ = ["TEXT_TYPES", "ConsoleTexts", "SendText"]

log = logging.getLogger(__name__)

TEXT_TYPES = frozenset({"text.send"})
"""Message types this module handles."""


class SendText(BaseModel):
    """A message to the patient: typed or ready-made, one of the two."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["text.send"]
    session_id: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")
    text: str | None = Field(default=None, max_length=2000)
    """Cleaned and bounded (500 characters) by the session domain, which says why it refuses."""
    preset: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_of_text_or_preset(self) -> SendText:
        if (self.text is None) == (self.preset is None):
            raise ValueError("text or preset, one of the two")
        return self


@dataclass
class ConsoleTexts:
    """The typed messages one console socket sends."""

    texts: TextMessages
    connection: Connection
    actor: Actor
    catalogue: Catalogue
    language: str = DEFAULT_LANGUAGE

    async def handle(self, data: Mapping[str, Any]) -> None:
        """Act on one ``text.send`` from the console."""
        try:
            message = SendText.model_validate(data)
        except ValidationError:
            session_id = data.get("session_id")
            self.refuse(
                session_id if isinstance(session_id, str) else "", DomainError("invalid_message")
            )
            return
        try:
            event = await self.texts.send(
                message.session_id, self.actor, text=message.text, preset=message.preset
            )
        except DomainError as error:
            log.info("session %s: text refused: %s", message.session_id, error.error_id)
            self.refuse(message.session_id, error)
            return
        self.connection.send(
            {"type": "text.accepted", "session_id": message.session_id, "event": event_json(event)}
        )

    def refuse(self, session_id: str, error: DomainError) -> None:
        """Tell the console that its message about ``session_id`` was refused, and why."""
        body = error_body(error, self.catalogue, self.language)
        self.connection.send(
            {
                "type": "text.error",
                "session_id": session_id,
                "error_id": body["error_id"],
                "message": body["message"],
            }
        )
