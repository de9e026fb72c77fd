"""Still capture: one keyframe decoded on the side, returned as JPEG."""

from __future__ import annotations

import asyncio

import av
import pytest

from tests.media.conftest import Lab
from tests.media.peers import read_stamp, wait_until
from visioregul.media import MediaError, MediaEvent
from visioregul.media.codecs import VideoCodec


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_given_publisher_when_capturing_still_then_jpeg_of_a_current_frame(
    lab: Lab, codec: VideoCodec
) -> None:
    room, events = lab.room(codec="vp8" if codec == "VP8" else "h264")
    publisher = lab.publisher(codec)
    await publisher.publish(room)
    await wait_until(lambda: room.stats().frames_relayed > 30, what="video flowing")
    sent_before = publisher.track.counter

    jpeg = await room.capture_still(timeout=5)

    assert jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9")
    (picture,) = av.CodecContext.create("mjpeg", "r").decode(av.Packet(jpeg))
    assert (picture.width, picture.height) == (320, 240)
    stamp = read_stamp(picture)
    assert stamp is not None, "the still is damaged"
    assert stamp[0] >= sent_before  # a fresh keyframe, not an old one
    assert "still" in [d["reason"] for d in events.of(MediaEvent.KEYFRAME_REQUESTED)]


async def test_given_no_publisher_when_capturing_still_then_media_error(lab: Lab) -> None:
    room, _ = lab.room()

    with pytest.raises(MediaError) as refused:
        await room.capture_still()

    assert refused.value.error_id == "no_publisher"


async def test_given_publisher_not_sending_when_capturing_still_then_timeout(lab: Lab) -> None:
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    await wait_until(lambda: room.stats().frames_relayed > 0, what="video flowing")
    await publisher.close()  # the room notices later; the capture gives up first

    with pytest.raises(MediaError) as refused:
        await room.capture_still(timeout=0.2)

    assert refused.value.error_id in ("still_timeout", "no_publisher")


async def test_given_capture_waiting_when_room_closes_then_media_error(lab: Lab) -> None:
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    asked = asyncio.Event()
    await publisher.publish(room)
    await wait_until(lambda: room.stats().frames_relayed > 0, what="video flowing")
    setattr(publisher.sender, "_send_keyframe", asked.set)  # noqa: B010 (ignore requests)
    capture = asyncio.create_task(room.capture_still(timeout=5))
    await asyncio.wait_for(asked.wait(), 5)

    await room.close()

    with pytest.raises(MediaError) as refused:
        await capture
    assert refused.value.error_id == "room_closed"


async def test_given_a_console_watching_when_two_stills_are_asked_at_once_then_both_and_no_damage(
    lab: Lab,
) -> None:
    """Two regulators click together while a console watches: each gets a JPEG of the relayed
    stream at its size, and the console's picture is never damaged by the keyframe asked."""
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    subscriber = lab.subscriber()
    await subscriber.join(room, "console")
    await publisher.publish(room)
    await asyncio.wait_for(subscriber.first_frame.wait(), 10)
    seen_before = len(subscriber.frames)

    stills = await asyncio.gather(room.capture_still(timeout=5), room.capture_still(timeout=5))

    for jpeg in stills:
        (picture,) = av.CodecContext.create("mjpeg", "r").decode(av.Packet(jpeg))
        assert (picture.width, picture.height) == (320, 240)
        assert read_stamp(picture) is not None
    await wait_until(lambda: len(subscriber.frames) > seen_before + 10, what="the console goes on")
    assert subscriber.unreadable == 0


async def test_given_stills_that_timed_out_then_their_waiters_are_not_kept(lab: Lab) -> None:
    """Regression: each still that gave up waiting left its future in the relay until the next
    keyframe, which never comes while the video is stalled."""
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    await wait_until(lambda: room.stats().frames_relayed > 0, what="video flowing")
    setattr(publisher.sender, "_send_keyframe", lambda: None)  # noqa: B010 (the phone ignores)
    relay = room._feeds["patient"].relay
    for _ in range(3):
        with pytest.raises(MediaError):
            await room.capture_still(timeout=0.05)

    relay.next_keyframe().cancel()

    assert len(relay._keyframe_waiters) == 1
