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

    Once a request is sent, the next one waits for the keyframe: until :meth:`keyframe_arrived`
    (which answers every request made before it) or, if none comes, for ``answer_time()``
    seconds when that is longer than ``min_interval``. On a weak link a keyframe takes seconds to
    cross, and asking again every 300 ms would only queue more keyframes behind it.
    """

    def __init__(
        self,
        send: Callable[[str], bool],
        *,
        min_interval: float = 0.3,
        answer_time: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """``send(reason)`` asks the publisher and returns False when there is nobody to ask;
        ``answer_time()`` is how long a keyframe now takes to arrive after a request."""
        self._send = send
        self._min_interval = min_interval
        self._answer_time = answer_time
        self._last_sent: float | None = None
        self._outstanding = False
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
        wait = self._wait()
        if self._last_sent is None or now - self._last_sent >= wait:
            self._fire(reason, now)
        elif self._deferred is None:
            self._deferred_reason = reason
            self._deferred = loop.call_at(self._last_sent + wait, self._fire_deferred)

    def keyframe_arrived(self) -> None:
        """A keyframe reached the relay: every request made so far is answered."""
        self._outstanding = False
        self.cancel()

    def cancel(self) -> None:
        """Forget a deferred request (the publisher is gone or the room closes)."""
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None

    def _wait(self) -> float:
        if not self._outstanding:
            return self._min_interval
        return max(self._min_interval, self._answer_time())

    def _fire_deferred(self) -> None:
        self._deferred = None
        self._fire(self._deferred_reason, asyncio.get_running_loop().time())

    def _fire(self, reason: str, now: float) -> None:
        if self._send(reason):
            self._last_sent = now
            self._outstanding = True
            self.sent += 1
