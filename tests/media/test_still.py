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
