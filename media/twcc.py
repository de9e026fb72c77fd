"""Transport-wide congestion control feedback packets: packing and parsing.

The RTCP transport-layer feedback message of draft-holmer-rmcat-transport-wide-cc-extensions-01
(RTPFB, ``FMT=15``): for a run of transport-wide sequence numbers, whether each packet arrived and,
for those that did, its arrival time as a delta from the previous one (the first from a reference
time), in units of 250 µs. A browser's send-side bandwidth estimator reads the spread of these
deltas against its own send times.

Wire layout after the common RTCP header and the two SSRCs::

    base sequence number (16) | packet status count (16)
    reference time (24, signed, x 64 ms) | feedback packet count (8)
    packet chunks (16 bits each), then receive deltas (8 or 16 bits each), then padding

A status is 0 (not received), 1 (received, delta fits 0..255 ticks: one byte) or 2 (received,
any other delta: two bytes, signed). A chunk is a run (``0 SS LLLLLLLLLLLLL``: one status
repeated up to 8191 times) or a vector (``1 0`` and 14 one-bit statuses, or ``1 1`` and 7 two-bit
statuses).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "LARGE_DELTA",
    "NOT_RECEIVED",
    "SMALL_DELTA",
    "TICK_US",
    "TransportFeedback",
    "decode_chunks",
    "encode_chunks",
    "pack_feedback",
    "parse_feedback",
    "status_of",
]

TICK_US = 250
"""One receive-delta unit, in microseconds."""
REFERENCE_TICKS = 256
"""One reference-time unit (64 ms) in receive-delta units."""

NOT_RECEIVED = 0
SMALL_DELTA = 1
LARGE_DELTA = 2

RTCP_RTPFB = 205
FMT_TRANSPORT_CC = 15

_MAX_RUN = 0x1FFF
_ONE_BIT = 14
_TWO_BIT = 7


@dataclass(frozen=True)
class TransportFeedback:
    """One feedback message.

    ``deltas`` has one entry per sequence number from ``base_sequence``: None for a packet not
    received, else its receive delta in 250 µs ticks (the first from ``reference_time``, each
    next one from the previous received packet).
    """

    sender_ssrc: int
    media_ssrc: int
    base_sequence: int
    reference_time: int
    """Signed 24-bit, in multiples of 64 ms."""
    feedback_count: int
    deltas: tuple[int | None, ...]


def status_of(delta: int | None) -> int:
    """The packet status symbol for a receive delta (None: not received)."""
    if delta is None:
        return NOT_RECEIVED
    if 0 <= delta <= 0xFF:
        return SMALL_DELTA
    if -0x8000 <= delta <= 0x7FFF:
        return LARGE_DELTA
    raise ValueError(f"receive delta {delta} does not fit 16 bits")


def encode_chunks(statuses: Sequence[int]) -> list[int]:
    """The packet status chunks for ``statuses``, as 16-bit values.

    A status repeated 7 times or more starts a run; otherwise a one-bit vector when the next 14
    statuses are all 0 or 1, else a two-bit vector of the next 7. A vector past the last status
    is filled with "not received", which the status count tells the reader to ignore.
    """
    chunks: list[int] = []
    i, count = 0, len(statuses)
    while i < count:
        symbol = statuses[i]
        run = 1
        while i + run < count and statuses[i + run] == symbol and run < _MAX_RUN:
            run += 1
        if run >= _TWO_BIT or i + run == count:
            chunks.append((symbol << 13) | run)
            i += run
            continue
        window = statuses[i : i + _ONE_BIT]
        if len(window) == _ONE_BIT and all(s <= SMALL_DELTA for s in window):
            chunk = 0x8000
            for position, s in enumerate(window):
                chunk |= s << (13 - position)
            chunks.append(chunk)
            i += _ONE_BIT
            continue
        chunk = 0xC000
        for position, s in enumerate(statuses[i : i + _TWO_BIT]):
            chunk |= s << (2 * (6 - position))
        chunks.append(chunk)
        i += _TWO_BIT
    return chunks


def decode_chunks(chunks: Sequence[int], count: int) -> list[int]:
    """The first ``count`` statuses written in ``chunks``."""
    statuses: list[int] = []
    for chunk in chunks:
        if chunk & 0x8000 == 0:
            statuses.extend([(chunk >> 13) & 0x3] * (chunk & _MAX_RUN))
        elif chunk & 0x4000 == 0:
            statuses.extend((chunk >> (13 - position)) & 0x1 for position in range(_ONE_BIT))
        else:
            statuses.extend((chunk >> (2 * (6 - position))) & 0x3 for position in range(_TWO_BIT))
    if len(statuses) < count:
        raise ValueError(f"chunks describe {len(statuses)} packets, the count says {count}")
    return statuses[:count]


def pack_feedback(feedback: TransportFeedback) -> bytes:
    """The RTCP packet for ``feedback``, padded to 32 bits (padding bit set, last byte the
    padding's length, as RFC 3550 says)."""
    statuses = [status_of(delta) for delta in feedback.deltas]
    body = bytearray(
        struct.pack(
            "!IIHHI",
            feedback.sender_ssrc,
            feedback.media_ssrc,
            feedback.base_sequence & 0xFFFF,
            len(statuses),
            ((feedback.reference_time & 0xFFFFFF) << 8) | (feedback.feedback_count & 0xFF),
        )
    )
    for chunk in encode_chunks(statuses):
        body += struct.pack("!H", chunk)
    for delta in feedback.deltas:
        if delta is None:
            continue
        body += struct.pack("!B" if status_of(delta) == SMALL_DELTA else "!h", delta)
    padding = -(len(body) + 4) % 4
    if padding:
        body += bytes(padding - 1) + bytes([padding])
    first = 0x80 | (0x20 if padding else 0) | FMT_TRANSPORT_CC
    header = struct.pack("!BBH", first, RTCP_RTPFB, (len(body) + 4) // 4 - 1)
    return header + bytes(body)


def parse_feedback(data: bytes) -> TransportFeedback:
    """Read one transport-wide feedback packet; :class:`ValueError` if it is not one."""
    if len(data) < 20:
        raise ValueError("a transport-wide feedback packet has at least 20 bytes")
    first, packet_type, length = struct.unpack("!BBH", data[:4])
    if first >> 6 != 2 or packet_type != RTCP_RTPFB or first & 0x1F != FMT_TRANSPORT_CC:
        raise ValueError("not an RTPFB FMT=15 packet")
    end = (length + 1) * 4
    if end > len(data):
        raise ValueError("truncated packet")
    if first & 0x20:
        end -= data[end - 1]
    sender_ssrc, media_ssrc, base, count, reference = struct.unpack("!IIHHI", data[4:20])
    position = 20
    chunks: list[int] = []
    described = 0
    while described < count:
        if position + 2 > end:
            raise ValueError("truncated packet chunks")
        (chunk,) = struct.unpack("!H", data[position : position + 2])
        position += 2
        chunks.append(chunk)
        if chunk & 0x8000 == 0:
            described += chunk & _MAX_RUN
        else:
            described += _ONE_BIT if chunk & 0x4000 == 0 else _TWO_BIT
    deltas: list[int | None] = []
    for status in decode_chunks(chunks, count):
        if status == SMALL_DELTA:
            if position + 1 > end:
                raise ValueError("truncated receive deltas")
            deltas.append(data[position])
            position += 1
        elif status == LARGE_DELTA:
            if position + 2 > end:
                raise ValueError("truncated receive deltas")
            (value,) = struct.unpack("!h", data[position : position + 2])
            deltas.append(value)
            position += 2
        elif status == NOT_RECEIVED:
            deltas.append(None)
        else:
            raise ValueError("reserved packet status symbol")
    reference_time = reference >> 8
    if reference_time & 0x800000:
        reference_time -= 1 << 24
    return TransportFeedback(
        sender_ssrc=sender_ssrc,
        media_ssrc=media_ssrc,
        base_sequence=base,
        reference_time=reference_time,
        feedback_count=reference & 0xFF,
        deltas=tuple(deltas),
    )
