"""What the parts of one room share: its id and codec, one lock, background tasks, events,
and bounded offer/answer steps.

The publisher slot (:mod:`.publishing`) and the subscribers (:mod:`.subscribers`) each hold the
same :class:`RoomContext`; :class:`~.room.Room` creates it and closes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiortc import RTCConfiguration, RTCPeerConnection

from .codecs import CodecPolicy, VideoCodec
from .errors import MediaError
from .events import EventCallback, MediaEvent
from .passthrough import close_peer_connection

__all__ = ["RoomContext"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class RoomContext:
    """One room's shared state and helpers."""

    def __init__(
        self,
        room_id: str,
        *,
        configuration: RTCConfiguration,
        policy: CodecPolicy,
        on_event: EventCallback | None,
        negotiation_timeout: float,
    ) -> None:
        self.room_id = room_id
        self.configuration = configuration
        """What the server's own peer connections are created with."""
        self.policy: CodecPolicy = policy
        self.codec: VideoCodec | None = {"auto": None, "vp8": "VP8", "h264": "H264"}[policy]
        """The room's codec, None while ``auto`` has not met a publisher."""
        self.lock = asyncio.Lock()
        """Held while a peer connection is negotiated, so that arrivals are applied in order."""
        self.closed = False
        self.close_done = asyncio.Event()
        self._on_event = on_event
        self._negotiation_timeout = negotiation_timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def check_open(self) -> None:
        """Raise :class:`MediaError` ``room_closed`` once the room is closing."""
        if self.closed:
            raise MediaError("room_closed", f"room {self.room_id} is closed")

    async def negotiate(
        self,
        pc: RTCPeerConnection,
        step: Coroutine[Any, Any, _T],
        what: str,
        *,
        close_on_error: bool = True,
    ) -> _T:
        """Run one offer/answer step, bounded in time; any failure becomes a MediaError."""
        completed = False
        try:
            async with asyncio.timeout(self._negotiation_timeout):
                result = await step
            self.check_open()
            completed = True
            return result
        except TimeoutError:
            raise MediaError(
                "negotiation_timeout", f"negotiation took over {self._negotiation_timeout:g} s"
            ) from None
        except MediaError:
            raise
        except Exception as exc:
            # aiortc raises ValueError, KeyError, OperationError... on SDP it cannot apply.
            logger.debug("room %s: %s refused", self.room_id, what, exc_info=True)
            raise MediaError("invalid_sdp", f"the {what} could not be applied: {exc}") from exc
        finally:
            if not completed and close_on_error:
                await close_peer_connection(pc)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` in the background; :meth:`drain` awaits it, a failure is logged."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    async def drain(self) -> None:
        """Wait for every background task, including those started while waiting."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def emit(self, kind: MediaEvent, **details: object) -> None:
        """Hand an event to the room's owner (never after the room has closed)."""
        if self.close_done.is_set():
            return
        payload: dict[str, object] = {"room_id": self.room_id, **details}
        logger.debug("room %s: %s %s", self.room_id, kind, details)
        if self._on_event is None:
            return
        try:
            self._on_event(kind, payload)
        except Exception:
            logger.exception("room %s: on_event failed for %s", self.room_id, kind)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning(
                "room %s: background task failed", self.room_id, exc_info=task.exception()
            )
