"""The domain's refusals: plain exceptions with a stable ``error_id`` and details, no HTTP.

The session domain, the invitations' destinations and the video raise subclasses of
:class:`DomainError`; the media layer raises its own :class:`~visioregul.media.MediaError` (it
imports nothing of the rest) with the same ``error_id``/``details`` shape. Each edge translates
them: the web layer to an HTTP status (one table, ``web/errors.py``), the sockets to an error
message, the phone key to its tone. :func:`error_body` is the part they share: the error as
JSON, its message from the catalogue (``error.<error_id>``) in the reader's language.
"""

from __future__ import annotations

from typing import Any, Protocol

from visioregul.media import MediaError

from .i18n import Catalogue

__all__ = ["DomainError", "Refusal", "RefusalError", "error_body"]


class DomainError(Exception):
    """A refusal of the domain that the person or the client can act on."""

    error_id: str = "invalid_request"
    """The slug clients and the catalogue key on; the class gives the default, an instance may
    carry a more precise one."""

    def __init__(self, error_id: str | None = None, **details: Any) -> None:
        self.error_id = error_id or type(self).error_id
        self.details: dict[str, Any] = details
        super().__init__(f"{self.error_id}: {details}")

    @property
    def message_key(self) -> str:
        """The catalogue key of the error's message."""
        return f"error.{self.error_id}"


RefusalError = DomainError | MediaError
"""Every refusal an edge translates."""


class Refusal(Protocol):
    """What every refusal carries, whichever layer raised it."""

    error_id: str
    details: dict[str, Any]


def error_body(error: Refusal, catalogue: Catalogue, language: str) -> dict[str, Any]:
    """The error as the clients get it: ``error_id``, ``message`` in ``language``, ``details``."""
    details = dict(error.details)
    message = catalogue.get(language, f"error.{error.error_id}", **details)
    return {"error_id": error.error_id, "message": message, "details": details}
