"""Transport-wide feedback packets: known vectors packed and parsed, arrivals reported back."""

from __future__ import annotations

import random

import pytest

from visioregul.media.congestion import MAX_PACKETS_PER_FEEDBACK, FeedbackRecorder
from visioregul.media.twcc import (
    LARGE_DELTA,
    NOT_RECEIVED,
    SMALL_DELTA,
    TICK_US,
    TransportFeedback,
    decode_chunks,
    encode_chunks,
    pack_feedback,
    parse_feedback,
)

# A one-packet message with its padding byte, as pion/rtcp and webrtc-rs test it.
ONE_PACKET = bytes.fromhex("afcd0005fa17fa1743032fa0009900013de8021720019401")
# Two large then four small deltas, in two run-length chunks, without padding (same suites).
SIX_PACKETS = bytes.fromhex("8fcd0007fa17fa17193dd8bb0174000645b15a40400220041ffe1f9ad000d000")


def test_given_the_one_packet_vector_then_it_parses_and_packs_back_byte_for_byte() -> None:
    feedback = parse_feedback(ONE_PACKET)

    assert feedback == TransportFeedback(
        sender_ssrc=4195875351,
        media_ssrc=1124282272,
        base_sequence=153,
        reference_time=4057090,
        feedback_count=23,
        deltas=(148,),
    )
    assert pack_feedback(feedback) == ONE_PACKET


def test_given_the_six_packet_vector_then_it_parses_and_survives_a_round_trip() -> None:
    feedback = parse_feedback(SIX_PACKETS)

    assert feedback.base_sequence == 372
    assert feedback.reference_time == 4567386
    assert feedback.feedback_count == 64
    assert feedback.deltas == (8190, 8090, 208, 0, 208, 0)
    packed = pack_feedback(feedback)
    assert len(packed) % 4 == 0
    assert parse_feedback(packed) == feedback


@pytest.mark.parametrize(
    ("statuses", "chunk"),
    [
        ([NOT_RECEIVED] * 221, 0x00DD),  # draft 3.1.3, example 1
        ([0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0], 0x9F1C),  # draft 3.1.4, example 1
        ([SMALL_DELTA], 0x2001),
    ],
)
def test_given_the_drafts_chunk_examples_then_they_encode_and_decode(
    statuses: list[int], chunk: int
) -> None:
    assert encode_chunks(statuses) == [chunk]
    assert decode_chunks([chunk], len(statuses)) == statuses


def test_given_a_two_bit_vector_then_its_seven_symbols_decode() -> None:
    # Draft 3.1.4, example 2 (its second symbol is the draft's reserved one).
    assert decode_chunks([0xCD50], 7) == [0, 3, 1, 1, 1, 0, 0]
    assert encode_chunks([1, 2, 0, 1, 1, 2, 0]) == [0xC000 | 0b01_10_00_01_01_10_00]


def test_given_random_statuses_then_chunks_decode_to_them() -> None:
    rng = random.Random(7)
    for _ in range(200):
        length = rng.randint(1, 300)
        weights = rng.choice([(1, 8, 1), (1, 1, 1), (0, 1, 0), (5, 1, 0)])
        statuses = rng.choices([NOT_RECEIVED, SMALL_DELTA, LARGE_DELTA], weights, k=length)
        assert decode_chunks(encode_chunks(statuses), length) == statuses


def test_given_malformed_packets_then_parsing_refuses_them() -> None:
    with pytest.raises(ValueError):
        parse_feedback(ONE_PACKET[:12])
    with pytest.raises(ValueError):
        parse_feedback(bytes([0x81]) + ONE_PACKET[1:])  # FMT 1: a NACK
    with pytest.raises(ValueError):
        parse_feedback(SIX_PACKETS[:-4])


