"""Fan-out of one publisher's encoded frames to every subscriber, without decoding them.

The publisher's track (``av.Packet`` objects, see :mod:`.passthrough`) is read without pause for
as long as it is attached, by one task per publication: an unread aiortc track queues frames
without bound. A detached track's peer connection is closed by its owner, which ends its input
(a track whose peer never connected would never end: its task is cancelled). Each subscriber reads
its own :class:`RelayTrack`, a bounded queue that starts, and restarts after any gap, on a
keyframe.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

import av
from aiortc import MediaStreamError, MediaStreamTrack

from .errors import MediaError
from .keyframes import KeyframeRequester

__all__ = ["FRAME_TICKS", "VIEWER_KEYFRAME_INTERVAL", "Relay", "RelayTrack"]

logger = logging.getLogger(__name__)

FRAME_TICKS = 3000
"""One frame at 30 fps in 1/90000 s: the step between two publications on a subscriber's clock."""
VIEWER_KEYFRAME_INTERVAL = 1.0
"""Least seconds between two keyframe requests one subscriber passes on to the publisher: a
viewer on a poor link that keeps losing its picture must not make the publisher spend its bits
on keyframes for everybody."""


class RelayTrack(MediaStreamTrack):
    """What one subscriber's sender reads: the room's video, whichever publisher sends it.

    Frames are taken only once the sender reads (the subscriber is connected): the first read
    asks for a keyframe and everything before it is dropped, as a decoder cannot start on a delta
    frame. If the subscriber falls more than ``max_queue`` frames behind, its queue is emptied and
    it waits for the next keyframe, so its delay never grows. When its viewer loses the picture
    (PLI or FIR, :meth:`request_keyframe`), it too skips to the next keyframe rather than being
    sent frames it cannot decode; its own requests reach the publisher at most once per
    ``keyframe_interval``, whatever the other subscribers do.
    """

    kind = "video"

    def __init__(
        self, relay: Relay, *, max_queue: int, keyframe_interval: float = VIEWER_KEYFRAME_INTERVAL
    ) -> None:
        super().__init__()
        self._relay = relay
        self._max_queue = max_queue
        self._keyframes = KeyframeRequester(self._ask_relay, min_interval=keyframe_interval)
        self._queue: deque[av.Packet] = deque()
        self._available = asyncio.Event()
        self._reading = False
        self._need_keyframe = True
        self.frames_sent = 0
        """Frames handed to the sender."""
        self.frames_dropped = 0
        """Frames dropped while waiting for a keyframe or after falling behind."""

    @property
    def waiting_for_keyframe(self) -> bool:
        """Whether the subscriber is held back until the next keyframe."""
        return self._need_keyframe

    async def recv(self) -> av.Packet:
        """The next frame for this subscriber (waits while there is no publisher)."""
        if self.readyState != "live":
            raise MediaStreamError
        if not self._reading:
            self._reading = True
            self._keyframes.request("subscriber_joined")
        while not self._queue:
            self._available.clear()
            await self._available.wait()
            if self.readyState != "live":
                raise MediaStreamError
        self.frames_sent += 1
        return self._queue.popleft()

    def request_keyframe(self, reason: str = "subscriber_request") -> None:
        """The viewer lost its picture: skip to the next keyframe, and ask for one (at most once
        per ``keyframe_interval`` for this subscriber)."""
        if self._reading and not self._need_keyframe:
            self.frames_dropped += len(self._queue)
            self._queue.clear()
            self._need_keyframe = True
        self._keyframes.request(reason)

    @property
    def keyframes_asked(self) -> int:
        """Keyframe requests this subscriber passed on to the relay."""
        return self._keyframes.sent

    def stop(self) -> None:
        """End the track (its sender stopped): it leaves the relay."""
        super().stop()
        self._keyframes.cancel()
        self._relay._discard(self)
        self._queue.clear()
        self._available.set()

    def _push(self, packet: av.Packet) -> None:
        if not self._reading:
            return
        if packet.is_keyframe:
            self._keyframes.keyframe_arrived()
        if self._need_keyframe:
            if not packet.is_keyframe:
                self.frames_dropped += 1
                return
            self._need_keyframe = False
        elif len(self._queue) >= self._max_queue:
            logger.debug("subscriber %d frames behind: waiting for a keyframe", len(self._queue))
            self.frames_dropped += len(self._queue)
            self._queue.clear()
            if not packet.is_keyframe:
                self.frames_dropped += 1
                self._need_keyframe = True
                self._keyframes.request("subscriber_backlog")
                return
        self._queue.append(packet)
        self._available.set()

    def _ask_relay(self, reason: str) -> bool:
        if not self._relay.has_source:
            return False
        self._relay.request_keyframe(reason)
        return True

    def _restart(self) -> None:
        # A new publication: nothing queued from the old one can be decoded with the new one.
        self.frames_dropped += len(self._queue)
        self._queue.clear()
        self._need_keyframe = True


