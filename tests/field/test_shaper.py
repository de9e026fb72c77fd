"""The link's model on its own clock: the bucket's pace, the queue's bound, the filter, bursty
loss's long-run share, jitter without reordering."""

from __future__ import annotations

import random
import struct

from .profiles import PROFILES, BurstLoss, Direction
from .shaper import Shaper, is_tcp_443
from .stats import percentile, wilson_lower_bound


def ipv4(protocol: int, source_port: int, destination_port: int, size: int = 100) -> bytes:
    """An IPv4 packet header with the ports (the rest zeros)."""
    header = bytes([0x45, 0, *struct.pack("!H", size), 0, 0, 0, 0, 64, protocol, 0, 0])
    header += bytes(8)
    return (header + struct.pack("!HH", source_port, destination_port)).ljust(size, b"\0")


def test_the_bucket_paces_packets_at_the_rate_after_its_burst() -> None:
    shaper = Shaper(Direction(1_000_000, 0, queue_ms=10_000), towards_service=True)
    packet = bytes(1250)  # 10 ms at 1 Mbit/s
    times = [shaper.admit(packet, 0.0) for _ in range(100)]
    assert all(t is not None for t in times)
    # After the bucket's depth (20 ms at the rate), one packet every 10 ms.
    assert abs(times[-1] - times[-2] - 0.010) < 1e-9  # type: ignore[operator]
    assert 0.95 < times[-1] < 1.0  # type: ignore[operator]


def test_a_packet_that_would_wait_past_the_bound_is_dropped() -> None:
    shaper = Shaper(Direction(1_000_000, 0, queue_ms=100), towards_service=True)
    admitted = [shaper.admit(bytes(1250), 0.0) for _ in range(50)]
    assert admitted.count(None) > 0
    assert shaper.counters.queue_full == admitted.count(None)
    assert max(t for t in admitted if t is not None) <= 0.100


def test_only_tcp_443_passes_when_filtered() -> None:
    assert is_tcp_443(ipv4(6, 50000, 443), towards_service=True)
    assert not is_tcp_443(ipv4(6, 50000, 80), towards_service=True)
    assert not is_tcp_443(ipv4(17, 50000, 443), towards_service=True)
    assert is_tcp_443(ipv4(6, 443, 50000), towards_service=False)
    shaper = Shaper(Direction(None, 0), towards_service=True, tcp_443_only=True)
    assert shaper.admit(ipv4(17, 5000, 443), 0.0) is None
    assert shaper.counters.filtered == 1


def test_bursty_loss_averages_its_share() -> None:
    burst = BurstLoss.averaging(0.05)
    assert abs(burst.mean_loss - 0.05) < 1e-9
    shaper = Shaper(Direction(None, 0, burst_loss=burst), True, rng=random.Random(15))
    lost = sum(shaper.admit(bytes(100), 0.0) is None for _ in range(100_000))
    assert 0.04 < lost / 100_000 < 0.06


def test_jitter_never_reorders() -> None:
    shaper = Shaper(Direction(None, 75, jitter_ms=21), True, rng=random.Random(15))
    times = [shaper.admit(bytes(100), n * 0.001) for n in range(5000)]
    assert times == sorted(times)  # type: ignore[type-var]
    delays = [t - n * 0.001 for n, t in enumerate(times)]  # type: ignore[operator]
    assert max(delays) - min(delays) > 0.020


def test_every_profile_of_the_field_is_in_the_table() -> None:
    assert set(PROFILES) >= {
        "4g", "4g-congested", "3g", "edge", "lossy", "udp-blocked", "symmetric-nat", "handover"
    }  # fmt: skip
    assert PROFILES["3g"].up.rate_bps == 384_000
    assert PROFILES["edge"].down.loss == 0.02


def test_the_wilson_bound_is_below_the_observed_share() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    assert abs(wilson_lower_bound(30, 30) - 0.8865) < 1e-3
    assert wilson_lower_bound(15, 30) < 0.5
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_a_rate_that_comes_back_sends_the_queue_at_the_new_rate() -> None:
    """The end of a dip: packets queued at 16 kbit/s leave at the new rate, not seconds later at
    the times the old rate gave them (as a ``tbf`` whose rate changes)."""
    shaper = Shaper(Direction(16_000, 20, queue_ms=2250), True)
    queued = [shaper.admit(bytes(1200), 0.0) for _ in range(6)]
    assert queued[-1] is not None and queued[-1] > 1.5  # 6 x 1200 bytes at 16 kbit/s
    shaper.reconfigure(Direction(3_000_000, 20), False)
    times = shaper.retime([1200, 1200, 1200], 0.1)
    assert times == sorted(times)
    assert times[-1] < 0.1 + 0.020 + 0.010, times
    # Later packets go after them, at the new rate.
    later = shaper.admit(bytes(1200), 0.1)
    assert later is not None and times[-1] <= later < 0.2
