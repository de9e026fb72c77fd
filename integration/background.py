"""Background tasks an owner starts and must not lose.

asyncio keeps only a weak reference to a task: one nobody holds may be collected mid-flight, and
its exception is then reported late or never. Owners (the session service, the video rooms, the
phone key) keep theirs here, have failures logged at once, and stop or await them all on close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["BackgroundTasks"]


class BackgroundTasks:
    """A set of running tasks; a failed one is logged on ``log`` as "<what> failed"."""

    def __init__(self, what: str, log: logging.Logger) -> None:
        self._what = what
        self._log = log
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str | None = None) -> None:
        """Run ``coroutine`` in the background, kept until it ends."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def cancel_all(self) -> None:
        """Cancel every task and wait until they have all ended."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_all(self) -> None:
        """Wait until every task has ended, including those they start meanwhile."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s failed", self._what, exc_info=task.exception())
