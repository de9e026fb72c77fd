"""Relay CPU with several publishers: a room where the patient and a third party both publish,
each seen by two viewers, beside the one-publisher room.

Workload (pass-through relay, in a process of its own: :mod:`tests.bench.relay_server`):

- **1 publisher**: the patient's VP8 640x480 clip at 30 fps to 2 viewers (2 subscriptions);
- **2 publishers**: the patient and a third party, each sending the same clip, to the same 2
  viewers, each viewer receiving both (4 subscriptions: one peer connection per (viewer,
  publisher) pair, see :mod:`visioregul.media.room`).

The relay's CPU time (user + system, every thread) is read from ``/proc/<pid>/stat`` over each
window, as % of one core. The two rooms are measured one after the other in each run, repeated;
the medians and the ratio two publishers / one publisher are printed, with the figure per
subscription (forwarding work grows with the subscriptions, the fixed cost of the process
does not: the ratio stays under 2; one run here printed x1.46, 4.6 % against 6.7 % of a core).

A benchmark: it prints its figures and asserts only that every viewer received every video.
Environment: ``VISIOREGUL_BENCH_RELAY_REPEATS`` (3 runs), ``VISIOREGUL_BENCH_WARMUP`` (8 s before
each window), ``VISIOREGUL_BENCH_SECONDS`` (6 s per window), ``VISIOREGUL_BENCH_CLIP_KBPS``
(800).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.bench.relay_lab import (
    CountingViewer,
    CpuWindow,
    Flow,
    PacketPublisher,
    RelayProcess,
    banner,
    env_float,
    env_int,
    loopback_only,
    median,
    table,
    vp8_clip,
    wait_first_frames,
)

REPEATS = env_int("VISIOREGUL_BENCH_RELAY_REPEATS", 3)
WARMUP = env_float("VISIOREGUL_BENCH_WARMUP", 8.0)
SECONDS = env_float("VISIOREGUL_BENCH_SECONDS", 6.0)
CLIP_KBPS = env_int("VISIOREGUL_BENCH_CLIP_KBPS", 800)
VIEWERS = 2
SHAPES = (1, 2)
"""Publishers in the room."""

pytestmark = pytest.mark.timeout(120 + REPEATS * len(SHAPES) * (30 + WARMUP + SECONDS))


@dataclass
class MultiRoom:
    """A room's peers: ``publishers`` publishers, each watched by every viewer."""

    room: str
    publishers: list[PacketPublisher] = field(default_factory=list)
    viewers: list[CountingViewer] = field(default_factory=list)

    @classmethod
    async def open(cls, relay: RelayProcess, room: str, publishers: int) -> MultiRoom:
        made = cls(room)
        participants = ["patient"] + [f"third_party:{index}" for index in range(1, publishers)]
        for participant in participants:
            publisher = PacketPublisher(vp8_clip(CLIP_KBPS * 1000))
            made.publishers.append(publisher)
            await publisher.publish(relay, room, participant)
        for viewer_index in range(VIEWERS):
            for participant in participants:
                viewer = CountingViewer()
                made.viewers.append(viewer)
                await viewer.join(relay, room, f"viewer-{viewer_index}/{participant}", participant)
        return made

    async def close(self) -> None:
        for viewer in self.viewers:
            await viewer.close()
        for publisher in self.publishers:
            await publisher.close()


@dataclass
class Measure:
    publishers: int
    subscriptions: int
    server_pct: float
    client_pct: float
    min_fps: float
    kbps: float


async def one_room(relay: RelayProcess, publishers: int, index: int) -> Measure:
    room = await MultiRoom.open(relay, f"room-{index}-{publishers}", publishers)
    try:
        await wait_first_frames(room.viewers)
        await asyncio.sleep(WARMUP)
        cpu = CpuWindow(relay.pid)
        flow = Flow(room.viewers, room.publishers)
        cpu.start()
        flow.start()
        await asyncio.sleep(SECONDS)
        cpu.stop()
        flow.stop()
        return Measure(
            publishers,
            len(room.viewers),
            cpu.server_pct,
            cpu.client_pct,
            min(flow.fps),
            median(flow.kbps),
        )
    finally:
        await room.close()
        await relay.request("close_room", room=room.room)


async def test_relay_cpu_with_two_publishers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loopback_only(monkeypatch)
    relay = RelayProcess("passthrough", tmp_path)
    await relay.start()
    measures: list[Measure] = []
    try:
        for index in range(REPEATS):
            for publishers in SHAPES:
                measures.append(await one_room(relay, publishers, index))
    finally:
        await relay.stop()

    banner(
        f"Relay CPU, several publishers: 1 or 2 publishers -> {VIEWERS} viewers each seeing all",
        [
            "pass-through relay in its own process, CPU from /proc/<pid>/stat, % of one core; "
            f"{REPEATS} runs, {WARMUP:g} s warm-up, {SECONDS:g} s windows",
            f"each publisher: prerecorded VP8 640x480 clip at {CLIP_KBPS} kbit/s; one peer "
            "connection per (viewer, publisher)",
        ],
    )
    print(
        table(
            ["publishers", "subscriptions", "server %", "client %", "min fps", "kbit/s/sub"],
            [
                [m.publishers, m.subscriptions, m.server_pct, m.client_pct, m.min_fps, m.kbps]
                for m in measures
            ],
        )
    )
    one = median([m.server_pct for m in measures if m.publishers == 1])
    two = median([m.server_pct for m in measures if m.publishers == 2])
    print(
        f"medians: 1 publisher {one:.1f} %, 2 publishers {two:.1f} % of one core; "
        f"ratio x{two / one:.2f}"
        if one >= 1.0
        else "ratio n/a (under 1 % of a core)"
    )
    print(
        f"per subscription: 1 publisher {one / VIEWERS:.1f} %, "
        f"2 publishers {two / (2 * VIEWERS):.1f} %"
    )
    assert all(m.min_fps > 0 for m in measures), measures
