"""A video relay in a process of its own, for the media benchmarks.

``python -m tests.bench.relay_server --mode passthrough|stock`` runs rooms of one relay kind
behind a tiny signalling channel: one JSON object per line on stdin, one answer per line on
stdout (same ``id``), so that the benchmark reads this process's CPU time and memory from
``/proc/<pid>`` and nothing else runs in it. Requests are served concurrently.

- ``publish`` ``{room, sdp}``: the publisher's offer; answers ``{sdp}``.
- ``subscribe`` ``{room, subscriber}``: answers the server's offer ``{sdp}``.
- ``answer`` ``{room, subscriber, sdp}``: the viewer's answer.
- ``lag`` ``{reset}``: the event loop's lag since the last reset (at most the last minute), from
  a ticker that wakes every 5 ms and records how late it wakes:
  ``{p50_ms, p99_ms, max_ms, samples}``.
- ``stats``: ``{rooms, frames_relayed}`` (``frames_relayed`` for the pass-through rooms only).
- ``close_room`` ``{room}``, ``quit``.

``passthrough`` rooms are VisioRegul's :class:`~visioregul.media.Room` (VP8); ``stock`` rooms are
aiortc's stock decode-and-re-encode relay (:class:`tests.bench.test_relay_cpu.StockRoom`).
ICE gathers 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections import deque
from collections.abc import Awaitable
from typing import Any, Protocol

import aioice.ice

from visioregul.media import Room

TICK = 0.005
"""Seconds between two wake-ups of the lag ticker."""


class RelayRoom(Protocol):
    """What the signalling channel needs of a room."""

    async def publish(self, offer_sdp: str, *, participant_id: str = ...) -> str: ...

    async def subscribe(self, subscriber_id: str, offer_sdp: str | None = ...) -> str: ...

    async def accept_answer(self, subscriber_id: str, answer_sdp: str) -> None: ...

    async def close(self) -> None: ...


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


KEPT_SAMPLES = int(60 / TICK)
"""The ticker keeps the last minute of samples (a list of every sample would grow the memory
the benchmarks measure)."""


class LagTicker:
    """Records how late the event loop wakes a task that sleeps :data:`TICK` seconds."""

    def __init__(self) -> None:
        self.samples: deque[float] = deque(maxlen=KEPT_SAMPLES)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + TICK
            await asyncio.sleep(TICK)
            self.samples.append(max(0.0, loop.time() - expected))

    def report(self, *, reset: bool) -> dict[str, float]:
        samples = list(self.samples)
        if reset:
            self.samples.clear()
        return {
            "p50_ms": percentile(samples, 0.5) * 1000,
            "p99_ms": percentile(samples, 0.99) * 1000,
            "max_ms": max(samples, default=math.nan) * 1000,
            "samples": len(samples),
        }


class RelayServer:
    """Rooms of one kind, driven by the requests read on stdin."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.rooms: dict[str, RelayRoom] = {}
        self.ticker = LagTicker()
        self.done = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def room(self, room_id: str) -> RelayRoom:
        room = self.rooms.get(room_id)
        if room is None:
            if self.mode == "passthrough":
                room = Room(room_id, ice_servers=[], codec="vp8", on_event=None)
            else:
                from tests.bench.test_relay_cpu import StockRoom

                room = StockRoom(room_id)
            self.rooms[room_id] = room
        return room

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "publish":
            participant = str(request.get("participant", "patient"))
            target = self.room(request["room"])
            return {"sdp": await target.publish(request["sdp"], participant_id=participant)}
        if op == "subscribe":
            source = self.room(request["room"])
            publisher = request.get("publisher")
            if publisher is not None:
                # One publisher's video in a room of several (the pass-through room only).
                assert isinstance(source, Room), "several publishers: pass-through rooms only"
                sdp = await source.subscribe(request["subscriber"], publisher_id=str(publisher))
                return {"sdp": sdp}
            return {"sdp": await source.subscribe(request["subscriber"])}
        if op == "answer":
            await self.room(request["room"]).accept_answer(request["subscriber"], request["sdp"])
            return {}
        if op == "lag":
            return self.ticker.report(reset=bool(request.get("reset")))
        if op == "stats":
            relayed = sum(
                r.stats().frames_relayed for r in self.rooms.values() if isinstance(r, Room)
            )
            return {"rooms": len(self.rooms), "frames_relayed": relayed}
        if op == "close_room":
            room = self.rooms.pop(request["room"], None)
            if room is not None:
                await room.close()
            return {}
        if op == "quit":
            await asyncio.gather(*(room.close() for room in self.rooms.values()))
            self.rooms.clear()
            self.done.set()
            return {}
        raise ValueError(f"unknown op {op!r}")

    def serve(self, line: bytes) -> None:
        request = json.loads(line)
        task = asyncio.create_task(self._answer(request, self.handle(request)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: dict[str, Any], work: Awaitable[dict[str, Any]]) -> None:
        try:
            reply = {"id": request["id"], "ok": True, **(await work)}
        except Exception as exc:
            reply = {"id": request["id"], "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def loopback_addresses(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    """Host addresses to gather: 127.0.0.1 only (aioice skips loopback by itself)."""
    return ["127.0.0.1"]


async def main(mode: str) -> None:
    aioice.ice.get_host_addresses = loopback_addresses
    server = RelayServer(mode)
    server.ticker.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sys.stdout.write(json.dumps({"id": 0, "ok": True, "ready": mode}) + "\n")
    sys.stdout.flush()
    while not server.done.is_set():
        line = await reader.readline()
        if not line:
            break
        server.serve(line)
    await asyncio.sleep(0.1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("passthrough", "stock"), required=True)
    asyncio.run(main(parser.parse_args().mode))
