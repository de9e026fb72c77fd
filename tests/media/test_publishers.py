"""Several publishers in one room: each subscription receives its own publisher's video."""

from __future__ import annotations

import asyncio

import pytest

from tests.media.conftest import Lab
from tests.media.peers import Publisher, Subscriber, wait_until
from visioregul.media import MediaError, MediaEvent

THIRD = "third:relative"
THIRD_COUNTER = 30_000
"""The third party's camera numbers its frames from here, so that its pictures are told apart."""


def from_patient(subscriber: Subscriber) -> bool:
    return bool(subscriber.frames) and all(f.counter < THIRD_COUNTER for f in subscriber.frames)


def from_third(subscriber: Subscriber) -> bool:
    return bool(subscriber.frames) and all(f.counter >= THIRD_COUNTER for f in subscriber.frames)


async def flowing(subscriber: Subscriber, frames: int = 10) -> None:
    """Wait until ``frames`` more frames reached ``subscriber``."""
    start = len(subscriber.frames)
    await wait_until(lambda: len(subscriber.frames) >= start + frames, what="frames to flow")


async def test_given_two_publishers_and_two_viewers_then_each_viewer_gets_both_streams(
    lab: Lab,
) -> None:
    room, events = lab.room()
    patient = lab.publisher("VP8")
    third = lab.publisher("VP8", first_counter=THIRD_COUNTER)
    await patient.publish(room)
    await third.publish(room, participant_id=THIRD)
    viewers: dict[tuple[str, str], Subscriber] = {}
    for console in ("regulator", "doctor"):
        for publisher_id in ("patient", THIRD):
            viewer = viewers[console, publisher_id] = lab.subscriber()
            await viewer.join(room, f"{console}/{publisher_id}", publisher_id=publisher_id)

    await asyncio.gather(*(flowing(viewer) for viewer in viewers.values()))

    for (console, publisher_id), viewer in viewers.items():
        assert (from_patient if publisher_id == "patient" else from_third)(viewer), console
        assert viewer.unreadable == 0
    assert room.publisher_ids == ["patient", THIRD]
    assert room.subscription_of(f"doctor/{THIRD}") == THIRD
    assert sorted(str(e["participant_id"]) for e in events.of(MediaEvent.FIRST_FRAME)) == [
        "patient",
        THIRD,
    ]
    assert set(room.stats().publishers) == {"patient", THIRD}


async def test_given_two_publishers_when_one_leaves_then_the_other_keeps_flowing(lab: Lab) -> None:
    room, events = lab.room()
    patient = lab.publisher("VP8")
    third = lab.publisher("VP8", first_counter=THIRD_COUNTER)
    await patient.publish(room)
    await third.publish(room, participant_id=THIRD)
    sees_patient, sees_third = lab.subscriber(), lab.subscriber()
    await sees_patient.join(room, "regulator/patient")
    await sees_third.join(room, "regulator/third", publisher_id=THIRD)
    await asyncio.gather(flowing(sees_patient), flowing(sees_third))

    await third.close()
    await wait_until(lambda: room.publisher_ids == ["patient"], what="the third party to leave")
    stalled_at = len(sees_third.frames)
    await flowing(sees_patient, 30)

    assert from_patient(sees_patient) and sees_patient.unreadable == 0
    left = events.of(MediaEvent.PUBLISHER_DISCONNECTED)
    assert [d["participant_id"] for d in left] == [THIRD]
    # Its viewer stays subscribed (frames resume if the third party comes back) but gets nothing.
    assert len(sees_third.frames) == stalled_at
    assert room.subscription_of("regulator/third") == THIRD


