"""Glass-to-glass latency through the relay, read from stamps drawn in the pictures.

The publisher of :mod:`tests.media.peers` draws each frame's send time (wall clock, ms) into its
pixels and encodes it (VP8, 320x240 at 30 fps); two viewers decode every frame they receive and
read the stamp back: latency = time read back - time drawn, same machine, same clock. It includes
the publisher's encoding, both network hops through the relay (its process of its own,
:mod:`tests.bench.relay_server`), the viewer's jitter buffer and decoding. The pass-through relay
is measured, then aiortc's stock decode-and-re-encode relay (:class:`~tests.bench.test_relay_cpu.
StockRoom`) for comparison.

A benchmark: it prints p50 / p95 / p99 and asserts only that frames were read back.
Environment: ``VISIOREGUL_BENCH_LATENCY_SECONDS`` (10), ``VISIOREGUL_BENCH_LATENCY_WARMUP`` (3),
``VISIOREGUL_BENCH_LATENCY_MODES`` (``passthrough,stock``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiortc import RTCSessionDescription

from tests.bench.relay_lab import (
    RelayProcess,
    banner,
    env_float,
    loopback_only,
    table,
)
from tests.bench.relay_server import percentile
from tests.media.peers import Publisher, Subscriber, now_ms

SECONDS = env_float("VISIOREGUL_BENCH_LATENCY_SECONDS", 10.0)
WARMUP = env_float("VISIOREGUL_BENCH_LATENCY_WARMUP", 3.0)
MODES = os.environ.get("VISIOREGUL_BENCH_LATENCY_MODES", "passthrough,stock").split(",")
VIEWERS = 2
TARGET_P50_MS = 90.0

pytestmark = pytest.mark.timeout(60 + len(MODES) * (40 + WARMUP + SECONDS))


async def measure(mode: str, log_dir: Path) -> tuple[list[float], int, int]:
    """Latencies (ms) read in the window, frames unreadable, viewer frames in the window."""
    relay = RelayProcess(mode, log_dir)
    await relay.start()
    publisher = Publisher("VP8")
    viewers = [Subscriber() for _ in range(VIEWERS)]
    try:
        pc = publisher.pc
        await pc.setLocalDescription(await pc.createOffer())
        reply = await relay.request("publish", room="latency", sdp=pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        for index, viewer in enumerate(viewers):
            name = f"viewer-{index}"
            reply = await relay.request("subscribe", room="latency", subscriber=name)
            await viewer.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "offer"))
            await viewer.pc.setLocalDescription(await viewer.pc.createAnswer())
            sdp = viewer.pc.localDescription.sdp
            await relay.request("answer", room="latency", subscriber=name, sdp=sdp)
        async with asyncio.timeout(30):
            await asyncio.gather(*(v.first_frame.wait() for v in viewers))
        await asyncio.sleep(WARMUP)
        start = now_ms()
        unreadable0 = sum(v.unreadable for v in viewers)
        await asyncio.sleep(SECONDS)
        end = now_ms()
        latencies = [
            float((f.received_ms - f.sent_ms) & 0xFFFFFFFF)
            for v in viewers
            for f in v.frames
            if start <= f.received_ms < end
        ]
        return latencies, sum(v.unreadable for v in viewers) - unreadable0, len(latencies)
    finally:
        for viewer in viewers:
            await viewer.close()
        await publisher.close()
        await relay.stop()


async def test_relay_latency(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    loopback_only(monkeypatch)
    results = {mode: await measure(mode, tmp_path) for mode in MODES}
    banner(
        f"Glass-to-glass latency: 1 publisher -> {VIEWERS} viewers, VP8 320x240 at 30 fps, "
        f"{SECONDS:g} s after {WARMUP:g} s warm-up",
        [
            "stamp drawn before encoding, read after decoding; publisher and viewers in the "
            "benchmark's process, relay in its own",
            f"target: pass-through p50 under {TARGET_P50_MS:g} ms",
        ],
    )
    rows: list[list[object]] = []
    for mode, (latencies, unreadable, frames) in results.items():
        rows.append(
            [
                mode,
                percentile(latencies, 0.5),
                percentile(latencies, 0.95),
                percentile(latencies, 0.99),
                max(latencies, default=float("nan")),
                frames / SECONDS / VIEWERS,
                unreadable,
            ]
        )
    print(table(["relay", "p50 ms", "p95 ms", "p99 ms", "max ms", "fps/viewer", "bad"], rows))
    for mode, (latencies, _, _) in results.items():
        assert latencies, f"{mode}: no stamp was read back"
