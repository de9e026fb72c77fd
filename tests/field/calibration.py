"""What a profile really produces on the lab's link, measured from the phone's namespace.

The round trip and its jitter come from a UDP echo (or a TCP one where only TCP 443 passes), the
loss of each direction from the same probes (the echo counts what reached it), the rate of each
direction from what the link delivers under a TCP bulk transfer. ``python -m
tests.field.calibration`` (``make field``) prints every profile's figures against the nominal
ones.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import socket
import statistics
import struct
import threading
import time
from dataclasses import dataclass

from .lab import PROBE_ADDRESS, RELAY_ADDRESS, Lab
from .profiles import PROFILES, UNSHAPED, Profile, profile_named

ECHO_PORT = 7
BULK_PORT = 443
PROBE = struct.Struct("!Id")
PROBE_SIZE = 64
"""Bytes of each echo probe's payload (92 on the wire)."""


@dataclass(frozen=True)
class Echo:
    """What an echo run saw."""

    sent: int
    reached: int
    """Probes that reached the echo (the uplink's survivors)."""
    rtts_ms: list[float]

    @property
    def rtt_ms(self) -> float:
        """Median round trip."""
        return statistics.median(self.rtts_ms) if self.rtts_ms else math.nan

    @property
    def jitter_ms(self) -> float:
        """Standard deviation of the round trip, estimated from its median absolute deviation
        (x 1.4826): a shared machine's scheduling hiccups would dominate a plain one."""
        if len(self.rtts_ms) < 2:
            return math.nan
        median = statistics.median(self.rtts_ms)
        return 1.4826 * statistics.median(abs(rtt - median) for rtt in self.rtts_ms)

    @property
    def up_loss(self) -> float:
        """Share of probes lost on the way to the service."""
        return 1 - self.reached / self.sent if self.sent else math.nan

    @property
    def down_loss(self) -> float:
        """Share of echoes lost on the way back."""
        return 1 - len(self.rtts_ms) / self.reached if self.reached else math.nan


@dataclass(frozen=True)
class Calibration:
    """A profile's measured figures."""

    profile: Profile
    echo: Echo
    up_bps: float
    down_bps: float


def _pace(profile: Profile) -> float:
    """Probes per second: at most a third of the slower direction's rate."""
    rates = [r for r in (profile.up.rate_bps, profile.down.rate_bps) if r is not None]
    ceiling = min(rates) / 3 / ((PROBE_SIZE + 28) * 8) if rates else math.inf
    return min(100.0, ceiling)


def udp_echo(lab: Lab, probes: int, rate: float, address: str = PROBE_ADDRESS) -> Echo:
    """``probes`` UDP probes from the phone at ``rate`` per second to an echo at ``address``."""
    server = lab.service_socket(socket.SOCK_DGRAM, (address, ECHO_PORT))
    client = lab.phone_socket(socket.SOCK_DGRAM)
    reached = 0
    rtts: list[float] = []
    done = threading.Event()

    def echo() -> None:
        nonlocal reached
        server.settimeout(0.2)
        while not done.is_set():
            try:
                data, peer = server.recvfrom(2048)
            except TimeoutError:
                continue
            reached += 1
            server.sendto(data, peer)

    def collect() -> None:
        client.settimeout(0.2)
        while not done.is_set():
            try:
                data = client.recv(2048)
            except TimeoutError:
                continue
            _, sent_at = PROBE.unpack_from(data)
            rtts.append((time.monotonic() - sent_at) * 1000)

    threads = [threading.Thread(target=echo), threading.Thread(target=collect)]
    for thread in threads:
        thread.start()
    try:
        start = time.monotonic()
        for number in range(probes):
            time.sleep(max(0.0, start + number / rate - time.monotonic()))
            payload = PROBE.pack(number, time.monotonic())
            client.sendto(payload.ljust(PROBE_SIZE, b"\0"), (address, ECHO_PORT))
        # The last echoes: three of the slowest round trips seen so far.
        time.sleep(0.3 + 3 * max(rtts, default=1000.0) / 1000)
    finally:
        done.set()
        for thread in threads:
            thread.join()
        server.close()
        client.close()
    return Echo(probes, reached, rtts)


