"""Connect/disconnect cycles leave nothing behind."""

from __future__ import annotations

import asyncio
import gc
import threading

from aiortc import RTCPeerConnection

from tests.media.conftest import Lab
from tests.media.peers import Publisher, Subscriber, wait_until
from visioregul.media import MediaEvent

CYCLES = 50


def decoder_threads() -> int:
    # aiortc names each receiver's thread "video-decoder" (the executor's threads are pooled).
    return sum(thread.name.endswith("-decoder") for thread in threading.enumerate())


def live_peer_connections() -> int:
    gc.collect()
    return sum(isinstance(o, RTCPeerConnection) for o in gc.get_objects())


async def test_given_50_connect_disconnect_cycles_then_no_peer_is_left_and_room_works(
    lab: Lab,
) -> None:
    room, events = lab.room()
    peers_before = live_peer_connections()
    threads_before = decoder_threads()
    tasks_before = len(asyncio.all_tasks())

    for cycle in range(CYCLES):
        publisher, subscriber = Publisher("VP8"), Subscriber()
        await publisher.publish(room, participant_id=f"patient-{cycle}")
        await subscriber.join(room, f"regulator-{cycle}")
        if cycle % 2 == 0:
            # Half of the cycles get connected; the others hang up while connecting.
            await wait_until(
                lambda: room.stats().subscribers.get(f"regulator-{cycle}") == "connected",  # noqa: B023
                what=f"cycle {cycle} connected",
            )
        await room.unsubscribe(f"regulator-{cycle}")
        await subscriber.close()
        await publisher.close()
        del publisher, subscriber

    # The last publisher hung up while connecting: its page would tell the service.
    await room.unpublish()
    assert room.publisher_id is None
    await wait_until(
        lambda: live_peer_connections() == peers_before, timeout=15, what="peers to be freed"
    )
    await wait_until(lambda: decoder_threads() == threads_before, what="decoder threads to end")
    # Consent checks aioice may start on a peer closed as it connected are cancelled shortly after.
    await wait_until(lambda: len(asyncio.all_tasks()) <= tasks_before, what="tasks to end")
    assert len(events.of(MediaEvent.SUBSCRIBER_LEFT)) == CYCLES

    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    subscriber = lab.subscriber()
    await subscriber.join(room, "regulator")
    await asyncio.wait_for(subscriber.first_frame.wait(), 10)
    assert subscriber.unreadable == 0
