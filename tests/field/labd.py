"""The lab's link: a process holding one TUN device in each namespace and moving IP packets
between them through the :mod:`shaper` of each direction.

Started by :class:`tests.field.lab.Lab` (``python -m tests.field.labd``). It prints ``ready`` once
both devices are in their namespaces and its control socket listens, then answers one JSON
request per line on that socket: ``profile``, ``cut``, ``stats``, ``forward``. It also carries
TCP ports of the host's loopback into a namespace's loopback (``forward``): the sandbox Asterisk's
AMI and ARI, for a service that runs in the service's namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import fcntl
import json
import os
import resource
import signal
import struct
import subprocess
import sys
from typing import Any

from .netns import socket_in
from .profiles import BurstLoss, Direction
from .shaper import Shaper

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
PR_SET_PDEATHSIG = 1
BATCH = 256
"""Packets read per wake-up, so that one busy direction cannot starve the other."""


def open_tun(name: str) -> int:
    """A new TUN device ``name`` (IP packets, no extra header); its non-blocking descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def direction_from_json(data: dict[str, Any]) -> Direction:
    """A :class:`Direction` from what :meth:`Direction.as_json` produced."""
    burst = data.get("burst_loss")
    return Direction(**{**data, "burst_loss": BurstLoss(**burst) if burst else None})


class Pipe:
    """One direction: packets read from ``source`` leave on ``target`` when the shaper says."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        source: int,
        target: int,
        shaper: Shaper,
        gone: asyncio.Event,
    ):
        self.loop = loop
        self.gone = gone
        self.source = source
        self.target = target
        self.shaper = shaper
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.cut_until = 0.0
        loop.add_reader(source, self._readable)

    def _readable(self) -> None:
        for _ in range(BATCH):
            try:
                packet = os.read(self.source, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # The device went with its namespace (removed under the lab): the link is over.
                print(f"labd: the link's device is gone ({exc})", file=sys.stderr, flush=True)
                self.loop.remove_reader(self.source)
                self.gone.set()
                return
            now = self.loop.time()
            if now < self.cut_until:
                self.shaper.counters.received += 1
                self.shaper.counters.cut += 1
                continue
            leaves = self.shaper.admit(packet, now)
            if leaves is None:
                continue
            if not self.queue and leaves <= now:
                self._write(packet)
                continue
            self.queue.append((leaves, packet))
            if self.timer is None:
                self.timer = self.loop.call_at(leaves, self._due)

    def _due(self) -> None:
        self.timer = None
        now = self.loop.time()
        # Within half a millisecond is due: the loop's timers are not finer than that.
        while self.queue and self.queue[0][0] <= now + 0.0005:
            self._write(self.queue.popleft()[1])
        if self.queue:
            self.timer = self.loop.call_at(self.queue[0][0], self._due)

    def _write(self, packet: bytes) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            # A full device or one whose namespace is going away drops it, as a wire would.
            os.write(self.target, packet)

    def reshape(self, direction: Direction, tcp_443_only: bool) -> None:
        """A new profile from now on: the packets still waiting for the old rate leave at the new
        one (a dip's end empties its queue at once); those already on the wire keep their time."""
        now = self.loop.time()
        old_delay = self.shaper.direction.delay_ms / 1000.0
        self.shaper.reconfigure(direction, tcp_443_only)
        on_wire = [(at, packet) for at, packet in self.queue if at - old_delay <= now]
        waiting = [packet for at, packet in self.queue if at - old_delay > now]
        if not waiting:
            return
        times = self.shaper.retime([len(packet) for packet in waiting], now)
        last = on_wire[-1][0] if on_wire else 0.0
        retimed = [(max(at, last), packet) for at, packet in zip(times, waiting, strict=True)]
        self.queue = collections.deque([*on_wire, *retimed])
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_at(self.queue[0][0], self._due)

    def cut(self, seconds: float) -> None:
        """The link down for ``seconds`` (0: back at once): queued packets are lost."""
        self.cut_until = self.loop.time() + seconds
        self.queue.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.shaper.flush()


async def _pipe_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


async def forward(namespace: str, port: int, target_host: str, target_port: int) -> None:
    """Connections to 127.0.0.1:``port`` inside ``namespace`` reach ``target`` from the host."""
    listener = socket_in(namespace, bind=("127.0.0.1", port))
    listener.listen(64)
    listener.setblocking(False)

    async def bridge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            _pipe_stream(reader, target_writer), _pipe_stream(target_reader, writer)
        )

    await asyncio.start_server(bridge, sock=listener)


class Link:
    """Both directions and the control socket's requests."""

    def __init__(self, loop: asyncio.AbstractEventLoop, phone_fd: int, service_fd: int):
        self.gone = asyncio.Event()
        self.up = Pipe(loop, phone_fd, service_fd, Shaper(Direction(None, 0), True), self.gone)
        self.down = Pipe(loop, service_fd, phone_fd, Shaper(Direction(None, 0), False), self.gone)

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """One control request; its answer."""
        op = request.get("op")
        if op == "profile":
            tcp_443_only = bool(request.get("tcp_443_only"))
            self.up.reshape(direction_from_json(request["up"]), tcp_443_only)
            self.down.reshape(direction_from_json(request["down"]), tcp_443_only)
            return {"ok": True}
        if op == "cut":
            for pipe in (self.up, self.down):
                pipe.cut(float(request["seconds"]))
            return {"ok": True}
        if op == "stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return {
                "ok": True,
                "up": self.up.shaper.state(),
                "down": self.down.shaper.state(),
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
            }
        if op == "forward":
            await forward(
                request["namespace"], int(request["port"]), request["target_host"],
                int(request["target_port"]),
            )  # fmt: skip
            return {"ok": True}
        return {"ok": False, "error": f"unknown request {op!r}"}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer a control connection's requests, one JSON object per line."""
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                try:
                    answer = await self.handle(json.loads(line))
                except Exception as exc:  # the lab reports it; the link keeps running
                    answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        writer.close()


async def run(args: argparse.Namespace) -> None:
    """Create the devices, move them into their namespaces, serve until terminated."""
    loop = asyncio.get_running_loop()
    phone_fd = open_tun(args.phone_tun)
    service_fd = open_tun(args.service_tun)
    for name, namespace in ((args.phone_tun, args.phone_ns), (args.service_tun, args.service_ns)):
        # The descriptor stays attached to the device after the move.
        subprocess.run(["ip", "link", "set", name, "netns", namespace], check=True)  # noqa: ASYNC221
    link = Link(loop, phone_fd, service_fd)
    server = await asyncio.start_unix_server(link.serve, path=args.control)
    stop = link.gone
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    """Entry point of ``python -m tests.field.labd``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phone-ns", required=True)
    parser.add_argument("--service-ns", required=True)
    parser.add_argument("--phone-tun", required=True)
    parser.add_argument("--service-tun", required=True)
    parser.add_argument("--control", required=True)
    args = parser.parse_args()
    # Ends with the process that started it, even when that one is killed.
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    asyncio.run(run(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
