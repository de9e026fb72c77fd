"""What the patient's page reports of its own conditions, for the regulator's timeline.

Two messages, both the patient's (a third party's page shows the same screens but says nothing of
the patient):

``{"type": "browser_unsupported", "reason": "in_app_view" | "no_camera_api", "app": str | null}``
    the link opened in an e-mail or social app's in-app view (``app``: which one, when the page
    recognised it) or in a browser without camera access; the page shows how to open it in
    Chrome or Safari instead of asking for the camera. Recorded as ``patient.browser_unsupported``.
``{"type": "reconnecting", "reason": "network_change" | "ice_disconnected" | "ice_failed"}``
    the page builds a new video connection (the network changed, or the current one stopped
    answering). Recorded as ``video.reconnecting``.

A page reports a condition once when it sees it; a socket that repeats itself past a few
reports is not recorded further (the timeline stays readable, the page is not told).
"""

from __future__ import annotations

import logging
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from visioregul.integration.sessions.journal import Actor
from visioregul.integration.sessions.services import SessionService

__all__ = [
    "BROWSER_UNSUPPORTED",
    "REPORT_TYPES",
    "VIDEO_RECONNECTING",
    "BrowserUnsupported",
    "PageReport",
    "PageReports",
    "Reconnecting",
    "decode_report",
]

log = logging.getLogger(__name__)

BROWSER_UNSUPPORTED: Final = "patient.browser_unsupported"
"""Event kind: the patient's browser cannot open the camera (details ``reason``, ``app``)."""
VIDEO_RECONNECTING: Final = "video.reconnecting"
"""Event kind: the patient's page builds a new video connection (details ``reason``)."""

REPORT_TYPES: Final = frozenset({"browser_unsupported", "reconnecting"})
"""Message types this module handles."""

MAX_RECONNECTING: Final = 30
"""Reconnections recorded per socket: a page backs off to one every 15 s when its network keeps
failing, and a new socket is opened after a network change, so this leaves room for minutes."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1


class BrowserUnsupported(_Message):
    """The page cannot ask for the camera here."""

    type: Literal["browser_unsupported"]
    reason: Literal["in_app_view", "no_camera_api"]
    app: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9 ._/-]+$")
    """The app whose in-app view it is (``Facebook``, ``Instagram``...), as the page names it."""


class Reconnecting(_Message):
    """The page replaces its video connection."""

    type: Literal["reconnecting"]
    reason: Literal["network_change", "ice_disconnected", "ice_failed"]


PageReport = Annotated[BrowserUnsupported | Reconnecting, Field(discriminator="type")]
_ADAPTER: TypeAdapter[PageReport] = TypeAdapter(PageReport)


def decode_report(text: str) -> PageReport | None:
    """A report of the page, or None when the text is not one."""
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError:
        return None


class PageReports:
    """One socket's reports, recorded in its session's log."""

    def __init__(self, service: SessionService, session_id: str) -> None:
        self._service = service
        self._session_id = session_id
        self._browser: set[tuple[str, str | None]] = set()
        self._reconnecting = 0

    async def handle(self, actor: Actor, report: PageReport) -> None:
        """Record ``report`` (once per browser condition, a bounded number of reconnections)."""
        if isinstance(report, BrowserUnsupported):
            key = (report.reason, report.app)
            if key in self._browser:
                return
            self._browser.add(key)
            details: dict[str, object] = {"reason": report.reason, "app": report.app}
            await self._service.record(self._session_id, actor, BROWSER_UNSUPPORTED, details)
            return
        self._reconnecting += 1
        if self._reconnecting > MAX_RECONNECTING:
            log.info(
                "session %s: reconnection reports past %d ignored",
                self._session_id,
                MAX_RECONNECTING,
            )
            return
        await self._service.record(
            self._session_id, actor, VIDEO_RECONNECTING, {"reason": report.reason}
        )
