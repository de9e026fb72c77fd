"""Publisher reconnection and codec changes."""

from __future__ import annotations

import asyncio

from tests.media.conftest import Lab
from tests.media.peers import wait_until
from visioregul.media import MediaEvent


async def test_given_subscribers_watching_when_publisher_publishes_again_then_they_resume(
    lab: Lab,
) -> None:
    room, events = lab.room()
    first = lab.publisher("VP8")
    await first.publish(room)
    subscribers = [lab.subscriber(), lab.subscriber()]
    for index, subscriber in enumerate(subscribers):
        await subscriber.join(room, f"regulator-{index}")
    for subscriber in subscribers:
        await asyncio.wait_for(subscriber.first_frame.wait(), 10)
    connections = [subscriber.pc for subscriber in subscribers]

    # The patient reloads the page: a new peer, a new stream (numbered from 10000).
    second = lab.publisher("VP8", first_counter=10000)
    await second.publish(room, participant_id="patient")

    await wait_until(
        lambda: all((s.latest or 0) >= 10030 for s in subscribers), what="the new stream's frames"
    )
    await wait_until(lambda: first.pc.connectionState == "closed", what="old publisher closed")
    for subscriber, pc in zip(subscribers, connections, strict=True):
        assert subscriber.pc is pc and pc.connectionState == "connected"
        assert subscriber.unreadable == 0
        counters = [frame.counter for frame in subscriber.frames]
        assert counters == sorted(counters)
    assert room.stats().subscribers == {"regulator-0": "connected", "regulator-1": "connected"}
    disconnected = events.of(MediaEvent.PUBLISHER_DISCONNECTED)
    assert [d["reason"] for d in disconnected] == ["replaced"]
    assert len(events.of(MediaEvent.PUBLISHER_CONNECTED)) == 2
    assert len(events.of(MediaEvent.FIRST_FRAME)) == 2


async def test_given_publisher_gone_when_it_comes_back_then_subscribers_resume(lab: Lab) -> None:
    room, events = lab.room()
    first = lab.publisher("VP8")
    await first.publish(room)
    subscriber = lab.subscriber()
    await subscriber.join(room, "regulator")
    await asyncio.wait_for(subscriber.first_frame.wait(), 10)

    await first.close()
    await wait_until(lambda: room.publisher_id is None, what="the publisher to leave")
    second = lab.publisher("VP8", first_counter=20000)
    await second.publish(room)

    await wait_until(lambda: (subscriber.latest or 0) >= 20010, what="the new stream's frames")
    assert subscriber.unreadable == 0
    reasons = [d["reason"] for d in events.of(MediaEvent.PUBLISHER_DISCONNECTED)]
    assert reasons[0] in ("closed", "stream_ended")


async def test_given_vp8_subscriber_when_h264_only_publisher_comes_then_it_must_subscribe_again(
    lab: Lab,
) -> None:
    room, events = lab.room()
    early = lab.subscriber()
    await early.join(room, "regulator")
    assert room.codec is None

    publisher = lab.publisher("H264")
    await publisher.publish(room)

    assert room.codec == "H264"
    assert events.of(MediaEvent.SUBSCRIBER_LEFT) == [
        {
            "room_id": room.room_id,
            "subscriber_id": "regulator",
            "publisher_id": "patient",
            "reason": "codec_changed",
        }
    ]
    again = lab.subscriber()
    await again.join(room, "regulator")
    await asyncio.wait_for(again.first_frame.wait(), 10)
    assert again.unreadable == 0
