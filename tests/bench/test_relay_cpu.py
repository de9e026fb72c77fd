"""Relay CPU: VisioRegul's pass-through room against aiortc's stock decode-and-re-encode relay.

Workload: one room, one publisher sending VP8 640x480 at 30 fps to 2 viewers, then 2 more viewers
(the cost of an extra viewer). The relay runs in a process of its own
(:mod:`tests.bench.relay_server`), whose CPU time (user + system, every thread) is read from
``/proc/<pid>/stat`` over each measuring window, as % of one core. The two relays are measured
in the same run, one after the other, repeated (pass-through, stock, pass-through, stock...),
and the medians are printed with the ratio stock / pass-through.

The publisher sends a prerecorded clip (:func:`tests.bench.relay_lab.vp8_clip`) at a fixed
bitrate, so the pass-through relay forwards that bitrate from the first second. The stock relay
re-encodes for each viewer at the bitrate its viewer's REMB feedback allows, which aiortc raises
slowly from 500 kbit/s: each window follows a warm-up, and the bitrate the viewers actually
received is printed beside the CPU figures.

:class:`StockRoom` is the stock relay, built from aiortc's public API only: the publisher's
receiver track (decoded by aiortc) goes through ``MediaRelay``, and each subscriber's sender
encodes it again.

A benchmark: it prints its figures and asserts only that the viewers received video.
Environment: ``VISIOREGUL_BENCH_RELAY_REPEATS`` (3 runs per relay), ``VISIOREGUL_BENCH_WARMUP``
(8 s before each window), ``VISIOREGUL_BENCH_SECONDS`` (6 s per window),
``VISIOREGUL_BENCH_VIEWERS`` (2), ``VISIOREGUL_BENCH_EXTRA_VIEWERS`` (2),
``VISIOREGUL_BENCH_CLIP_KBPS`` (800).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay

from tests.bench.relay_lab import (
    CheapRoom,
    CpuWindow,
    Flow,
    RelayProcess,
    banner,
    env_float,
    env_int,
    loopback_only,
    median,
    rss_mb,
    table,
    vp8_clip,
    wait_first_frames,
)
from visioregul.media.codecs import codec_preferences
from visioregul.media.passthrough import close_peer_connection

REPEATS = env_int("VISIOREGUL_BENCH_RELAY_REPEATS", 3)
WARMUP = env_float("VISIOREGUL_BENCH_WARMUP", 8.0)
SECONDS = env_float("VISIOREGUL_BENCH_SECONDS", 6.0)
VIEWERS = env_int("VISIOREGUL_BENCH_VIEWERS", 2)
EXTRA = env_int("VISIOREGUL_BENCH_EXTRA_VIEWERS", 2)
CLIP_KBPS = env_int("VISIOREGUL_BENCH_CLIP_KBPS", 800)
MODES = ("passthrough", "stock")

pytestmark = pytest.mark.timeout(120 + REPEATS * len(MODES) * (20 + 2 * (WARMUP + SECONDS)))


class StockRoom:
    """aiortc's stock relay: decode the publisher's video, re-encode it for every subscriber.

    Same signalling as :class:`visioregul.media.Room` (the publisher offers; the server offers to
    subscribers), VP8 on every leg. Subscribers join after the publisher.
    """

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self._relay = MediaRelay()
        self._source: MediaStreamTrack | None = None
        self._peers: dict[str, RTCPeerConnection] = {}

    def _peer(self, name: str) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._peers[name] = pc
        return pc

    async def publish(self, offer_sdp: str, *, participant_id: str = "patient") -> str:
        pc = self._peer(f"publisher:{participant_id}")
        transceiver = pc.addTransceiver("video", direction="recvonly")
        transceiver.setCodecPreferences(codec_preferences("VP8"))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self._source = transceiver.receiver.track
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def subscribe(self, subscriber_id: str, offer_sdp: str | None = None) -> str:
        if self._source is None or offer_sdp is not None:
            raise ValueError("subscribers join after the publisher, on the server's offer")
        pc = self._peer(f"subscriber:{subscriber_id}")
        track = self._relay.subscribe(self._source, buffered=False)
        transceiver = pc.addTransceiver(track, direction="sendonly")
        transceiver.setCodecPreferences(codec_preferences("VP8"))
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)

    async def accept_answer(self, subscriber_id: str, answer_sdp: str) -> None:
        pc = self._peers[f"subscriber:{subscriber_id}"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    async def close(self) -> None:
        peers = list(self._peers.values())
        self._peers.clear()
        for pc in peers:
            await close_peer_connection(pc)


@dataclass
class Window:
    """One measuring window of one run."""

    server_pct: float
    client_pct: float
    other_pct: float
    fps: float
    kbps: float


@dataclass
class Run:
    """One run of one relay: ``VIEWERS`` viewers, then ``VIEWERS + EXTRA``."""

    mode: str
    base: Window
    more: Window
    rss_mb: float

    @property
    def per_extra_viewer(self) -> float:
        return (self.more.server_pct - self.base.server_pct) / max(1, EXTRA)


def ratio(stock: float, passthrough: float) -> str:
    """``stock / passthrough``, unless the pass-through figure is within the readings' noise
    (CPU time comes in ticks of 1/``SC_CLK_TCK`` s: a few tenths of a percent per window)."""
    if passthrough < 1.0:
        return f"n/a (pass-through {passthrough:.1f} %, under 1 % of a core: within the noise)"
    return f"x{stock / passthrough:.1f}"


async def measure_window(relay: RelayProcess, room: CheapRoom) -> Window:
    cpu = CpuWindow(relay.pid)
    flow = Flow(room.viewers, [room.publisher])
    cpu.start()
    flow.start()
    await asyncio.sleep(SECONDS)
    cpu.stop()
    flow.stop()
    return Window(cpu.server_pct, cpu.client_pct, cpu.other_pct, min(flow.fps), median(flow.kbps))


async def one_run(mode: str, log_dir: Path) -> Run:
    relay = RelayProcess(mode, log_dir)
    await relay.start()
    room: CheapRoom | None = None
    try:
        room = await CheapRoom.open(relay, "cpu", vp8_clip(CLIP_KBPS * 1000), VIEWERS)
        await wait_first_frames(room.viewers)
        await asyncio.sleep(WARMUP)
        base = await measure_window(relay, room)
        await room.add_viewers(relay, EXTRA)
        await wait_first_frames(room.viewers)
        await asyncio.sleep(WARMUP)
        more = await measure_window(relay, room)
        return Run(mode, base, more, rss_mb(relay.pid))
    finally:
        if room is not None:
            await room.close()
        await relay.stop()


async def test_relay_cpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    loopback_only(monkeypatch)
    clip = vp8_clip(CLIP_KBPS * 1000)
    runs: list[Run] = []
    for _ in range(REPEATS):
        for mode in MODES:
            runs.append(await one_run(mode, tmp_path))

    banner(
        f"Relay CPU: 1 publisher -> {VIEWERS} viewers (+{EXTRA}), VP8 640x480 at 30 fps",
        [
            f"relay in its own process, CPU from /proc/<pid>/stat, % of one core; "
            f"{REPEATS} interleaved runs per relay, {WARMUP:g} s warm-up, {SECONDS:g} s windows",
            f"publisher: prerecorded clip at {clip.bitrate / 1000:.0f} kbit/s (no encoding); "
            "viewers count frames without decoding",
            "peers run in the benchmark's process on the same cores ('client %'); 'others %': "
            "the rest of the machine, % of one core",
        ],
    )
    rows: list[list[object]] = []
    for index, run in enumerate(runs):
        for label, window in ((f"1->{VIEWERS}", run.base), (f"1->{VIEWERS + EXTRA}", run.more)):
            rows.append(
                [
                    index // len(MODES) + 1,
                    run.mode,
                    label,
                    window.server_pct,
                    window.client_pct,
                    window.other_pct,
                    window.fps,
                    window.kbps,
                    run.rss_mb,
                ]
            )
    print(
        table(
            [
                "run",
                "relay",
                "room",
                "server %",
                "client %",
                "others %",
                "min fps",
                "kbit/s/viewer",
                "RSS MB",
            ],
            rows,
        )
    )
    medians: dict[str, tuple[float, float, float, float]] = {}
    for mode in MODES:
        mine = [r for r in runs if r.mode == mode]
        medians[mode] = (
            median([r.base.server_pct for r in mine]),
            median([r.more.server_pct for r in mine]),
            median([r.per_extra_viewer for r in mine]),
            median([r.base.kbps for r in mine]),
        )
    print()
    print(
        table(
            [
                "relay (medians)",
                f"room 1->{VIEWERS} %",
                f"room 1->{VIEWERS + EXTRA} %",
                "per extra viewer %",
                "kbit/s/viewer",
            ],
            [[mode, *medians[mode]] for mode in MODES],
        )
    )
    passthrough, stock = medians["passthrough"], medians["stock"]
    print(
        f"stock / pass-through: room 1->{VIEWERS} {ratio(stock[0], passthrough[0])}, "
        f"room 1->{VIEWERS + EXTRA} {ratio(stock[1], passthrough[1])}, per extra viewer "
        f"{ratio(stock[2], passthrough[2])}"
    )
    for run in runs:
        assert run.base.fps > 0 and run.more.fps > 0, f"{run.mode}: a viewer received nothing"
