"""The per-direction model of the lab's link: which packets pass, and when.

Pure arithmetic on a clock given by the caller, so that the lab's process (``labd``) only moves
packets. A packet goes through, in order: the protocol filter, random and bursty loss, the token
bucket with a drop-tail queue bounded in time, then the base delay and jitter (never reordering).
"""

from __future__ import annotations

import math
import random
import struct
from dataclasses import dataclass, field
from typing import Any

from .profiles import BurstLoss, Direction

TCP = 6
HTTPS = 443
JITTER_TIME = 0.2
"""Seconds over which the delay's variation forgets its past: a delay that wanders (queues filling
and draining) rather than one drawn afresh per packet, which without reordering would only grow."""


@dataclass
class Counters:
    """What one direction did with its packets."""

    received: int = 0
    delivered: int = 0
    delivered_bytes: int = 0
    filtered: int = 0
    lost: int = 0
    queue_full: int = 0
    cut: int = 0

    def as_json(self) -> dict[str, int]:
        """The counters as the lab's control socket answers them."""
        return dict(self.__dict__)


def is_tcp_443(packet: bytes, *, towards_service: bool) -> bool:
    """Whether an IPv4 packet is TCP to port 443 (``towards_service``) or from port 443."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != TCP:
        return False
    header = (packet[0] & 0x0F) * 4
    if len(packet) < header + 4:
        return False
    source, destination = struct.unpack_from("!HH", packet, header)
    return (destination if towards_service else source) == HTTPS


@dataclass
class Shaper:
    """One direction: :meth:`admit` answers when a packet leaves the link, or None (dropped)."""

    direction: Direction
    towards_service: bool
    tcp_443_only: bool = False
    rng: random.Random = field(default_factory=random.Random)
    counters: Counters = field(default_factory=Counters)
    _tokens: float = 0.0
    _tokens_at: float = 0.0
    _last_departure: float = 0.0
    _last_delivery: float = 0.0
    _in_burst: bool = False
    _jitter_ms: float = 0.0
    _jitter_at: float = 0.0

    def __post_init__(self) -> None:
        self._tokens = self.burst_bytes

    @property
    def burst_bytes(self) -> float:
        """The bucket's depth: 20 ms at the rate, at least two full-size packets (as ``tbf``)."""
        rate = self.direction.rate_bps
        return 0.0 if rate is None else max(3028.0, rate / 8 * 0.020)

    def reconfigure(self, direction: Direction, tcp_443_only: bool) -> None:
        """A new profile: the queue already admitted keeps its times."""
        self.direction = direction
        self.tcp_443_only = tcp_443_only
        self._tokens = self.burst_bytes
        self._in_burst = False

    def admit(self, packet: bytes, now: float) -> float | None:
        """The time ``packet`` (arrived at ``now``, seconds) leaves the link; None: dropped."""
        self.counters.received += 1
        if self.tcp_443_only and not is_tcp_443(packet, towards_service=self.towards_service):
            self.counters.filtered += 1
            return None
        if self._lost():
            self.counters.lost += 1
            return None
        departure = self._departure(len(packet), now)
        if departure is None:
            self.counters.queue_full += 1
            return None
        direction = self.direction
        delay = direction.delay_ms
        if direction.jitter_ms:
            delay = max(0.0, delay + self._wander(direction.jitter_ms, now))
        # Never before the previous packet: jitter without reordering.
        delivery = max(departure + delay / 1000.0, self._last_delivery)
        self._last_delivery = delivery
        self.counters.delivered += 1
        self.counters.delivered_bytes += len(packet)
        return delivery

    def _wander(self, deviation_ms: float, now: float) -> float:
        """The delay's variation at ``now``: an Ornstein-Uhlenbeck process of standard deviation
        ``deviation_ms`` that forgets its past over :data:`JITTER_TIME`."""
        keep = math.exp(-max(0.0, now - self._jitter_at) / JITTER_TIME)
        self._jitter_at = now
        fresh = deviation_ms * math.sqrt(1.0 - keep * keep) * self.rng.gauss(0.0, 1.0)
        self._jitter_ms = self._jitter_ms * keep + fresh
        return self._jitter_ms

    def _lost(self) -> bool:
        direction = self.direction
        if direction.loss and self.rng.random() < direction.loss:
            return True
        burst: BurstLoss | None = direction.burst_loss
        if burst is None:
            return False
        if self._in_burst:
            self._in_burst = self.rng.random() >= burst.leave
        else:
            self._in_burst = self.rng.random() < burst.enter
        return self._in_burst and self.rng.random() < burst.loss

    def _departure(self, size: int, now: float) -> float | None:
        """Token bucket behind a FIFO: when the packet's last bit leaves, None past the bound."""
        rate = self.direction.rate_bps
        if rate is None:
            return now
        start = max(now, self._last_departure)
        tokens = min(self.burst_bytes, self._tokens + (start - self._tokens_at) * rate / 8)
        departure = start if tokens >= size else start + (size - tokens) * 8 / rate
        if departure - now > self.direction.queue_ms / 1000.0:
            return None
        self._tokens = max(0.0, tokens - size)
        self._tokens_at = departure
        self._last_departure = departure
        return departure

    def retime(self, sizes: list[int], now: float) -> list[float]:
        """When packets still waiting for the rate (``sizes``, in order, at ``now``) leave once
        the rate has changed: they go at the new rate, as a ``tbf`` whose rate changes sends its
        queue (not at the times the old rate gave them)."""
        rate = self.direction.rate_bps
        self._last_departure = self._last_delivery = now
        self._tokens, self._tokens_at = 0.0, now
        deliveries: list[float] = []
        for size in sizes:
            departure = self._last_departure + (0.0 if rate is None else size * 8 / rate)
            self._last_departure = departure
            self._tokens_at = departure
            delivery = max(departure + self.direction.delay_ms / 1000.0, self._last_delivery)
            self._last_delivery = delivery
            deliveries.append(delivery)
        return deliveries

    def flush(self) -> None:
        """The link went down: whatever was queued is gone, the bucket refills."""
        self._tokens = self.burst_bytes
        self._last_departure = 0.0
        self._last_delivery = 0.0

    def state(self) -> dict[str, Any]:
        """The counters, for the control socket."""
        return self.counters.as_json()
