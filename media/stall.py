"""Noticing a connected publisher that sends no frames: a frozen picture, said as such.

A publisher's connection may stay up while its frames stop: a network too weak for video, a
camera track the phone disabled, a sender that gave up. Nothing in WebRTC says so; the viewers'
pictures just freeze. A :class:`StallWatch` looks at the count of frames the relay received and
calls ``on_stalled()`` once none came for ``after`` seconds, then ``on_resumed(stalled_ms)`` when
frames come again, with how long the picture stood still.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["STALL_AFTER", "StallWatch"]

STALL_AFTER = 2.0
"""Seconds without a frame after which a connected publisher is said stalled."""


class StallWatch:
    """Watches a frame counter and reports when it stops, and when it moves again."""

    def __init__(
        self,
        frames: Callable[[], int],
        *,
        on_stalled: Callable[[], None],
        on_resumed: Callable[[int], None],
        after: float = STALL_AFTER,
        poll: float = 0.2,
    ) -> None:
        """``frames()`` is the number of frames received so far; ``after`` the silence, in
        seconds, that makes a stall; ``poll`` how often the counter is read."""
        self._frames = frames
        self._on_stalled = on_stalled
        self._on_resumed = on_resumed
        self._after = after
        self._poll = poll
        self._task: asyncio.Task[None] | None = None
        self.stalled = False
        """Whether the publisher is stalled now."""

    def start(self) -> None:
        """Start watching (on the running loop); a second call changes nothing."""
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="stall-watch")

    def stop(self) -> None:
        """Stop watching (the publisher left): no event follows; safe to call more than once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def wait_stopped(self) -> None:
        """Stop and wait until the watch has ended."""
        task = self._task
        self.stop()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        seen = self._frames()
        last_frame_at = loop.time()
        while True:
            await asyncio.sleep(self._poll)
            count = self._frames()
            now = loop.time()
            if count != seen:
                seen = count
                if self.stalled:
                    self.stalled = False
                    self._on_resumed(round((now - last_frame_at) * 1000))
                last_frame_at = now
            elif not self.stalled and now - last_frame_at >= self._after:
                self.stalled = True
                self._on_stalled()
