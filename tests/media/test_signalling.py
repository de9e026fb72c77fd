"""Offers and answers the room refuses, and closing."""

from __future__ import annotations

import asyncio
import gc
import re

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.media.conftest import Lab
from tests.media.peers import StampedTrack, wait_until
from visioregul.media import MediaError, MediaEvent


async def offer_of(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return str(sdp)


async def video_offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(StampedTrack(), direction="sendonly")
    return await offer_of(pc)


def peer_connections() -> int:
    gc.collect()
    return sum(isinstance(o, RTCPeerConnection) for o in gc.get_objects())


async def test_given_offer_with_audio_when_publishing_then_refused_before_any_peer(
    lab: Lab,
) -> None:
    room, events = lab.room()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver(StampedTrack(), direction="sendonly")
    offer = await offer_of(pc)
    del pc
    before = peer_connections()

    with pytest.raises(MediaError) as refused:
        await room.publish(offer)

    assert refused.value.error_id == "audio_refused"
    assert refused.value.message == "audio is never negotiated: video only"
    assert peer_connections() == before
    assert room.publisher_id is None and events.entries == []


async def test_given_console_offer_with_audio_when_subscribing_then_refused(lab: Lab) -> None:
    room, _ = lab.room()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")

    with pytest.raises(MediaError) as refused:
        await room.subscribe("regulator", await offer_of(pc))

    assert refused.value.error_id == "audio_refused"
    assert room.subscriber_ids == []


def without(sdp: str, prefix: str) -> str:
    return "".join(line + "\r\n" for line in sdp.splitlines() if not line.startswith(prefix))


@pytest.mark.parametrize(
    ("make", "error_id"),
    [
        (lambda offer: "", "invalid_sdp"),
        (lambda offer: "hello", "invalid_sdp"),
        (lambda offer: "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\n", "invalid_sdp"),
        (lambda offer: re.sub(r"m=video \d+", "m=video nine", offer), "invalid_sdp"),
        (lambda offer: without(offer, "a=ice-ufrag"), "invalid_sdp"),
        (lambda offer: without(offer, "a=fingerprint"), "invalid_sdp"),
        (lambda offer: offer.replace("a=setup:actpass", "a=setup:sideways"), "invalid_sdp"),
        (lambda offer: offer.replace("apt=97", "apt=zz"), "invalid_sdp"),
        (lambda offer: offer.replace("a=sendonly", "a=recvonly"), "wrong_direction"),
        (lambda offer: offer.replace("VP8/90000", "AV1/90000").replace("H264", "X"), None),
        (lambda offer: offer + offer[offer.index("m=video") :], "too_many_video"),
        (lambda offer: "x" * 70000, "invalid_sdp"),
    ],
)
async def test_given_malformed_offer_when_publishing_then_media_error_and_room_still_usable(
    lab: Lab, make: object, error_id: str | None
) -> None:
    room, _ = lab.room()
    offer = await video_offer()
    assert callable(make)

    with pytest.raises(MediaError) as refused:
        await room.publish(make(offer))

    assert refused.value.error_id == (error_id or "codec_unsupported")
    assert refused.value.message
    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    assert room.publisher_id == "patient"


async def test_given_data_channel_offer_when_publishing_then_refused(lab: Lab) -> None:
    room, _ = lab.room()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("controls")

    with pytest.raises(MediaError) as refused:
        await room.publish(await offer_of(pc))

    assert refused.value.error_id == "unsupported_media"
    assert refused.value.details == {"kind": "application"}


async def test_given_server_offer_when_answer_is_wrong_then_subscriber_removed(lab: Lab) -> None:
    room, events = lab.room()
    await room.subscribe("regulator")

    with pytest.raises(MediaError) as refused:
        await room.accept_answer("regulator", "not sdp")

    assert refused.value.error_id == "invalid_sdp"
    assert room.subscriber_ids == []
    assert events.of(MediaEvent.SUBSCRIBER_LEFT)[0]["reason"] == "failed"
    with pytest.raises(MediaError) as unknown:
        await room.accept_answer("regulator", "v=0")
    assert unknown.value.error_id == "unknown_subscriber"


async def test_given_subscription_completed_when_answer_sent_again_then_invalid_state(
    lab: Lab,
) -> None:
    room, _ = lab.room()
    subscriber = lab.subscriber()
    await subscriber.join(room, "regulator")

    with pytest.raises(MediaError) as refused:
        await room.accept_answer("regulator", subscriber.pc.localDescription.sdp)

    assert refused.value.error_id == "invalid_state"
    await room.unsubscribe("regulator")
    await room.unsubscribe("regulator")  # unknown now: ignored
    assert room.subscriber_ids == []


async def test_given_room_when_closed_twice_then_safe_and_refuses_new_peers(lab: Lab) -> None:
    room, events = lab.room()
    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    subscriber = lab.subscriber()
    await subscriber.join(room, "regulator")
    await asyncio.wait_for(subscriber.first_frame.wait(), 10)

    await asyncio.gather(room.close(), room.close())
    await room.close()

    assert room.closed
    assert events.kinds()[-3:] == [
        MediaEvent.SUBSCRIBER_LEFT,
        MediaEvent.PUBLISHER_DISCONNECTED,
        MediaEvent.ROOM_CLOSED,
    ]
    assert events.kinds().count(MediaEvent.ROOM_CLOSED) == 1
    await wait_until(lambda: publisher.pc.connectionState == "closed", what="publisher closed")
    for call in (room.publish(await video_offer()), room.subscribe("late"), room.capture_still()):
        with pytest.raises(MediaError) as refused:
            await call
        assert refused.value.error_id == "room_closed"


async def test_given_event_callback_raising_then_room_carries_on(lab: Lab) -> None:
    def broken(kind: str, details: object) -> None:
        raise RuntimeError("broken listener")

    from visioregul.media import Room

    room = Room("broken", ice_servers=[], on_event=broken)
    lab.rooms.append(room)
    publisher = lab.publisher("VP8")
    await publisher.publish(room)
    subscriber = lab.subscriber()
    await subscriber.join(room, "regulator")
    await asyncio.wait_for(subscriber.first_frame.wait(), 10)
    await room.close()


async def test_given_sdp_answer_to_publisher_then_it_is_recvonly_video_only(lab: Lab) -> None:
    room, _ = lab.room()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(StampedTrack(), direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())

    answer = await room.publish(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    media_lines = [line for line in answer.splitlines() if line.startswith("m=")]
    assert len(media_lines) == 1 and media_lines[0].startswith("m=video")
    assert "a=recvonly" in answer.splitlines()
    assert "VP8/90000" in answer and "H264" not in answer
    await pc.close()