class Relay:
    """One room's video fan-out: one source at a time, any number of :class:`RelayTrack`.

    Successive sources are joined on one clock: each publication's timestamps continue from the
    last frame relayed, as a receiver drops frames older than the last one it decoded.
    """

    def __init__(
        self,
        *,
        request_keyframe: Callable[[str], None],
        max_queue: int = 30,
        on_keyframe: Callable[[], None] = lambda: None,
    ) -> None:
        """``request_keyframe(reason)`` asks the current publisher for a keyframe;
        ``on_keyframe()`` is told each keyframe relayed."""
        self._request_keyframe = request_keyframe
        self._on_keyframe = on_keyframe
        self._max_queue = max_queue
        self._source: MediaStreamTrack | None = None
        self._drain: asyncio.Task[None] | None = None
        self._tracks: set[RelayTrack] = set()
        self._drains: set[asyncio.Task[None]] = set()
        self._keyframe_waiters: list[asyncio.Future[av.Packet]] = []
        self._last_pts: int | None = None
        self._offset = 0
        self._rebase = False
        self.frames_in = 0
        """Frames received from publishers and relayed."""
        self.keyframes_in = 0
        """Keyframes among them."""
        self.bytes_in = 0
        """Their size, in bytes."""

    @property
    def has_source(self) -> bool:
        """Whether a publisher's track is attached."""
        return self._source is not None

    @property
    def subscriber_count(self) -> int:
        """Tracks currently fed."""
        return len(self._tracks)

    def request_keyframe(self, reason: str) -> None:
        """Ask the publisher for a keyframe, if there is one."""
        if self._source is not None:
            self._request_keyframe(reason)

    def attach(
        self,
        source: MediaStreamTrack,
        *,
        on_first_frame: Callable[[av.Packet], None],
        on_ended: Callable[[], None],
    ) -> None:
        """Relay ``source`` from now on, instead of any previous one.

        ``on_first_frame(packet)`` is called with its first frame, ``on_ended()`` if it ends while
        still attached (the publisher's receiver stopped).
        """
        self.detach()
        self._source = source
        self._rebase = True
        for track in self._tracks:
            track._restart()
        self._drain = asyncio.create_task(self._read(source, on_first_frame, on_ended))
        self._drains.add(self._drain)
        self._drain.add_done_callback(self._drains.discard)

    def detach(self) -> None:
        """Stop relaying the current source; subscribers wait for the next one."""
        self._source = None
        if self._drain is not None:
            self._drain.cancel()
            self._drain = None

    def subscribe(self) -> RelayTrack:
        """A new subscriber's track."""
        track = RelayTrack(self, max_queue=self._max_queue)
        self._tracks.add(track)
        return track

    def next_keyframe(self) -> asyncio.Future[av.Packet]:
        """A future resolved with the next keyframe relayed (:class:`MediaError` if closed)."""
        future: asyncio.Future[av.Packet] = asyncio.get_running_loop().create_future()
        # Waiters that gave up (a still's bounded wait while no keyframe came) leave the list
        # here, or stalled video and repeated clicks would keep them all.
        self._keyframe_waiters = [f for f in self._keyframe_waiters if not f.done()]
        self._keyframe_waiters.append(future)
        return future

    async def close(self) -> None:
        """Stop every track and drain task."""
        self.detach()
        for track in list(self._tracks):
            track.stop()
        waiters, self._keyframe_waiters = self._keyframe_waiters, []
        for future in waiters:
            if not future.done():
                future.set_exception(MediaError("room_closed", "the room closed"))
        drains = list(self._drains)
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)

    def _discard(self, track: RelayTrack) -> None:
        self._tracks.discard(track)

    async def _read(
        self,
        source: MediaStreamTrack,
        on_first_frame: Callable[[av.Packet], None],
        on_ended: Callable[[], None],
    ) -> None:
        first = True
        while True:
            try:
                item = await source.recv()
            except MediaStreamError:
                break
            if not isinstance(item, av.Packet):
                continue
            self._forward(item)
            if first:
                first = False
                on_first_frame(item)
        self._source = None
        self._drain = None
        on_ended()

    def _forward(self, packet: av.Packet) -> None:
        pts = packet.pts or 0
        if self._rebase:
            self._rebase = False
            self._offset = 0 if self._last_pts is None else self._last_pts + FRAME_TICKS - pts
        packet.pts = pts + self._offset
        self._last_pts = packet.pts
        self.frames_in += 1
        self.bytes_in += packet.size
        if packet.is_keyframe:
            self.keyframes_in += 1
            self._on_keyframe()
            waiters, self._keyframe_waiters = self._keyframe_waiters, []
            for future in waiters:
                if not future.done():
                    future.set_result(packet)
        for track in list(self._tracks):
            track._push(packet)