def reported_arrivals(messages: list[TransportFeedback]) -> dict[int, int]:
    """Sequence number -> arrival time (µs, from the reference time) read back from messages."""
    arrivals: dict[int, int] = {}
    for message in messages:
        ticks = message.reference_time * 256
        for offset, delta in enumerate(message.deltas):
            if delta is not None:
                ticks += delta
                arrivals[(message.base_sequence + offset) & 0xFFFF] = ticks * TICK_US
    return arrivals


def test_given_arrivals_with_losses_and_a_wrap_then_feedback_reports_each_one() -> None:
    recorder = FeedbackRecorder(media_ssrc=1234)
    rng = random.Random(3)
    arrivals: dict[int, int] = {}
    now = 10_000_000_000
    messages: list[TransportFeedback] = []
    for step in range(600):
        sequence = (65_300 + step) & 0xFFFF
        now += rng.choice([0, 300, 900, 4_000, 70_000])
        if step % 17 == 5:
            continue  # lost
        arrivals[sequence] = now
        recorder.record(sequence, now)
        if step % 40 == 0:
            messages += [parse_feedback(pack_feedback(m)) for m in recorder.build(99)]
    messages += [parse_feedback(pack_feedback(m)) for m in recorder.build(99)]

    reported = reported_arrivals(messages)
    assert set(reported) == set(arrivals)
    for sequence, at in arrivals.items():
        assert abs((reported[sequence] - at) - (reported[65_300] - arrivals[65_300])) < TICK_US
    assert [m.feedback_count for m in messages] == list(range(len(messages)))
    assert all(m.sender_ssrc == 99 and m.media_ssrc == 1234 for m in messages)


def test_given_a_packet_after_its_report_then_it_is_reported_again_as_received() -> None:
    recorder = FeedbackRecorder()
    recorder.record(10, 1_000_000)
    recorder.record(12, 1_001_000)
    first = recorder.build(1)
    assert first[0].deltas[1] is None
    recorder.record(11, 1_030_000)
    late = recorder.build(1)

    assert late[0].base_sequence == 11
    assert late[0].deltas[0] is not None


def test_given_a_gap_of_ten_seconds_then_a_new_message_starts_after_it() -> None:
    recorder = FeedbackRecorder()
    recorder.record(1, 1_000_000)
    recorder.record(2, 11_000_000)
    messages = recorder.build(1)

    assert [m.base_sequence for m in messages] == [1, 2]
    assert set(reported_arrivals(messages)) == {1, 2}


def test_given_packets_lost_between_two_messages_then_the_next_one_reports_them_lost() -> None:
    recorder = FeedbackRecorder()
    recorder.record(1, 1_000_000)
    recorder.build(1)
    recorder.record(4, 1_050_000)  # 2 and 3 lost
    (message,) = recorder.build(1)

    assert message.base_sequence == 2
    assert message.deltas[:2] == (None, None)
    assert message.deltas[2] is not None


def test_given_more_losses_in_a_row_than_a_message_holds_then_feedback_resumes_after_them() -> None:
    """A link cut for 30 s while the browser kept sending: thousands of numbers lost in a row."""
    recorder = FeedbackRecorder()
    for sequence in range(10):
        recorder.record(sequence, 1_000_000 + sequence * 1000)
    recorder.build(1)
    recorder.record(7_510, 31_000_000)  # 7,500 numbers lost while the link was down
    recorder.record(7_511, 31_001_000)
    messages = recorder.build(1)

    assert not recorder.pending
    assert set(reported_arrivals(messages)) == {7_510, 7_511}
    # What fits in a message before the first arrival is reported lost, the rest forgotten.
    assert all(len(m.deltas) <= MAX_PACKETS_PER_FEEDBACK for m in messages)
    assert all(m.deltas[-1] is not None for m in messages)
    assert messages[0].deltas[0] is None


def test_given_a_packet_too_late_to_report_then_it_is_ignored() -> None:
    recorder = FeedbackRecorder()
    for sequence in range(2000, 3200):
        recorder.record(sequence, sequence * 1000)
    recorder.build(1)
    recorder.record(1500, 4_000_000)

    assert not recorder.pending
    assert recorder.build(1) == []
