"""What the AMI and ARI adapters share: link status, the fact sink, reconnection with backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from .facts import ChannelFact, Resync

__all__ = ["Backoff", "FactSink", "LinkRefused", "LinkState", "LinkStatus", "supervise"]


class LinkState(StrEnum):
    """State of the link to one Asterisk interface, as ``/healthz`` reports it."""

    DISABLED = "disabled"
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"
    """Unreachable or lost: retried with backoff."""
    REFUSED = "refused"
    """Reached, but the credentials or permissions were refused: retried, slowly."""


class LinkRefused(Exception):
    """Asterisk answered but refused the login (bad secret, missing permission, ACL)."""


@dataclass
class LinkStatus:
    """The current state of one link, with the reason when it is not up."""

    name: str
    state: LinkState = LinkState.CONNECTING
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    detail: str = ""
    listeners: list[Callable[[LinkStatus], None]] = field(default_factory=list, repr=False)

    def set(self, state: LinkState, detail: str = "") -> None:
        """Change state; listeners hear only real changes."""
        if state == self.state and detail == self.detail:
            return
        self.state, self.detail, self.since = state, detail, datetime.now(UTC)
        for listener in list(self.listeners):
            listener(self)

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form for the health endpoint."""
        return {"state": self.state.value, "since": self.since.isoformat(), "detail": self.detail}


class FactSink(Protocol):
    """Where an adapter delivers what it reads from Asterisk."""

    def fact(self, fact: ChannelFact) -> None:
        """One fact, in Asterisk's order."""

    def resync(self, snapshot: Resync) -> None:
        """All current channels, after each (re)connection."""


@dataclass
class Backoff:
    """Exponential delays between reconnection attempts, reset after a success."""

    minimum: float = 0.5
    maximum: float = 10.0
    _next: float = 0.0

    def next(self) -> float:
        """The delay to wait before the next attempt."""
        self._next = self.minimum if self._next == 0 else min(self._next * 2, self.maximum)
        return self._next

    def reset(self) -> None:
        """Called once a connection succeeded."""
        self._next = 0.0


async def supervise(
    status: LinkStatus,
    connect_once: Callable[[], Awaitable[None]],
    backoff: Backoff,
    log: logging.Logger,
) -> None:
    """Run ``connect_once`` forever: it returns (or raises) when the link is lost.

    Logs transitions, not attempts: one error when a healthy link fails, one info when it comes
    back, so a night with Asterisk down does not bury the logs.
    """
    last_failure: tuple[LinkState, str] | None = None
    while True:
        try:
            await connect_once()
            state, detail = LinkState.DOWN, "connection lost"
        except asyncio.CancelledError:
            raise
        except LinkRefused as exc:
            state, detail = LinkState.REFUSED, str(exc)
        except (TimeoutError, OSError, ConnectionError) as exc:
            state, detail = LinkState.DOWN, f"unreachable: {exc or type(exc).__name__}"
        except Exception as exc:  # a bug in an adapter must not end the supervision
            state, detail = LinkState.DOWN, f"error: {exc!r}"
            if last_failure != (state, detail):
                log.exception("%s link failed unexpectedly", status.name)
        if status.state is LinkState.UP:
            backoff.reset()  # it had worked: retry quickly
            last_failure = None
        if last_failure != (state, detail):
            log.error("%s link %s: %s", status.name, state.value, detail)
        last_failure = (state, detail)
        status.set(state, detail)
        delay = backoff.next()
        if state is LinkState.REFUSED:
            delay = backoff.maximum  # a refused login will not fix itself in half a second
        await asyncio.sleep(delay)
