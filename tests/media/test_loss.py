"""Upstream loss: the relay's backlog stays bounded and subscribers recover on a keyframe."""

from __future__ import annotations

import asyncio

from tests.media.conftest import Lab
from tests.media.peers import LossyLink, wait_until
from visioregul.media import MediaEvent

# A 0.5 s bound on held-back media, plus the keyframe's round trip, at 30 fps, with margin
# for a loaded machine. Without the bound, one lost retransmission holds back 512 packets.
MAX_LAG_FRAMES = 45


async def test_given_packets_lost_for_good_then_backlog_stays_bounded_and_subscriber_recovers(
    lab: Lab,
) -> None:
    room, events = lab.room(max_delay=0.5)
    publisher = lab.publisher("VP8")
    link = LossyLink(publisher, every=25)
    await publisher.publish(room)
    subscriber = lab.subscriber()
    await subscriber.join(room, "regulator")
    await asyncio.wait_for(subscriber.first_frame.wait(), 10)

    link.active = True
    lags: list[int] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + 3
    while loop.time() < end:
        await asyncio.sleep(0.05)
        lags.append(publisher.track.counter - (subscriber.latest or 0))
    link.active = False
    sent_after_loss = publisher.track.counter

    assert link.lost, "the link lost nothing"
    assert room.stats().backlog_resets >= 1
    assert events.of(MediaEvent.BACKLOG_DROPPED)
    assert "backlog" in [d["reason"] for d in events.of(MediaEvent.KEYFRAME_REQUESTED)]
    assert max(lags) <= MAX_LAG_FRAMES, f"backlog grew to {max(lags)} frames"

    await wait_until(
        lambda: (subscriber.latest or 0) > sent_after_loss, timeout=5, what="video resumes"
    )
    await asyncio.sleep(0.3)
    assert publisher.track.counter - (subscriber.latest or 0) <= MAX_LAG_FRAMES
    counters = [frame.counter for frame in subscriber.frames]
    assert counters == sorted(set(counters))
