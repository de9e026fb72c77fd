"""Random loss on the publisher's uplink, retransmissions included: repaired by NACK and RTX (both
negotiated and unwrapped by aiortc on receive), or by a keyframe, never a long freeze."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable

from aiortc.rtp import is_rtcp

from tests.media.conftest import Lab
from tests.media.peers import Publisher, wait_until

LOSS = 0.05
FREEZE_LIMIT_MS = 2000


class RandomLoss:
    """Drops ``rate`` of the RTP packets a publisher sends, media and retransmissions alike."""

    def __init__(self, publisher: Publisher, rate: float, seed: int = 9) -> None:
        self.sent = 0
        self.lost = 0
        self.retransmissions = 0
        self._random = random.Random(seed)
        sender = publisher.sender
        transport = sender.transport
        stock: Callable[[bytes], object] = transport._send_rtp

        async def send(data: bytes) -> None:
            if not is_rtcp(data):
                self.sent += 1
                if int.from_bytes(data[8:12], "big") == sender._rtx_ssrc:
                    self.retransmissions += 1
                if self._random.random() < rate:
                    self.lost += 1
                    return
            result = stock(data)
            assert asyncio.iscoroutine(result)
            await result

        setattr(transport, "_send_rtp", send)  # noqa: B010


async def test_given_five_percent_loss_then_no_freeze_over_two_seconds(lab: Lab) -> None:
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    answer = publisher.pc.remoteDescription.sdp
    assert "rtx/90000" in answer and "nack" in answer
    subscriber = lab.subscriber()
    await subscriber.join(room, "regulator")
    await asyncio.wait_for(subscriber.first_frame.wait(), 10)
    loss = RandomLoss(publisher, LOSS)

    start = len(subscriber.frames)
    sent_before = publisher.track.counter
    await wait_until(lambda: publisher.track.counter >= sent_before + 150, what="5 s of video")
    frames = subscriber.frames[start:]

    assert loss.lost > 0, "the link lost nothing"
    assert loss.retransmissions > 0, "nothing was retransmitted"
    gaps = [b.received_ms - a.received_ms for a, b in itertools.pairwise(frames)]
    assert len(frames) >= 75, f"{len(frames)} frames of 150 shown"
    assert max(gaps) <= FREEZE_LIMIT_MS, f"frozen for {max(gaps)} ms"
    assert subscriber.unreadable == 0
