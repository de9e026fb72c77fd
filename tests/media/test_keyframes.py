"""Keyframes: late joiners are served promptly, requests are forwarded and rate-limited."""

from __future__ import annotations

import asyncio

from tests.media.conftest import Lab
from tests.media.peers import wait_until
from visioregul.media import MediaEvent
from visioregul.media.keyframes import KeyframeRequester


async def test_given_stream_running_when_late_subscriber_joins_then_it_gets_a_keyframe_promptly(
    lab: Lab,
) -> None:
    room, events = lab.room()
    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    early = lab.subscriber()
    await early.join(room, "early")
    await asyncio.wait_for(early.first_frame.wait(), 10)
    # aiortc's VP8 encoder makes keyframes on request only: the stream's last one is old.
    await wait_until(lambda: publisher.track.counter > 60, what="two seconds of video")
    requests_before = publisher.keyframe_requests

    late = lab.subscriber()
    await late.join(room, "late")
    await asyncio.wait_for(late.first_frame.wait(), 3)

    assert publisher.keyframe_requests > requests_before
    reasons = [details["reason"] for details in events.of(MediaEvent.KEYFRAME_REQUESTED)]
    assert "subscriber_joined" in reasons
    assert late.unreadable == 0
    assert late.frames[0].counter > 60


async def test_given_subscriber_spamming_keyframe_requests_then_publisher_gets_few_plis(
    lab: Lab,
) -> None:
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    subscriber = lab.subscriber()
    await subscriber.join(room, "regulator")
    await asyncio.wait_for(subscriber.first_frame.wait(), 10)
    (receiver,) = subscriber.pc.getReceivers()
    (source,) = receiver.getSynchronizationSources()
    before = publisher.keyframe_requests
    requested_before = room.stats().keyframes_requested
    loop = asyncio.get_running_loop()

    started = loop.time()
    for _ in range(100):
        await receiver._send_rtcp_pli(source.source)
        await asyncio.sleep(0.01)
    elapsed = loop.time() - started
    await asyncio.sleep(1.1)  # the deferred request, if any

    forwarded = publisher.keyframe_requests - before
    # One viewer's requests reach the publisher at most once a second.
    assert 1 <= room.stats().keyframes_requested - requested_before <= elapsed / 1.0 + 2
    assert 1 <= forwarded <= elapsed / 1.0 + 2
    frames_before = len(subscriber.frames)
    await wait_until(lambda: len(subscriber.frames) > frames_before + 10, what="video goes on")
    assert subscriber.unreadable == 0


async def test_given_burst_of_requests_then_one_sent_now_and_one_at_end_of_interval() -> None:
    sent: list[str] = []

    def send(reason: str) -> bool:
        sent.append(reason)
        return True

    requester = KeyframeRequester(send, min_interval=0.1)
    for index in range(10):
        requester.request(f"r{index}")
    assert sent == ["r0"]
    await wait_until(lambda: len(sent) == 2, timeout=1)
    await asyncio.sleep(0.15)

    assert sent == ["r0", "r1"]
    assert (requester.requested, requester.sent) == (10, 2)


async def test_given_nobody_to_ask_when_requesting_then_the_next_request_is_not_delayed() -> None:
    answers = [False, True]
    requester = KeyframeRequester(lambda reason: answers.pop(0), min_interval=10)

    requester.request("first")
    requester.request("second")

    assert (requester.requested, requester.sent) == (2, 1)
    requester.cancel()


async def test_given_a_viewer_losing_most_packets_then_the_publisher_and_the_others_go_on(
    lab: Lab,
) -> None:
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    healthy, slow = lab.subscriber(), lab.subscriber()
    await healthy.join(room, "regulator")
    await slow.join(room, "doctor")
    await asyncio.gather(
        asyncio.wait_for(healthy.first_frame.wait(), 10),
        asyncio.wait_for(slow.first_frame.wait(), 10),
    )
    transport = slow.pc.getReceivers()[0].transport
    stock = transport._handle_rtp_data
    arrived = 0

    async def lossy(data: bytes, arrival_time_ms: int) -> None:
        nonlocal arrived
        arrived += 1
        if arrived % 3:  # two packets in three lost: its picture breaks again and again
            return
        await stock(data, arrival_time_ms)

    setattr(transport, "_handle_rtp_data", lossy)  # noqa: B010
    (receiver,) = slow.pc.getReceivers()
    (source,) = receiver.getSynchronizationSources()
    before = publisher.keyframe_requests
    healthy_before = len(healthy.frames)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(60):  # and it says so, like a browser that cannot decode
        await receiver._send_rtcp_pli(source.source)
        await asyncio.sleep(0.05)
    elapsed = loop.time() - started

    forwarded = publisher.keyframe_requests - before
    assert forwarded <= elapsed / 1.0 + 2, f"{forwarded} keyframes in {elapsed:.1f} s"
    assert len(healthy.frames) - healthy_before >= 30  # the other viewer's video went on
    assert healthy.unreadable == 0
    counters = [frame.counter for frame in healthy.frames]
    assert counters == sorted(set(counters))
