"""Which network path a page's video took, or why it found none, as the page reports it.

Page -> service, on the patient page's socket (only about the page's own publication):
    ``{"type": "path", "path": "direct" | "turn-udp" | "turn-tcp" | "turn-tls",
    "rtt_ms": int | null, "local_type": "host" | "srflx" | "prflx" | "relay",
    "relay_protocol": "udp" | "tcp" | "tls" | null, "remote_type": ...}`` once the video's
    connection is up and each time its path changes
    (from ``getStats()``: the selected candidate pair's local candidate and round trip);
    ``{"type": "no_path", "reason": "turn_unreachable" | "turn_refused" | "no_candidates"}`` when
    ICE failed with no relay candidate while TURN servers were given.

Each becomes a session event, ``video.path`` or ``video.no_path``, once per change: the same path
reported again (a new sample, the same failure at the next attempt) records nothing. A path
carries, as a cross-check, the type of the page's candidate as the service's own end nominated it
(``service_remote_type``: ``relay`` when the video comes through TURN).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from visioregul.integration.sessions.journal import Actor
from visioregul.integration.sessions.services import SessionService

__all__ = ["NO_PATH", "PATH", "NoPathMessage", "PathMessage", "PathReports"]

PATH = "video.path"
"""Session event: the page's video took this path (details: path, rtt_ms, local_type,
remote_type, participant_id)."""
NO_PATH = "video.no_path"
"""Session event: the page's video found no network path (details: reason, participant_id)."""

CandidateType = Literal["host", "srflx", "prflx", "relay"]
_RELAY_PATHS = {"udp": "turn-udp", "tcp": "turn-tcp", "tls": "turn-tls"}


class PathMessage(BaseModel):
    """The path the page's video took, from its selected candidate pair."""

    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    type: Literal["path"]
    path: Literal["direct", "turn-udp", "turn-tcp", "turn-tls"]
    rtt_ms: int | None = Field(default=None, ge=0, le=60_000)
    local_type: CandidateType
    relay_protocol: Literal["udp", "tcp", "tls"] | None = None
    remote_type: CandidateType | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """A relay path is a relay candidate's, through the protocol it names; the service's own
        relay (a remote relay candidate) is reached over UDP."""
        if self.local_type == "relay":
            expected = _RELAY_PATHS.get(self.relay_protocol or "")
        elif self.remote_type == "relay":
            expected = "turn-udp" if self.relay_protocol == "udp" else None
        else:
            expected = "direct" if self.relay_protocol is None else None
        if expected != self.path:
            raise ValueError("the path does not match its candidate")
        return self


class NoPathMessage(BaseModel):
    """The page's video found no network path."""

    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    type: Literal["no_path"]
    reason: Literal["turn_unreachable", "turn_refused", "no_candidates"]


class PathReports:
    """One page's reports about its own publication: records each change in the session's log."""

    def __init__(
        self,
        service: SessionService,
        session_id: str,
        participant_id: str,
        service_view: Callable[[], str | None] = lambda: None,
    ) -> None:
        """``service_view()`` gives the type of the page's candidate in the pair the service's
        end nominated, or None."""
        self.service = service
        self.session_id = session_id
        self.participant_id = participant_id
        self.service_view = service_view
        self.last: tuple[str, str] | None = None
        """The last recorded ``(kind, path or reason)``."""

    async def report(self, actor: Actor, message: PathMessage | NoPathMessage) -> None:
        """Record ``message`` when it says something new."""
        if isinstance(message, PathMessage):
            key: tuple[str, str] = (PATH, message.path)
            details: dict[str, object] = {
                "path": message.path,
                "rtt_ms": message.rtt_ms,
                "local_type": message.local_type,
                "remote_type": message.remote_type,
                "service_remote_type": self.service_view(),
            }
        else:
            key = (NO_PATH, message.reason)
            details = {"reason": message.reason}
        if key == self.last:
            return
        details["participant_id"] = self.participant_id
        await self.service.record(self.session_id, actor, key[0], details)
        self.last = key
