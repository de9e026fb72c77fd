"""Transport-wide congestion control with real aiortc peers: negotiated for the publishers that
offer it, every packet reported back, no REMB then; the stock REMB for those that do not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiortc import RTCSessionDescription
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, is_rtcp

from tests.media.conftest import Lab
from tests.media.peers import Publisher, wait_until
from visioregul.media import Room
from visioregul.media.congestion import ABS_SEND_TIME_URI, TRANSPORT_CC_URI
from visioregul.media.twcc import TransportFeedback, parse_feedback

EXTENSION_ID = 5
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"


class TransportCcPublisher:
    """Makes an aiortc publisher offer transport-cc like a browser does, number every RTP packet
    it sends on the transport-wide sequence, and keep the RTCP it receives."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.sent = 0
        self.feedback: list[TransportFeedback] = []
        self.remb = 0
        self.answer = ""
        self._map = HeaderExtensionsMap()
        self._map.configure(
            RTCRtpParameters(
                headerExtensions=[
                    RTCRtpHeaderExtensionParameters(id=1, uri=MID_URI),
                    RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME_URI),
                    RTCRtpHeaderExtensionParameters(id=EXTENSION_ID, uri=TRANSPORT_CC_URI),
                ]
            )
        )

    async def publish(self, room: Room) -> None:
        pc = self.publisher.pc
        await pc.setLocalDescription(await pc.createOffer())
        offer = offer_with_transport_cc(pc.localDescription.sdp)
        self.answer = await room.publish(offer, participant_id="patient")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=self.answer, type="answer"))
        transport = self.publisher.sender.transport
        send: Callable[[bytes], object] = transport._send_rtp
        receive: Callable[[bytes], object] = transport._handle_rtcp_data

        async def numbered(data: bytes) -> None:
            if not is_rtcp(data):
                packet = RtpPacket.parse(data, self._map)
                packet.extensions.transport_sequence_number = self.sent & 0xFFFF
                self.sent += 1
                data = packet.serialize(self._map)
            result = send(data)
            assert asyncio.iscoroutine(result)
            await result

        async def received(data: bytes) -> None:
            if len(data) > 1 and data[1] == 205 and data[0] & 0x1F == 15:
                self.feedback.append(parse_feedback(data))
            if len(data) > 1 and data[1] == 206 and data[0] & 0x1F == 15:
                self.remb += 1
            result = receive(data)
            assert asyncio.iscoroutine(result)
            await result

        setattr(transport, "_send_rtp", numbered)  # noqa: B010
        setattr(transport, "_handle_rtcp_data", received)  # noqa: B010

    def reported(self) -> dict[int, bool]:
        """Sequence number -> whether the latest feedback about it says it arrived."""
        status: dict[int, bool] = {}
        for message in self.feedback:
            for offset, delta in enumerate(message.deltas):
                status[(message.base_sequence + offset) & 0xFFFF] = delta is not None
        return status


def offer_with_transport_cc(sdp: str) -> str:
    """A browser's transport-cc lines added to an aiortc offer (VP8 only is offered)."""
    lines = sdp.splitlines()
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line.startswith("a=extmap:3 "):
            out.append(f"a=extmap:{EXTENSION_ID} {TRANSPORT_CC_URI}")
        if line.startswith("a=rtcp-fb:") and line.endswith(" goog-remb"):
            out.append(line.replace("goog-remb", "transport-cc"))
    return "\r\n".join(out) + "\r\n"


async def test_given_a_publisher_offering_transport_cc_then_each_packet_is_reported_and_no_remb(
    lab: Lab,
) -> None:
    room, _ = lab.room()
    publisher = TransportCcPublisher(lab.publisher("VP8"))
    await publisher.publish(room)
    subscriber = lab.subscriber()
    await subscriber.join(room, "regulator")
    await asyncio.wait_for(subscriber.first_frame.wait(), 10)
    await wait_until(lambda: publisher.sent > 200, what="200 packets sent")
    sent = publisher.sent
    await wait_until(
        lambda: sum(publisher.reported().values()) >= sent - 5, what="every packet reported"
    )

    assert f"a=extmap:{EXTENSION_ID} {TRANSPORT_CC_URI}" in publisher.answer
    assert "transport-cc" in publisher.answer
    assert "goog-remb" not in publisher.answer
    assert ABS_SEND_TIME_URI not in publisher.answer
    assert publisher.remb == 0
    counts = [message.feedback_count for message in publisher.feedback]
    assert counts == [n & 0xFF for n in range(len(counts))]
    assert len(publisher.feedback) < sent, "one message covers several packets"


async def test_given_a_publisher_without_transport_cc_then_the_answer_keeps_remb(lab: Lab) -> None:
    room, _ = lab.room()
    publisher = lab.publisher("VP8")
    await publisher.pc.setLocalDescription(await publisher.pc.createOffer())
    answer = await room.publish(publisher.pc.localDescription.sdp, participant_id="patient")

    assert "goog-remb" in answer
    assert ABS_SEND_TIME_URI in answer
    assert TRANSPORT_CC_URI not in answer
    assert "transport-cc" not in answer


async def test_given_transport_cc_then_a_subscribers_negotiation_is_unchanged(lab: Lab) -> None:
    room, _ = lab.room()
    publisher = TransportCcPublisher(lab.publisher("VP8"))
    await publisher.publish(room)
    offer = await room.subscribe("regulator", publisher_id="patient")

    assert "goog-remb" in offer
    assert TRANSPORT_CC_URI not in offer