async def test_given_two_publishers_when_one_reconnects_then_only_that_one_is_replaced(
    lab: Lab,
) -> None:
    room, events = lab.room()
    patient = lab.publisher("VP8")
    third = lab.publisher("VP8", first_counter=THIRD_COUNTER)
    await patient.publish(room)
    await third.publish(room, participant_id=THIRD)
    sees_patient, sees_third = lab.subscriber(), lab.subscriber()
    await sees_patient.join(room, "regulator/patient")
    await sees_third.join(room, "regulator/third", publisher_id=THIRD)
    await asyncio.gather(flowing(sees_patient), flowing(sees_third))

    again = lab.publisher("VP8", first_counter=THIRD_COUNTER + 10_000)
    await again.publish(room, participant_id=THIRD)
    await wait_until(
        lambda: sees_third.latest is not None and sees_third.latest >= THIRD_COUNTER + 10_000,
        what="the third party's new stream",
    )
    await flowing(sees_patient)

    replaced = events.of(MediaEvent.PUBLISHER_DISCONNECTED)
    assert replaced == [{"room_id": room.room_id, "participant_id": THIRD, "reason": "replaced"}]
    assert room.publisher_ids == ["patient", THIRD]
    assert from_patient(sees_patient) and sees_patient.unreadable == 0


async def test_given_a_vp8_room_when_a_second_publisher_offers_h264_only_then_refused_clearly(
    lab: Lab,
) -> None:
    room, events = lab.room()
    patient = lab.publisher("VP8")
    await patient.publish(room)
    viewer = lab.subscriber()
    await viewer.join(room, "regulator")
    await flowing(viewer)

    h264_only = lab.publisher("H264", first_counter=THIRD_COUNTER)
    await h264_only.pc.setLocalDescription(await h264_only.pc.createOffer())
    with pytest.raises(MediaError) as refused:
        await room.publish(h264_only.pc.localDescription.sdp, participant_id=THIRD)

    assert refused.value.error_id == "codec_mismatch"
    assert refused.value.details["room_codec"] == "VP8"
    assert "VP8" not in refused.value.details["offered"]
    assert room.codec == "VP8" and room.publisher_ids == ["patient"]
    assert events.of(MediaEvent.SUBSCRIBER_LEFT) == []
    await flowing(viewer)


async def test_given_a_lone_publisher_when_it_comes_back_in_h264_then_the_room_follows(
    lab: Lab,
) -> None:
    """With nobody else publishing, a publisher's codec change is not a mismatch."""
    room, _ = lab.room()
    first = lab.publisher("VP8")
    await first.publish(room, participant_id=THIRD)
    await room.unpublish(THIRD)
    second: Publisher = lab.publisher("H264")
    await second.publish(room)
    again: Publisher = lab.publisher("VP8")
    await again.publish(room)  # the patient's page reloads in another browser

    assert room.codec == "VP8" and room.publisher_ids == ["patient"]


async def test_given_a_subscription_to_a_third_party_before_it_publishes_then_frames_flow_later(
    lab: Lab,
) -> None:
    room, _ = lab.room()
    viewer = lab.subscriber()
    await viewer.join(room, "regulator/third", publisher_id=THIRD)
    third = lab.publisher("VP8", first_counter=THIRD_COUNTER)
    await third.publish(room, participant_id=THIRD)

    await asyncio.wait_for(viewer.first_frame.wait(), 10)

    assert from_third(viewer)


async def test_given_one_publisher_unpublished_by_id_then_the_other_stays(lab: Lab) -> None:
    room, _ = lab.room()
    patient = lab.publisher("VP8")
    third = lab.publisher("VP8", first_counter=THIRD_COUNTER)
    await patient.publish(room)
    await third.publish(room, participant_id=THIRD)

    await room.unpublish(THIRD)

    assert room.publisher_ids == ["patient"]
    await room.unpublish()
    assert room.publisher_ids == []


async def test_given_only_a_third_party_publishing_then_a_still_is_never_taken_as_the_patients(
    lab: Lab,
) -> None:
    room, _ = lab.room()
    third = lab.publisher("VP8", first_counter=THIRD_COUNTER)
    await third.publish(room, participant_id=THIRD)
    await wait_until(lambda: room.stats().frames_relayed > 0, what="the third party's video")

    with pytest.raises(MediaError) as refused:
        await room.capture_still()
    jpeg = await room.capture_still(participant_id=THIRD)

    assert refused.value.error_id == "no_publisher"
    assert jpeg[:2] == b"\xff\xd8"
