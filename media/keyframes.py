"""Keyframe requests towards the publisher, rate-limited without losing the last one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["KeyframeRequester"]


class KeyframeRequester:
    """Turns any number of keyframe requests into at most one send per ``min_interval``.

    Subscribers, the still capture and the loss handling all ask for keyframes, a browser viewer
    repeats its PLIs, and every keyframe costs the publisher a burst of bits. A request that comes
    too soon is not dropped but merged into one deferred send at the end of the interval, so a
    subscriber that joins just after a keyframe still gets its own.
    """

    def __init__(self, send: Callable[[str], bool], *, min_interval: float = 0.3) -> None:
        """``send(reason)`` asks the publisher and returns False when there is nobody to ask."""
        self._send = send
        self._min_interval = min_interval
        self._last_sent: float | None = None
        self._deferred: asyncio.TimerHandle | None = None
        self._deferred_reason = ""
        self.requested = 0
        """Requests received."""
        self.sent = 0
        """Requests passed on to the publisher."""

    def request(self, reason: str) -> None:
        """Ask for a keyframe now, or as soon as the rate limit allows."""
        self.requested += 1
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._last_sent is None or now - self._last_sent >= self._min_interval:
            self._fire(reason, now)
        elif self._deferred is None:
            self._deferred_reason = reason
            self._deferred = loop.call_at(self._last_sent + self._min_interval, self._fire_deferred)

    def cancel(self) -> None:
        """Forget a deferred request (the publisher is gone or the room closes)."""
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None

    def _fire_deferred(self) -> None:
        self._deferred = None
        self._fire(self._deferred_reason, asyncio.get_running_loop().time())

    def _fire(self, reason: str, now: float) -> None:
        if self._send(reason):
            self._last_sent = now
            self.sent += 1
