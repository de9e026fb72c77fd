"""The network profiles the lab emulates: one typed table.

Each profile gives the round trip, its jitter, the loss and the rate of each direction (``up`` is
from the phone to the service), and what the path filters. Directions split the round trip in two.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class BurstLoss:
    """Gilbert-Elliott loss: a good state that loses nothing, a bad state that loses ``loss`` of
    the packets; each packet moves good -> bad with ``enter`` and bad -> good with ``leave``."""

    enter: float
    leave: float
    loss: float

    @property
    def mean_loss(self) -> float:
        """The long-run share of packets lost."""
        return self.enter / (self.enter + self.leave) * self.loss

    @classmethod
    def averaging(
        cls, mean_loss: float, burst_packets: float = 4.0, loss: float = 0.5
    ) -> BurstLoss:
        """Bursts of ``burst_packets`` packets on average in the bad state, losing ``loss`` of
        them there, tuned so that ``mean_loss`` of all packets are lost."""
        leave = 1.0 / burst_packets
        bad_share = mean_loss / loss
        return cls(enter=leave * bad_share / (1.0 - bad_share), leave=leave, loss=loss)


@dataclass(frozen=True)
class Direction:
    """One direction of the link."""

    rate_bps: int | None
    """Token-bucket rate in bit/s; None: not limited."""
    delay_ms: float
    """Base one-way delay."""
    jitter_ms: float = 0.0
    """Standard deviation of the one-way delay (packets are never reordered)."""
    loss: float = 0.0
    """Independent random loss, a share of the packets."""
    burst_loss: BurstLoss | None = None
    """Bursty loss on top of ``loss``."""
    queue_ms: float = 200.0
    """Drop-tail bound: a packet that would wait longer than this for the rate is dropped (as
    ``tbf``'s ``latency``)."""

    @property
    def mean_loss(self) -> float:
        """The long-run share of packets lost in this direction."""
        burst = self.burst_loss.mean_loss if self.burst_loss else 0.0
        return 1.0 - (1.0 - self.loss) * (1.0 - burst)

    def as_json(self) -> dict[str, Any]:
        """The direction as the lab's shaper receives it."""
        return asdict(self)


@dataclass(frozen=True)
class Profile:
    """A network the phone may be on."""

    name: str
    rtt_ms: float
    up: Direction
    down: Direction
    jitter_ms: float = 0.0
    """Nominal standard deviation of the round trip."""
    tcp_443_only: bool = False
    """Only TCP to (up) or from (down) port 443 passes: a firewall that blocks UDP."""
    udp_only_from_relay: bool = False
    """The phone's namespace drops inbound UDP except from the relay's address (coturn): no
    direct path, not even a peer-reflexive one."""
    handover: bool = False
    """The phone moves to another network in the middle (``Lab.handover``)."""
    dip: bool = False
    """The phone's uplink falls to :data:`DIP_BPS` for :data:`DIP_SECONDS` in the middle
    (``Lab.uplink``): a lift, a tunnel."""
    description: str = field(default="", compare=False)


def link(
    name: str,
    rtt_ms: float,
    down_bps: int | None,
    up_bps: int | None,
    *,
    jitter_ms: float = 0.0,
    loss: float = 0.0,
    burst_loss: BurstLoss | None = None,
    description: str = "",
) -> Profile:
    """A profile whose two directions share the round trip, its jitter and the loss."""
    one_way_jitter = jitter_ms / math.sqrt(2.0)

    def direction(rate: int | None) -> Direction:
        # The queue bound grows on slow links so that a full-size packet can always pass.
        queue_ms = 200.0 if rate is None else max(200.0, 3 * 1500 * 8 / rate * 1000)
        return Direction(rate, rtt_ms / 2, one_way_jitter, loss, burst_loss, queue_ms)

    return Profile(
        name, rtt_ms, direction(up_bps), direction(down_bps), jitter_ms, description=description
    )


MBIT = 1_000_000
KBIT = 1_000
DIP_BPS = 16 * KBIT
"""The uplink's rate during a ``dip``."""
DIP_SECONDS = 20.0
"""How long a ``dip`` lasts."""

FOUR_G = link("4g", 40, 10 * MBIT, 3 * MBIT, description="4G, good coverage")

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        FOUR_G,
        link(
            "4g-congested",
            150,
            4 * MBIT,
            1 * MBIT,
            jitter_ms=30,
            loss=0.01,
            description="a busy 4G cell",
        ),
        link("3g", 300, 1500 * KBIT, 384 * KBIT, loss=0.01, description="3G"),
        link("edge", 600, 200 * KBIT, 100 * KBIT, loss=0.02, description="EDGE (2G)"),
        link(
            "lossy",
            80,
            10 * MBIT,
            3 * MBIT,
            burst_loss=BurstLoss.averaging(0.05),
            description="5 % loss in bursts",
        ),
        replace(FOUR_G, name="udp-blocked", tcp_443_only=True, description="only TCP 443 passes"),
        replace(
            FOUR_G,
            name="symmetric-nat",
            udp_only_from_relay=True,
            description="inbound UDP only from the relay",
        ),
        replace(FOUR_G, name="handover", handover=True, description="Wi-Fi to 4G in the middle"),
        replace(FOUR_G, name="dip", dip=True, description="20 s at 16 kbit/s up in the middle"),
    )
}
"""Every profile by name."""

UNSHAPED = Profile("unshaped", 0, Direction(None, 0), Direction(None, 0), description="no shaping")
"""The link as it is without a profile, the reference of the shaping checks."""


def profile_named(name: str) -> Profile:
    """The profile called ``name`` (``unshaped`` included); a clear error otherwise."""
    if name == UNSHAPED.name:
        return UNSHAPED
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}: one of {', '.join(PROFILES)}") from None
