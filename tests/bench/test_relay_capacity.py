"""Relay capacity: how many rooms (1 publisher -> 2 viewers each) two cores hold at full rate.

The pass-through relay (:class:`visioregul.media.Room`) runs in a process of its own
(:mod:`tests.bench.relay_server`), where a ticker task wakes every 5 ms and records how late it
wakes (the event loop's lag). The room count steps up (1, 2, 4, 8, 12, 16, 20...); at each step,
after a warm-up, one window measures every viewer's frame rate, the relay's loop lag and CPU. A
step is good when every viewer receives at least 90 % of 30 fps and the relay's loop lag p99 is
under 20 ms; the steps stop at the first bad one.

The peers share the same cores: all publishers and viewers run in the benchmark's process, made
as cheap as possible (a prerecorded VP8 clip sent as packets, never encoded; viewers that count
frames, never decode), but their packetization, encryption and reception still cost CPU. Their
own loop lag and the publishers' sending rate are printed beside, so that a step limited by the
peers rather than the relay shows as such.

A benchmark: it prints its figures and asserts only that the first step received video.
Environment: ``VISIOREGUL_BENCH_ROOM_STEPS`` (``1,2,4,8,12,16,20,24,28``),
``VISIOREGUL_BENCH_STEP_WARMUP`` (3 s), ``VISIOREGUL_BENCH_STEP_SECONDS`` (5 s),
``VISIOREGUL_BENCH_CLIP_KBPS`` (800).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bench.relay_lab import (
    FPS,
    CheapRoom,
    CpuWindow,
    Flow,
    LoopLag,
    RelayProcess,
    banner,
    env_float,
    env_int,
    loopback_only,
    rss_mb,
    table,
    vp8_clip,
    wait_first_frames,
)

STEPS = [
    int(n)
    for n in os.environ.get("VISIOREGUL_BENCH_ROOM_STEPS", "1,2,4,8,12,16,20,24,28").split(",")
]
WARMUP = env_float("VISIOREGUL_BENCH_STEP_WARMUP", 3.0)
SECONDS = env_float("VISIOREGUL_BENCH_STEP_SECONDS", 5.0)
CLIP_KBPS = env_int("VISIOREGUL_BENCH_CLIP_KBPS", 800)
VIEWERS = 2
MIN_FPS = 0.9 * FPS
MAX_LAG_P99_MS = 20.0
TARGET_ROOMS = 20

pytestmark = pytest.mark.timeout(120 + len(STEPS) * (40 + WARMUP + SECONDS))


async def measure(
    relay: RelayProcess, rooms: list[CheapRoom], count: int, client_lag: LoopLag
) -> Step:
    """One window over every room."""
    viewers = [v for room in rooms for v in room.viewers]
    cpu = CpuWindow(relay.pid)
    flow = Flow(viewers, [room.publisher for room in rooms])
    await relay.request("lag", reset=True)
    client_lag.p99_ms(reset=True)
    cpu.start()
    flow.start()
    await asyncio.sleep(SECONDS)
    cpu.stop()
    flow.stop()
    lag = await relay.request("lag", reset=True)
    return Step(
        rooms=count,
        min_fps=min(flow.fps),
        mean_fps=sum(flow.fps) / len(flow.fps),
        sent_fps=min(flow.sent_fps),
        lag_p99_ms=lag["p99_ms"],
        lag_max_ms=lag["max_ms"],
        server_pct=cpu.server_pct,
        client_pct=cpu.client_pct,
        other_pct=cpu.other_pct,
        client_lag_p99_ms=client_lag.p99_ms(reset=True),
        rss_mb=rss_mb(relay.pid),
    )


@dataclass
class Step:
    rooms: int
    min_fps: float
    mean_fps: float
    sent_fps: float
    lag_p99_ms: float
    lag_max_ms: float
    server_pct: float
    client_pct: float
    other_pct: float
    client_lag_p99_ms: float
    rss_mb: float

    @property
    def good(self) -> bool:
        return self.min_fps >= MIN_FPS and self.lag_p99_ms < MAX_LAG_P99_MS

    @property
    def summary(self) -> str:
        return (
            f"min fps {self.min_fps:.1f}, relay lag p99 {self.lag_p99_ms:.1f} ms, relay "
            f"{self.server_pct:.0f} %, peers {self.client_pct:.0f} %, others {self.other_pct:.0f} %"
        )


async def test_relay_capacity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    loopback_only(monkeypatch)
    clip = vp8_clip(CLIP_KBPS * 1000)
    relay = RelayProcess("passthrough", tmp_path)
    await relay.start()
    rooms: list[CheapRoom] = []
    steps: list[Step] = []
    banner(
        f"Relay capacity: rooms of 1 publisher -> {VIEWERS} viewers, VP8 640x480 at 30 fps, "
        "pass-through relay in its own process",
        [
            f"good step: every viewer >= {MIN_FPS:g} fps and relay loop lag p99 < "
            f"{MAX_LAG_P99_MS:g} ms; {WARMUP:g} s warm-up, {SECONDS:g} s window per step",
            f"publishers send a prerecorded clip at {clip.bitrate / 1000:.0f} kbit/s (no "
            "encoding); viewers count frames (no decoding)",
            f"the peers share the machine's {os.cpu_count()} cores with the relay: 'client %' "
            "is their CPU, 'client lag' their loop lag, 'sent fps' the slowest publisher; "
            "'others %': the rest of the machine (% of one core)",
        ],
    )
    try:
        with LoopLag() as client_lag:
            for count in STEPS:
                new = [
                    CheapRoom.open(relay, f"room-{index}", clip, VIEWERS)
                    for index in range(len(rooms), count)
                ]
                rooms.extend(await asyncio.gather(*new))
                viewers = [v for room in rooms for v in room.viewers]
                await wait_first_frames(viewers, timeout=60)
                await asyncio.sleep(WARMUP)
                step = await measure(relay, rooms, count, client_lag)
                if not step.good:
                    # Once more, in case something else on the machine got in the way.
                    print(f"   {count} rooms: {step.summary} -> degraded, measured again")
                    await asyncio.sleep(2.0)
                    again = await measure(relay, rooms, count, client_lag)
                    step = again if again.good or again.min_fps > step.min_fps else step
                steps.append(step)
                print(f"   {count} rooms: {step.summary} -> {'good' if step.good else 'degraded'}")
                if not step.good:
                    break
    finally:
        await asyncio.gather(*(room.close() for room in rooms), return_exceptions=True)
        await relay.stop()

    print(
        table(
            [
                "rooms",
                "min fps",
                "mean fps",
                "sent fps",
                "lag p99 ms",
                "lag max ms",
                "relay %",
                "client %",
                "others %",
                "client lag p99",
                "relay RSS MB",
                "good",
            ],
            [
                [
                    s.rooms,
                    s.min_fps,
                    s.mean_fps,
                    s.sent_fps,
                    s.lag_p99_ms,
                    s.lag_max_ms,
                    s.server_pct,
                    s.client_pct,
                    s.other_pct,
                    s.client_lag_p99_ms,
                    s.rss_mb,
                    "yes" if s.good else "no",
                ]
                for s in steps
            ],
        )
    )
    good = [s.rooms for s in steps if s.good]
    largest = max(good, default=0)
    limit = "" if len(good) < len(steps) else f" (every step held; the last step was {STEPS[-1]})"
    print(f"largest good room count: {largest}{limit} (target: at least {TARGET_ROOMS})")
    bad = next((s for s in steps if not s.good), None)
    if bad is not None:
        if bad.other_pct > 25:
            side = f"other processes on the machine ({bad.other_pct:.0f} % of a core)"
        elif bad.sent_fps < MIN_FPS or bad.client_lag_p99_ms > MAX_LAG_P99_MS:
            side = "the peers (publishers fell behind)"
        else:
            side = "the relay"
        print(f"first degraded step: {bad.rooms} rooms, limited by {side}")
    assert steps and steps[0].min_fps > 0, "the first room received nothing"
