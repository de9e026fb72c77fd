"""Trickle ICE: a publisher's candidates that follow its offer reach the room's ICE agent."""

from __future__ import annotations

import re

import pytest
from aiortc import RTCSessionDescription

from tests.media.conftest import Lab
from tests.media.peers import Publisher, wait_until
from visioregul.media import MediaError, MediaEvent
from visioregul.media.candidates import MAX_CANDIDATES

_CANDIDATE = re.compile(r"^a=(candidate:.*)$", re.MULTILINE)


def without_candidates(sdp: str) -> str:
    """The offer as a browser sends it with trickle ICE, before it has gathered anything."""
    lines = sdp.split("\r\n")
    return "\r\n".join(
        line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )


async def offer_of(publisher: Publisher) -> tuple[str, str]:
    """The test publisher's offer with every candidate, and its ICE username fragment."""
    await publisher.pc.setLocalDescription(await publisher.pc.createOffer())
    offer = str(publisher.pc.localDescription.sdp)
    ufrag = re.search(r"a=ice-ufrag:(\S+)", offer)
    assert ufrag is not None
    return offer, ufrag.group(1)


async def test_given_an_offer_without_candidates_when_they_follow_then_the_video_flows(
    lab: Lab,
) -> None:
    room, events = lab.room()
    publisher = lab.publisher("VP8")
    offer, ufrag = await offer_of(publisher)
    candidates = _CANDIDATE.findall(offer)
    assert candidates, "the test publisher gathers a candidate"

    answer = await room.publish(without_candidates(offer), participant_id="patient")
    await publisher.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    for line in candidates:
        assert await room.add_publisher_candidate("patient", ufrag, line, "0")
    assert await room.add_publisher_candidate("patient", ufrag, None, None)

    await wait_until(
        lambda: bool(events.of(MediaEvent.FIRST_FRAME)), what="the first frame", timeout=10
    )
    remote = room._feeds["patient"].slot.current
    assert remote is not None
    transport = remote.pc.getTransceivers()[0].receiver.transport.transport
    ports = {candidate.port for candidate in transport.getRemoteCandidates()}
    assert {int(line.split()[5]) for line in candidates} <= ports
    await publisher.close()


async def test_given_candidates_of_another_offer_or_after_the_end_then_they_are_ignored(
    lab: Lab,
) -> None:
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    offer, ufrag = await offer_of(publisher)
    host = "candidate:1 1 udp 2122260223 127.0.0.1 {port} typ host"

    # No publisher yet: nothing to add to.
    assert not await room.add_publisher_candidate("patient", ufrag, None, None)
    await room.publish(without_candidates(offer), participant_id="patient")
    # A candidate of a connection the page has replaced since.
    assert not await room.add_publisher_candidate(
        "patient", "old-ufrag", host.format(port=40000), "0"
    )
    # A page that sends candidates without end: the first ones are taken, not more.
    taken = [
        await room.add_publisher_candidate("patient", ufrag, host.format(port=port), "0")
        for port in range(40001, 40002 + MAX_CANDIDATES)
    ]
    assert taken == [True] * MAX_CANDIDATES + [False]
    assert await room.add_publisher_candidate("patient", ufrag, None, None)
    assert not await room.add_publisher_candidate("patient", ufrag, None, None)
    await publisher.close()


@pytest.mark.parametrize(
    "line",
    [
        "candidate:garbage",
        "candidate:1 1 udp 2122260223 127.0.0.1 notaport typ host",
        "candidate:1 1 sctp 2122260223 127.0.0.1 5000 typ host",
        "candidate:1 1 udp 2122260223 127.0.0.1 70000 typ host",
        "candidate:1 1 udp 2122260223 127.0.0.1 5000 host typ",
        "candidate:" + "1" * 600,
    ],
)
async def test_given_a_line_that_is_no_candidate_then_invalid_candidate(
    lab: Lab, line: str
) -> None:
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    offer, ufrag = await offer_of(publisher)
    await room.publish(without_candidates(offer), participant_id="patient")
    with pytest.raises(MediaError) as refused:
        await room.add_publisher_candidate("patient", ufrag, line, "0")
    assert refused.value.error_id == "invalid_candidate"
    await publisher.close()
