"""Pass-through relay: frames arrive in order and undamaged, and the server never decodes."""

from __future__ import annotations

import asyncio

import av
import pytest
from aiortc import MediaStreamError, MediaStreamTrack

from tests.media.conftest import Lab
from tests.media.peers import Subscriber, wait_until
from visioregul.media import MediaEvent
from visioregul.media.codecs import VideoCodec
from visioregul.media.relay import Relay


def assert_in_order_and_undamaged(subscriber: Subscriber) -> None:
    counters = [frame.counter for frame in subscriber.frames]
    assert counters == sorted(set(counters)), "frames out of order or repeated"
    assert subscriber.unreadable == 0, "damaged frames were decoded"


@pytest.mark.parametrize("codec", ["VP8", "H264"])
@pytest.mark.parametrize("count", [1, 2])
async def test_given_publisher_when_subscribers_watch_then_frames_arrive_in_order_undamaged(
    lab: Lab, decoders: list[str], codec: VideoCodec, count: int
) -> None:
    room, events = lab.room(codec="vp8" if codec == "VP8" else "h264")
    publisher = lab.publisher(codec)
    subscribers = [lab.subscriber() for _ in range(count)]
    for index, subscriber in enumerate(subscribers):
        # Both signalling directions: the server offers to the first, the second offers itself.
        await subscriber.join(room, f"regulator-{index}", console_offers=index == 1)
    await publisher.publish(room)

    await wait_until(
        lambda: all(len(s.frames) >= 30 for s in subscribers), what="30 frames per subscriber"
    )

    assert room.codec == codec
    for subscriber in subscribers:
        assert_in_order_and_undamaged(subscriber)
        # Drops are allowed at the start only: after the first frame, every frame is relayed.
        counters = [frame.counter for frame in subscriber.frames]
        assert counters == list(range(counters[0], counters[0] + len(counters)))
    stats = room.stats()
    assert stats.frames_passed_through >= 30
    assert stats.frames_relayed >= 30
    # Each subscriber peer decodes; the server's receiver never created a decoder.
    assert decoders == [f"video/{codec}"] * count
    kinds = events.kinds()
    assert kinds.count(MediaEvent.SUBSCRIBER_CONNECTED) == count
    assert MediaEvent.PUBLISHER_CONNECTED in kinds
    (first,) = events.of(MediaEvent.FIRST_FRAME)
    assert first["codec"] == codec and first["participant_id"] == "patient"
    if codec == "VP8":
        assert (first["width"], first["height"]) == (320, 240)


class PacketSource(MediaStreamTrack):
    """A publisher's track as the pass-through makes it: encoded frames as ``av.Packet``."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()

    def put(self, pts: int, *, key: bool = False) -> None:
        packet = av.Packet(b"frame")
        packet.pts, packet.is_keyframe = pts, key
        self.queue.put_nowait(packet)

    async def recv(self) -> av.Packet:
        item = await self.queue.get()
        if item is None:
            raise MediaStreamError
        return item


async def test_given_two_publications_then_subscriber_clock_continues_and_only_the_last_ends() -> (
    None
):
    requests: list[str] = []
    relay = Relay(request_keyframe=requests.append)
    track = relay.subscribe()
    received: list[tuple[int | None, bool]] = []

    async def read() -> None:
        while True:
            packet = await track.recv()
            received.append((packet.pts, packet.is_keyframe))

    reader = asyncio.create_task(read())
    firsts: list[str] = []
    ended: list[str] = []
    first, second = PacketSource(), PacketSource()
    relay.attach(
        first,
        on_first_frame=lambda p: firsts.append("first"),
        on_ended=lambda: ended.append("first"),
    )
    for pts in (0, 3000, 6000):
        first.put(pts, key=pts == 0)
    await wait_until(lambda: len(received) == 3, timeout=2)

    relay.attach(
        second,
        on_first_frame=lambda p: firsts.append("second"),
        on_ended=lambda: ended.append("second"),
    )
    second.put(0)  # a delta frame first: the subscriber waits for the keyframe
    second.put(3000, key=True)
    second.put(6000)
    await wait_until(lambda: len(received) == 5, timeout=2)
    second.queue.put_nowait(None)
    await wait_until(lambda: ended == ["second"], timeout=2)

    assert received == [(0, True), (3000, False), (6000, False), (12000, True), (15000, False)]
    assert firsts == ["first", "second"]
    assert requests == ["subscriber_joined"]
    assert not relay.has_source
    reader.cancel()
    await relay.close()
    assert track.readyState == "ended"


async def test_given_subscriber_not_reading_then_its_queue_stays_bounded_until_keyframe() -> None:
    requests: list[str] = []
    relay = Relay(request_keyframe=requests.append, max_queue=5)
    track = relay.subscribe()
    source = PacketSource()
    relay.attach(source, on_first_frame=lambda p: None, on_ended=lambda: None)
    reading = asyncio.create_task(track.recv())  # the sender starts, then stalls
    await asyncio.sleep(0)
    source.put(0, key=True)
    first = await asyncio.wait_for(reading, 2)
    for index in range(1, 40):
        source.put(index * 3000)
    source.put(40 * 3000, key=True)
    source.put(41 * 3000)
    await wait_until(lambda: relay.frames_in == 42, timeout=2)

    assert first.pts == 0
    # The backlog's request waits for this subscriber's interval; the keyframe that came
    # meanwhile answered it.
    assert requests == ["subscriber_joined"]
    assert [(await track.recv()).pts for _ in range(2)] == [120000, 123000]
    assert track.frames_dropped >= 34

    for index in range(42, 80):  # behind again, and no keyframe comes: it asks
        source.put(index * 3000)
    await wait_until(lambda: "subscriber_backlog" in requests, timeout=3)
    assert requests == ["subscriber_joined", "subscriber_backlog"]
    await relay.close()
