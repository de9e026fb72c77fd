"""Relay memory: the pass-through relay's resident memory per room, over a long run.

The relay (:class:`visioregul.media.Room`) runs in a process of its own
(:mod:`tests.bench.relay_server`). Its resident set size (``/proc/<pid>/statm``) is read once
the process is up with no room, then every 5 s while rooms of 1 publisher -> 2 viewers (VP8
640x480 at 30 fps, a prerecorded clip sent without encoding, viewers that count frames without
decoding) run. It prints the samples, start / middle / end, the memory per room, and the slope
of a least-squares line through the samples after the first minute's half (MB per minute): a
relay that keeps nothing should stay flat.

A benchmark: it prints its figures and asserts only that the viewers received video.
Environment: ``VISIOREGUL_BENCH_SOAK_SECONDS`` (60; 300 for the five-minute run),
``VISIOREGUL_BENCH_SOAK_ROOMS`` (4), ``VISIOREGUL_BENCH_CLIP_KBPS`` (800).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.bench.relay_lab import (
    CheapRoom,
    Flow,
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

SOAK_SECONDS = env_float("VISIOREGUL_BENCH_SOAK_SECONDS", 60.0)
ROOMS = env_int("VISIOREGUL_BENCH_SOAK_ROOMS", 4)
CLIP_KBPS = env_int("VISIOREGUL_BENCH_CLIP_KBPS", 800)
SAMPLE_EVERY = 5.0
VIEWERS = 2

pytestmark = pytest.mark.timeout(120 + SOAK_SECONDS * 1.2)


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    covariance = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    variance = sum((t - mean_t) ** 2 for t, _ in samples)
    return covariance / variance * 60 if variance else 0.0


async def test_relay_memory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    loopback_only(monkeypatch)
    clip = vp8_clip(CLIP_KBPS * 1000)
    relay = RelayProcess("passthrough", tmp_path)
    await relay.start()
    rooms: list[CheapRoom] = []
    try:
        await asyncio.sleep(1.0)
        empty = rss_mb(relay.pid)
        rooms = list(
            await asyncio.gather(
                *(CheapRoom.open(relay, f"room-{i}", clip, VIEWERS) for i in range(ROOMS))
            )
        )
        viewers = [v for room in rooms for v in room.viewers]
        await wait_first_frames(viewers)
        flow = Flow(viewers, [room.publisher for room in rooms])
        flow.start()
        started = time.monotonic()
        samples: list[tuple[float, float]] = []
        lags: list[float] = []
        await relay.request("lag", reset=True)
        while True:
            elapsed = time.monotonic() - started
            samples.append((elapsed, rss_mb(relay.pid)))
            lags.append((await relay.request("lag", reset=True))["p99_ms"])
            if elapsed >= SOAK_SECONDS:
                break
            await asyncio.sleep(min(SAMPLE_EVERY, SOAK_SECONDS - elapsed + 0.01))
        flow.stop()
        stats = await relay.request("stats")
    finally:
        await asyncio.gather(*(room.close() for room in rooms), return_exceptions=True)
        await relay.stop()

    start, middle, end = samples[0][1], samples[len(samples) // 2][1], samples[-1][1]
    settled = [s for s in samples if s[0] >= min(30.0, SOAK_SECONDS / 2)]
    banner(
        f"Relay memory: {ROOMS} rooms of 1 publisher -> {VIEWERS} viewers for "
        f"{SOAK_SECONDS:g} s, pass-through relay in its own process (RSS every "
        f"{SAMPLE_EVERY:g} s)",
        [
            f"publishers send a prerecorded VP8 640x480 clip at {clip.bitrate / 1000:.0f} kbit/s; "
            f"viewers received {min(flow.fps):.1f}-{max(flow.fps):.1f} fps; relay forwarded "
            f"{stats['frames_relayed']} frames",
        ],
    )
    print(
        table(
            ["t s", "RSS MB", "loop lag p99 ms"],
            [[f"{t:.0f}", v, lag] for (t, v), lag in zip(samples, lags, strict=True)],
        )
    )
    print(
        f"RSS: empty relay {empty:.1f} MB; start {start:.1f}, middle {middle:.1f}, end "
        f"{end:.1f} MB; per room {(end - empty) / ROOMS:.1f} MB"
    )
    print(
        f"slope: {slope_per_minute(samples):+.2f} MB/min over the whole run, "
        f"{slope_per_minute(settled):+.2f} MB/min from {settled[0][0]:.0f} s "
        "(flat expected)"
    )
    assert min(flow.fps) > 0, "a viewer received nothing"