def tcp_echo(lab: Lab, probes: int, address: str = PROBE_ADDRESS, port: int = BULK_PORT) -> Echo:
    """``probes`` round trips of a small message over one TCP connection (where UDP is
    blocked); TCP repairs its losses, so none is counted."""
    server = lab.service_socket(bind=(address, port))
    server.listen(1)
    client = lab.phone_socket()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts: list[float] = []

    def echo() -> None:
        connection, _ = server.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with connection:
            while data := connection.recv(PROBE_SIZE):
                connection.sendall(data)

    thread = threading.Thread(target=echo)
    thread.start()
    try:
        client.settimeout(10)
        client.connect((address, port))
        for _ in range(probes):
            sent = time.monotonic()
            client.sendall(b"x" * PROBE_SIZE)
            received = 0
            while received < PROBE_SIZE:
                received += len(client.recv(PROBE_SIZE))
            rtts.append((time.monotonic() - sent) * 1000)
    finally:
        client.close()
        thread.join()
        server.close()
    return Echo(probes, probes, rtts)


def bulk_rate(lab: Lab, *, up: bool, seconds: float, address: str = PROBE_ADDRESS) -> float:
    """Bit/s a TCP bulk transfer gets in one direction for ``seconds``, counted by the receiver
    after the first third (the slow start). The receiver then closes: what is still queued in the
    sender's buffers is dropped rather than drained at the profile's rate."""
    server = lab.service_socket(bind=(address, BULK_PORT))
    server.listen(1)
    client = lab.phone_socket()
    counted: list[float] = []
    chunk = b"\0" * 65536
    start = time.monotonic()
    end = start + seconds

    def send(sock: socket.socket) -> None:
        sock.settimeout(0.5)
        with contextlib.suppress(OSError):
            while time.monotonic() < end:
                with contextlib.suppress(TimeoutError):
                    sock.send(chunk)

    def receive(sock: socket.socket) -> None:
        warm = start + seconds / 3
        total = 0
        first_at = last_at = 0.0
        sock.settimeout(0.5)
        while (now := time.monotonic()) < end:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            now = time.monotonic()
            if now >= warm:
                if not first_at:
                    first_at = now
                else:
                    total += len(data)
                last_at = now
        counted.append(total * 8 / (last_at - first_at) if last_at > first_at else 0.0)

    def serve() -> None:
        server.settimeout(10)
        connection, _ = server.accept()
        with connection:
            (receive if up else send)(connection)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        client.settimeout(10)
        client.connect((address, BULK_PORT))
        (send if up else receive)(client)
    finally:
        client.close()
        thread.join()
        server.close()
    return counted[0] if counted else 0.0


def link_rate(lab: Lab, *, up: bool, seconds: float) -> float:
    """Bit/s the link delivers in one direction (IP packets, headers included) while a TCP bulk
    transfer fills it, between the first third of ``seconds`` and the end: the receiver's own
    count jumps whenever a repaired loss releases the bytes held behind it."""
    direction = "up" if up else "down"
    transfer = threading.Thread(target=bulk_rate, kwargs={"lab": lab, "up": up, "seconds": seconds})
    start = time.monotonic()
    transfer.start()
    try:
        time.sleep(seconds / 3)
        first, first_at = lab.stats()[direction]["delivered_bytes"], time.monotonic()
        time.sleep(max(0.0, start + seconds - 0.2 - time.monotonic()))
        last, last_at = lab.stats()[direction]["delivered_bytes"], time.monotonic()
    finally:
        transfer.join()
    return (last - first) * 8 / (last_at - first_at)


def probes_for(profile: Profile) -> int:
    """Enough probes to see about 20 losses (or bursts of losses) each way where the profile
    loses packets."""
    loss = max(profile.up.mean_loss, profile.down.mean_loss)
    if not loss:
        return 200
    # Losses in bursts are fewer independent events: as many more probes as a burst is long.
    bursts = [d.burst_loss for d in (profile.up, profile.down) if d.burst_loss is not None]
    burst_length = max((1 / burst.leave for burst in bursts), default=1.0)
    return max(300, math.ceil(20 * burst_length / loss))


