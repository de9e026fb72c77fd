"""The one exception the media layer raises to its callers."""

from __future__ import annotations

from typing import Any

__all__ = ["MediaError"]


class MediaError(Exception):
    """A media request refused or failed, with a stable ``error_id`` slug.

    The web layer maps ``error_id`` to a status and a translated message; ``message`` is English,
    for logs and API clients; ``details`` carries the facts (the offending media kind, the codecs
    offered, ...).

    Error ids: ``invalid_sdp``, ``audio_refused``, ``unsupported_media``, ``no_video``,
    ``too_many_video``, ``wrong_direction``, ``codec_unsupported``, ``codec_mismatch`` (a second
    publisher without the room's codec), ``negotiation_timeout``,
    ``unknown_subscriber``, ``invalid_state``, ``no_publisher``, ``still_timeout``,
    ``still_failed``, ``room_closed``, ``test_busy``, ``invalid_candidate`` (a trickled ICE
    candidate that cannot be read).
    """

    def __init__(self, error_id: str, message: str | None = None, **details: Any) -> None:
        self.error_id = error_id
        self.message = message or error_id.replace("_", " ")
        self.details: dict[str, Any] = details
        super().__init__(f"{error_id}: {self.message}")
