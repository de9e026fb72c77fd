"""A connected publisher whose frames stop is reported stalled, then resumed with the length of
the stall: real aiortc peers, the publisher's camera held back by the test."""

from __future__ import annotations

import asyncio

from av import VideoFrame

from tests.media.conftest import Lab
from tests.media.peers import Publisher, Subscriber, wait_until
from visioregul.media import MediaEvent
from visioregul.media.stall import StallWatch


def hold_camera(publisher: Publisher) -> asyncio.Event:
    """The publisher's camera gives frames only while the returned event is set (as a phone's
    track with ``enabled = false``, or a network that lets nothing through)."""
    running = asyncio.Event()
    running.set()
    stock = publisher.track.recv

    async def gated() -> VideoFrame:
        await running.wait()
        return await stock()

    publisher.track.recv = gated  # type: ignore[method-assign]
    return running


async def test_given_a_connected_publisher_when_its_frames_stop_then_stalled_then_resumed(
    lab: Lab,
) -> None:
    room, events = lab.room()
    patient = lab.publisher("VP8")
    camera = hold_camera(patient)
    await patient.publish(room)
    viewer: Subscriber = lab.subscriber()
    await viewer.join(room, "regulator")
    await wait_until(lambda: len(viewer.frames) >= 10, what="frames to flow")
    assert events.of(MediaEvent.PUBLISHER_STALLED) == []

    camera.clear()
    await wait_until(
        lambda: bool(events.of(MediaEvent.PUBLISHER_STALLED)), timeout=10, what="a stall"
    )
    assert events.of(MediaEvent.PUBLISHER_STALLED) == [
        {"room_id": room.room_id, "participant_id": "patient"}
    ]
    assert events.of(MediaEvent.PUBLISHER_RESUMED) == []

    camera.set()
    await wait_until(
        lambda: bool(events.of(MediaEvent.PUBLISHER_RESUMED)), timeout=10, what="frames again"
    )
    resumed = events.of(MediaEvent.PUBLISHER_RESUMED)
    assert len(resumed) == 1 and resumed[0]["participant_id"] == "patient"
    assert isinstance(resumed[0]["stalled_ms"], int) and resumed[0]["stalled_ms"] >= 2000
    before = len(viewer.frames)
    await wait_until(lambda: len(viewer.frames) >= before + 10, what="the picture to move again")
    kinds = events.kinds()
    assert kinds.index(MediaEvent.PUBLISHER_STALLED) < kinds.index(MediaEvent.PUBLISHER_RESUMED)


async def test_given_a_stalled_publisher_when_it_leaves_then_no_resume_is_reported(
    lab: Lab,
) -> None:
    room, events = lab.room()
    patient = lab.publisher("VP8")
    camera = hold_camera(patient)
    await patient.publish(room)
    await wait_until(lambda: bool(events.of(MediaEvent.FIRST_FRAME)), what="a first frame")
    camera.clear()
    await wait_until(lambda: bool(events.of(MediaEvent.PUBLISHER_STALLED)), what="a stall")

    await patient.close()
    await wait_until(
        lambda: bool(events.of(MediaEvent.PUBLISHER_DISCONNECTED)), what="the publisher to leave"
    )
    camera.set()
    assert events.of(MediaEvent.PUBLISHER_RESUMED) == []
    assert room.publisher_ids == []


async def test_given_a_counter_that_never_moves_then_one_stall_only() -> None:
    stalls: list[str] = []
    resumed: list[int] = []
    frames = 0
    watch = StallWatch(
        lambda: frames,
        on_stalled=lambda: stalls.append("stalled"),
        on_resumed=resumed.append,
        after=0.1,
        poll=0.01,
    )
    watch.start()
    watch.start()  # a second start changes nothing
    await wait_until(lambda: bool(stalls), what="a stall")
    await wait_until(lambda: watch.stalled, what="the stalled flag")
    frames = 1
    await wait_until(lambda: bool(resumed), what="a resume")
    assert stalls == ["stalled"] and len(resumed) == 1 and resumed[0] >= 100
    await watch.wait_stopped()
    watch.stop()  # twice is safe