def calibrate(
    lab: Lab, profile: Profile, *, probes: int | None = None, seconds: float = 0
) -> Calibration:
    """Shape the link as ``profile`` and measure it."""
    lab.use(profile)
    count = probes or probes_for(profile)
    if profile.tcp_443_only:
        echo = tcp_echo(lab, min(count, 50))
    else:
        address = RELAY_ADDRESS if profile.udp_only_from_relay else PROBE_ADDRESS
        echo = udp_echo(lab, count, _pace(profile), address)
    # Long enough for the slow start at the profile's round trip, and for the bytes a loss holds
    # back in the receiver's buffer (released at once when repaired) to weigh little.
    duration = seconds or max(6.0, 20 * profile.rtt_ms / 1000)
    up_bps = link_rate(lab, up=True, seconds=duration)
    down_bps = link_rate(lab, up=False, seconds=duration)
    return Calibration(profile, echo, up_bps, down_bps)


def _rate(bps: float | None) -> str:
    if bps is None:
        return "-"
    return f"{bps / 1e6:.2f}M" if bps >= 1e6 else f"{bps / 1e3:.0f}k"


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 100:.1f}"


TABLE_HEADER = (
    f"{'profile':<14} {'RTT ms':>13} {'jitter ms':>11} {'loss up %':>11} {'loss down %':>11} "
    f"{'up bit/s':>15} {'down bit/s':>15}"
)


def table_row(result: Calibration) -> str:
    """One profile: measured / nominal for each figure."""
    profile, echo = result.profile, result.echo
    return (
        f"{profile.name:<14} {echo.rtt_ms:>6.1f}/{profile.rtt_ms:<6.0f}"
        f"{echo.jitter_ms:>5.1f}/{profile.jitter_ms:<5.0f}"
        f"{_percent(echo.up_loss):>6}/{_percent(profile.up.mean_loss):<5}"
        f"{_percent(echo.down_loss):>6}/{_percent(profile.down.mean_loss):<5}"
        f"{_rate(result.up_bps):>8}/{_rate(profile.up.rate_bps):<7}"
        f"{_rate(result.down_bps):>8}/{_rate(profile.down.rate_bps):<7}"
    )


def shaper_cpu(lab: Lab, seconds: float = 5.0) -> tuple[float, float]:
    """The link process's CPU share while a bulk transfer crosses the ``4g`` downlink
    (10 Mbit/s): (CPU share of one core, bit/s measured)."""
    lab.use("4g")
    before = lab.stats()["cpu_seconds"]
    start = time.monotonic()
    rate = bulk_rate(lab, up=False, seconds=seconds)
    share = (lab.stats()["cpu_seconds"] - before) / (time.monotonic() - start)
    return share, rate


def main() -> None:
    """Calibrate every profile (or those named) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profiles", nargs="*", help="profiles to calibrate (default: all)")
    parser.add_argument("--workdir", default="/tmp/vrlab-calibration")
    args = parser.parse_args()
    from pathlib import Path

    lab = Lab(Path(args.workdir)).start()
    try:
        print("measured/nominal; jitter: the round trip's deviation (1.4826 x its MAD); loss from")
        print("UDP probes (none counted on a TCP echo where UDP is blocked); rate: what the link")
        print("delivers (headers included) under one TCP bulk transfer each way")
        print(TABLE_HEADER, flush=True)
        for name in [UNSHAPED.name, *(args.profiles or PROFILES)]:
            print(table_row(calibrate(lab, profile_named(name))), flush=True)
        share, rate = shaper_cpu(lab)
        print(
            f"link process CPU at {_rate(rate)}bit/s (4g downlink): {share * 100:.0f} % of a core"
        )
    finally:
        lab.close()


if __name__ == "__main__":
    main()
