"""The decoder stand-in and its bounded jitter buffer, fed RTP packets directly."""

from __future__ import annotations

import av
from aiortc.rtp import RtpPacket

from visioregul.media.passthrough import PassthroughDecoder, PassthroughJitterBuffer

TICKS = 3000  # one frame at 30 fps
KEY = b"\x00\x00\x00\x9d\x01\x2a" + (320).to_bytes(2, "little") + (240).to_bytes(2, "little")
DELTA = b"\x01\x00\x00"


class Feed:
    """A VP8 stream as RTP packets (one per frame unless told), into a PassthroughJitterBuffer."""

    def __init__(
        self, *, max_delay: float = 0.5, first_timestamp: int = 1000, ticks: int = TICKS
    ) -> None:
        self.ticks = ticks
        self.delivered: list[av.Packet] = []
        self.requests: list[str] = []
        self.buffer = PassthroughJitterBuffer(
            PassthroughDecoder("VP8"),
            self.delivered.append,
            self.requests.append,
            max_delay=max_delay,
            clock=lambda: self.timestamp / 90000,  # packets arrive as they are sent
        )
        self.sequence = 100
        self.timestamp = first_timestamp
        self.frame = 0

    def packet(self, data: bytes, *, marker: bool = True) -> RtpPacket:
        packet = RtpPacket(
            payload_type=96,
            marker=int(marker),
            sequence_number=self.sequence,
            timestamp=self.timestamp & 0xFFFFFFFF,
            ssrc=1234,
        )
        packet._data = data  # type: ignore[attr-defined] # what the receiver sets after depayloading
        self.sequence = (self.sequence + 1) & 0xFFFF
        return packet

    def frame_packets(self, data: bytes, parts: int = 1) -> list[RtpPacket]:
        """Packets of the next frame, stamped with its number."""
        payload = data + self.frame.to_bytes(2, "big")
        size = -(-len(payload) // parts)
        chunks = [payload[i : i + size] for i in range(0, len(payload), size)]
        packets = [self.packet(c, marker=i == len(chunks) - 1) for i, c in enumerate(chunks)]
        self.timestamp += self.ticks
        self.frame += 1
        return packets

    def send(self, data: bytes, parts: int = 1) -> None:
        for packet in self.frame_packets(data, parts):
            assert self.buffer.add(packet) == (False, None)

    def numbers(self) -> list[int]:
        return [int.from_bytes(bytes(p)[-2:], "big") for p in self.delivered]


def test_given_clean_stream_then_every_frame_delivered_as_packet_with_rtp_clock() -> None:
    feed = Feed()
    feed.send(KEY, parts=3)
    for _ in range(5):
        feed.send(DELTA)

    # A frame goes as soon as its marker bit arrives, not when the next one starts.
    assert feed.numbers() == [0, 1, 2, 3, 4, 5]
    assert [p.is_keyframe for p in feed.delivered] == [True] + [False] * 5
    assert [p.pts for p in feed.delivered] == [0, 3000, 6000, 9000, 12000, 15000]
    assert {(p.time_base.numerator, p.time_base.denominator) for p in feed.delivered} == {
        (1, 90000)
    }
    assert bytes(feed.delivered[0])[:10] == KEY
    assert feed.buffer.decoder.packets == 6
    assert feed.buffer.media_ssrc == 1234
    assert feed.requests == []


def test_given_stream_starting_with_delta_frames_then_dropped_until_keyframe() -> None:
    feed = Feed()
    feed.send(DELTA)
    feed.send(DELTA)
    feed.send(KEY)
    feed.send(DELTA)
    feed.send(DELTA)

    assert feed.numbers() == [2, 3, 4]
    assert feed.buffer.frames_dropped == 2
    assert set(feed.requests) == {"start"}


def test_given_packet_lost_for_good_then_backlog_dropped_after_max_delay_and_keyframe_awaited() -> (
    None
):
    feed = Feed(max_delay=0.5)
    feed.send(KEY)
    feed.send(DELTA)
    feed.frame_packets(DELTA)  # frame 2 is lost, and never retransmitted
    for _ in range(20):  # 0.66 s of frames of 1.1 KB (270 kbit/s) pile up behind it
        feed.send(DELTA + bytes(1100))
    assert feed.numbers() == [0, 1]
    assert feed.buffer.backlog_resets == 1
    assert feed.requests[0] == "backlog"

    feed.send(DELTA)  # after the reset, delta frames cannot be decoded
    feed.send(KEY, parts=4)
    feed.send(DELTA)
    feed.send(DELTA)

    assert feed.numbers() == [0, 1, 24, 25, 26]
    # Held media counts from frame 3, the oldest held, up to 0.5 s plus two packets' time at
    # the link's rate: the reset comes with frame 22.
    assert feed.buffer.frames_dropped == 2  # frames 22 and 23, after the reset
    assert feed.buffer.backlog_resets == 1
    assert set(feed.requests) == {"backlog"}


def test_given_late_retransmission_within_max_delay_then_held_frames_released_at_once() -> None:
    feed = Feed(max_delay=0.5)
    feed.send(KEY)
    (lost,) = feed.frame_packets(DELTA)
    for _ in range(6):
        feed.send(DELTA)
    assert feed.numbers() == [0]

    assert feed.buffer.add(lost) == (False, None)  # the retransmission arrives

    # Not one frame per later packet, as aiortc's buffer does: every complete frame at once.
    assert feed.numbers() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert feed.buffer.backlog_resets == 0 and feed.requests == []
    assert feed.buffer.add(lost) == (False, None)  # a duplicate, too late: ignored
    assert len(feed.delivered) == 8


def test_given_reset_in_the_middle_of_a_frame_then_reassembly_restarts_at_a_frame_boundary() -> (
    None
):
    feed = Feed(max_delay=0.05)
    feed.send(KEY)
    feed.frame_packets(DELTA)  # lost
    feed.send(DELTA)
    feed.send(DELTA)
    big = feed.frame_packets(KEY + b"x" * 30, parts=3)
    for packet in big[:2]:  # the reset happens on the first packet; the rest must not make a frame
        feed.buffer.add(packet)
    assert feed.buffer.backlog_resets == 1
    feed.buffer.add(big[2])
    feed.send(KEY)
    feed.send(DELTA)

    assert feed.numbers() == [0, 5, 6]


def test_given_rtp_timestamp_wrapping_then_pts_keeps_increasing() -> None:
    feed = Feed(first_timestamp=(1 << 32) - 2 * TICKS)
    feed.send(KEY)
    for _ in range(4):
        feed.send(DELTA)

    assert [p.pts for p in feed.delivered] == [0, 3000, 6000, 9000, 12000]


def test_given_sender_without_marker_bits_then_frames_end_at_the_next_timestamp() -> None:
    feed = Feed()
    for data in (KEY, DELTA, DELTA):
        for packet in feed.frame_packets(data, parts=2):
            packet.marker = 0
            feed.buffer.add(packet)

    assert feed.numbers() == [0, 1]


def test_given_a_long_pause_between_two_frames_then_nothing_is_dropped() -> None:
    # A sender on a weak link drops frames: a second between two frames is no backlog.
    feed = Feed(max_delay=0.5)
    feed.send(KEY)
    feed.timestamp += 90000
    feed.send(DELTA)
    feed.send(DELTA)

    assert feed.numbers() == [0, 1, 2]
    assert feed.buffer.backlog_resets == 0 and feed.requests == []


def test_given_a_keyframe_slowly_crossing_a_weak_link_with_a_hole_then_it_is_repaired() -> None:
    # 5 frames a second of 1 KB: 40 kbit/s. A retransmission waits behind two large packets.
    feed = Feed(max_delay=0.5, ticks=18000)
    for _ in range(6):
        feed.send(DELTA + bytes(1000) if feed.frame else KEY + bytes(1000))
    big = feed.frame_packets(KEY + bytes(4000), parts=4)
    for packet in big[:1] + big[2:]:
        feed.buffer.add(packet)
    for _ in range(3):  # 0.6 s of frames behind the hole, within 0.5 s + 2 x 1 KB at 5 KB/s
        feed.send(DELTA + bytes(1000))
    assert feed.numbers() == [0, 1, 2, 3, 4, 5]
    assert feed.buffer.backlog_resets == 0

    feed.buffer.add(big[1])  # the retransmission

    assert feed.numbers() == list(range(10))
    assert feed.buffer.backlog_resets == 0 and feed.requests == []
    assert feed.buffer.last_keyframe_bytes > 4000
    assert 4000 < feed.buffer.receive_rate < 8000


def test_given_the_same_hole_on_a_fast_link_then_the_backlog_is_dropped() -> None:
    feed = Feed(max_delay=0.5, ticks=18000)
    for _ in range(6):
        # 150 KB/s, in packets of 1.2 KB.
        feed.send(DELTA + bytes(30000) if feed.frame else KEY + bytes(30000), parts=25)
    big = feed.frame_packets(KEY + bytes(4000), parts=4)
    for packet in big[:1] + big[2:]:
        feed.buffer.add(packet)
    for _ in range(3):
        feed.send(DELTA + bytes(1000))

    assert feed.buffer.backlog_resets == 1
    assert feed.requests == ["backlog"]


class LinkFeed(Feed):
    """A :class:`Feed` whose buffer reports the link's changes."""

    def __init__(self, ticks: int) -> None:
        super().__init__(ticks=ticks)
        self.changes: list[tuple[bool, int]] = []
        self.buffer = PassthroughJitterBuffer(
            PassthroughDecoder("VP8"),
            self.delivered.append,
            self.requests.append,
            max_delay=0.5,
            clock=lambda: self.timestamp / 90000,
            on_link=lambda weak, rate: self.changes.append((weak, rate)),
        )

    def run(self, seconds: float, size: int, *, lose_every: int = 0, key: bool = True) -> None:
        for index in range(int(seconds * 90000 / self.ticks)):
            first = KEY if self.frame == 0 and key else DELTA
            packets = self.frame_packets(first + bytes(size))
            if lose_every and index % lose_every == lose_every - 1:
                continue
            for packet in packets:
                self.buffer.add(packet)


def test_given_a_link_under_48_kbits_with_losses_then_it_is_reported_weak_then_recovered() -> None:
    feed = LinkFeed(ticks=9000)  # 10 packets a second
    feed.run(3, 300, lose_every=5)  # 19 kbit/s, 20 % lost
    assert feed.changes == []
    feed.run(3, 300, lose_every=5)
    assert [weak for weak, _ in feed.changes] == [True]
    assert 10_000 < feed.changes[0][1] < 48_000
    assert feed.buffer.weak_link

    feed.run(6, 2000)  # 160 kbit/s, nothing lost

    assert [weak for weak, _ in feed.changes] == [True, False]
    assert feed.changes[1][1] >= 96_000
    assert not feed.buffer.weak_link


def test_given_a_camera_with_little_to_send_and_no_loss_then_the_link_is_not_weak() -> None:
    feed = LinkFeed(ticks=9000)
    feed.run(10, 300)  # 24 kbit/s, nothing lost

    assert feed.changes == []


def test_given_a_slow_link_where_no_frame_completes_then_it_is_reported_weak() -> None:
    # Retransmissions fill every hole, so no loss shows, but no keyframe ever gets through.
    feed = LinkFeed(ticks=9000)
    feed.run(8, 300, key=False)

    assert [weak for weak, _ in feed.changes] == [True]
