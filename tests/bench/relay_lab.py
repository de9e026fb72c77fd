"""Shared parts of the media benchmarks: the relay process, cheap peers, ``/proc`` readings.

The relay runs in its own process (:mod:`tests.bench.relay_server`), whose CPU time and resident
memory are read from ``/proc/<pid>``. The peers run in the benchmark's process, on the same
cores; they are made as cheap as possible:

- :class:`PacketPublisher` sends a prerecorded VP8 clip (640x480, encoded once per run with
  libvpx, a keyframe every second) as ``av.Packet`` objects, which aiortc's sender packetizes
  without encoding (the path of ``MediaPlayer(decode=False)``). Its bitrate is the clip's, fixed.
- :class:`CountingViewer` receives with VisioRegul's pass-through reception installed on its
  receiver: frames are reassembled and counted, never decoded.

The latency benchmark uses the encoding, stamping publisher and decoding subscriber of
:mod:`tests.media.peers` instead.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import json
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aioice.ice
import av
import pytest
from aiortc import (
    MediaStreamError,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import VIDEO_CLOCK_RATE, VIDEO_TIME_BASE

from tests.bench.relay_server import TICK, percentile
from visioregul.media.codecs import codec_preferences, is_keyframe
from visioregul.media.passthrough import close_peer_connection, install_passthrough

ROOT = Path(__file__).resolve().parents[2]
FPS = 30
WIDTH, HEIGHT = 640, 480
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def env_int(name: str, default: int) -> int:
    """An integer from the environment (``VISIOREGUL_BENCH_*``)."""
    return int(os.environ.get(name, str(default)))


def env_float(name: str, default: float) -> float:
    """A number from the environment (``VISIOREGUL_BENCH_*``)."""
    return float(os.environ.get(name, str(default)))


def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process's peers gather 127.0.0.1 only (aioice skips loopback)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


# -- /proc ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from ``/proc/<pid>/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB (``/proc/<pid>/statm``)."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE / 1e6


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of every core together, from ``/proc/stat``."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


@dataclass
class CpuWindow:
    """CPU use between :meth:`start` and :meth:`stop`, % of one core (the machine: of all)."""

    server_pid: int
    started: float = 0.0
    server0: float = 0.0
    client0: float = 0.0
    machine0: tuple[int, int] = (0, 0)
    seconds: float = 0.0
    server_pct: float = 0.0
    client_pct: float = 0.0
    machine_pct: float = 0.0

    @property
    def other_pct(self) -> float:
        """What the rest of the machine used: neither the relay nor this process."""
        return max(0.0, self.machine_pct - self.server_pct - self.client_pct)

    def start(self) -> None:
        self.started = time.monotonic()
        self.server0 = cpu_seconds(self.server_pid)
        self.client0 = cpu_seconds(os.getpid())
        self.machine0 = machine_jiffies()

    def stop(self) -> None:
        self.seconds = time.monotonic() - self.started
        self.server_pct = (cpu_seconds(self.server_pid) - self.server0) / self.seconds * 100
        self.client_pct = (cpu_seconds(os.getpid()) - self.client0) / self.seconds * 100
        busy, total = machine_jiffies()
        cores = os.cpu_count() or 1
        self.machine_pct = (busy - self.machine0[0]) / max(1, total - self.machine0[1]) * 100
        self.machine_pct *= cores


# -- the relay process ------------------------------------------------------------------------


class RelayProcess:
    """``tests.bench.relay_server`` in a child process, and its signalling channel."""

    def __init__(self, mode: str, log_dir: Path) -> None:
        self.mode = mode
        self.log_path = log_dir / f"relay-{mode}-{time.monotonic_ns()}.log"
        self._process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 1
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self) -> None:
        self._log = self.log_path.open("wb")
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bench.relay_server",
            "--mode",
            self.mode,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
            limit=1 << 20,
        )
        assert self._process.stdout is not None
        ready = await asyncio.wait_for(self._process.stdout.readline(), 30)
        if not ready:
            raise RuntimeError(f"the relay did not start: see {self.log_path}")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        while line := await self._process.stdout.readline():
            reply = json.loads(line)
            future = self._pending.pop(reply["id"], None)
            if future is not None and not future.done():
                future.set_result(reply)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RuntimeError(f"the relay exited: see {self.log_path}"))

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request, wait for its answer."""
        assert self._process is not None and self._process.stdin is not None
        request_id, self._next_id = self._next_id, self._next_id + 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._process.stdin.write(json.dumps({"id": request_id, "op": op, **fields}).encode())
        self._process.stdin.write(b"\n")
        await self._process.stdin.drain()
        reply = await asyncio.wait_for(future, 60)
        if not reply["ok"]:
            raise RuntimeError(f"relay {op}: {reply['error']}")
        return reply

    async def stop(self) -> None:
        process = self._process
        if process is None:
            return
        try:
            if process.returncode is None:
                await asyncio.wait_for(self.request("quit"), 20)
        except (RuntimeError, TimeoutError, ConnectionError):
            pass
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            self._reader.cancel()
        if self._log is not None:
            self._log.close()


# -- cheap peers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """A prerecorded VP8 clip: encoded frames, looped by :class:`PacketTrack`."""

    frames: tuple[bytes, ...]
    keyframes: tuple[bool, ...]

    @property
    def bitrate(self) -> float:
        """Bits per second when played at :data:`FPS`."""
        return sum(len(f) for f in self.frames) * 8 * FPS / len(self.frames)


@functools.cache
def vp8_clip(bitrate: int, seconds: int = 2) -> Clip:
    """Moving 640x480 gradients with noise, encoded with libvpx (real-time, CBR), a keyframe
    every second; the first frame of the loop is a keyframe."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = bitrate
    codec.framerate = fractions.Fraction(FPS)
    codec.time_base = fractions.Fraction(1, FPS)
    codec.gop_size = FPS
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "bufsize": str(bitrate),
    }
    gradient = bytes((k % 200) + 20 for k in range(WIDTH + HEIGHT + seconds * FPS * 8))
    noise = (
        random.Random(1).randbytes(2 * WIDTH * HEIGHT).translate(bytes(k % 11 for k in range(256)))
    )
    chroma = b"\x80" * (WIDTH * HEIGHT // 4)
    frames: list[bytes] = []
    for index in range(seconds * FPS):
        luma = bytearray()
        for row in range(HEIGHT):
            luma += gradient[row + index * 8 : row + index * 8 + WIDTH]
        left = (index * 17) % (WIDTH - 120)
        for row in range(200, 320):
            luma[row * WIDTH + left : row * WIDTH + left + 120] = b"\xd0" * 120
        # Values stay under 230, so adding bytes as one big integer never carries over.
        shift = index * 997 % (WIDTH * HEIGHT)
        total = int.from_bytes(luma) + int.from_bytes(noise[shift : shift + WIDTH * HEIGHT])
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(total.to_bytes(WIDTH * HEIGHT))
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts = index
        if index % FPS == 0:
            frame.pict_type = av.video.frame.PictureType.I
        frames.extend(bytes(packet) for packet in codec.encode(frame))
    frames.extend(bytes(packet) for packet in codec.encode(None))
    frames = frames[: seconds * FPS]
    return Clip(tuple(frames), tuple(is_keyframe("VP8", f) for f in frames))


class PacketTrack(MediaStreamTrack):
    """Plays a :class:`Clip` in a loop at :data:`FPS`, as encoded packets."""

    kind = "video"

    def __init__(self, clip: Clip) -> None:
        super().__init__()
        self._clip = clip
        self._start: float | None = None
        self.sent = 0

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            await asyncio.sleep(self._start + self.sent / FPS - time.monotonic())
        index = self.sent % len(self._clip.frames)
        packet = av.Packet(self._clip.frames[index])
        packet.pts = self.sent * (VIDEO_CLOCK_RATE // FPS)
        packet.time_base = VIDEO_TIME_BASE
        packet.is_keyframe = self._clip.keyframes[index]
        self.sent += 1
        return packet


class PacketPublisher:
    """A publisher that sends a :class:`Clip` without encoding anything."""

    def __init__(self, clip: Clip) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = PacketTrack(clip)
        transceiver = self.pc.addTransceiver(self.track, direction="sendonly")
        transceiver.setCodecPreferences(codec_preferences("VP8"))

    async def publish(self, relay: RelayProcess, room: str, participant: str = "patient") -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await relay.request(
            "publish", room=room, sdp=self.pc.localDescription.sdp, participant=participant
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    async def close(self) -> None:
        await close_peer_connection(self.pc)


class CountingViewer:
    """A viewer that reassembles the frames it receives and counts them, without decoding."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frames = 0
        self.bytes = 0
        self.first_frame = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def join(
        self, relay: RelayProcess, room: str, subscriber: str, publisher: str | None = None
    ) -> None:
        """Subscribe to the room's video (``publisher``'s, in a room of several)."""
        fields = {} if publisher is None else {"publisher": publisher}
        reply = await relay.request("subscribe", room=room, subscriber=subscriber, **fields)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="offer"))
        receiver = self.pc.getTransceivers()[0].receiver
        install_passthrough(receiver, "VP8", on_keyframe_needed=lambda reason: None)
        self._task = asyncio.create_task(self._count(receiver.track))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        sdp = self.pc.localDescription.sdp
        await relay.request("answer", room=room, subscriber=subscriber, sdp=sdp)

    async def _count(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                packet = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(packet, av.Packet)
            self.frames += 1
            self.bytes += packet.size
            self.first_frame.set()

    async def close(self) -> None:
        await close_peer_connection(self.pc)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class CheapRoom:
    """One room's peers: a :class:`PacketPublisher` and its :class:`CountingViewer`."""

    room: str
    publisher: PacketPublisher
    viewers: list[CountingViewer] = field(default_factory=list)

    @classmethod
    async def open(cls, relay: RelayProcess, room: str, clip: Clip, viewers: int) -> CheapRoom:
        made = cls(room, PacketPublisher(clip))
        await made.publisher.publish(relay, room)
        await made.add_viewers(relay, viewers)
        return made

    async def add_viewers(self, relay: RelayProcess, count: int) -> None:
        for _ in range(count):
            viewer = CountingViewer()
            self.viewers.append(viewer)
            await viewer.join(relay, self.room, f"viewer-{len(self.viewers)}")

    async def close(self) -> None:
        for viewer in self.viewers:
            await viewer.close()
        await self.publisher.close()


async def wait_first_frames(viewers: Sequence[CountingViewer], timeout: float = 30.0) -> None:
    """Wait until every viewer has its first frame."""
    async with asyncio.timeout(timeout):
        await asyncio.gather(*(v.first_frame.wait() for v in viewers))


@dataclass
class Flow:
    """Frames and bytes the viewers received between :meth:`start` and :meth:`stop`."""

    viewers: Sequence[CountingViewer]
    publishers: Sequence[PacketPublisher] = ()
    started: float = 0.0
    seconds: float = 0.0
    frames0: list[int] = field(default_factory=list)
    bytes0: list[int] = field(default_factory=list)
    sent0: list[int] = field(default_factory=list)
    fps: list[float] = field(default_factory=list)
    kbps: list[float] = field(default_factory=list)
    sent_fps: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.started = time.monotonic()
        self.frames0 = [v.frames for v in self.viewers]
        self.bytes0 = [v.bytes for v in self.viewers]
        self.sent0 = [p.track.sent for p in self.publishers]

    def stop(self) -> None:
        self.seconds = time.monotonic() - self.started
        self.fps = [
            (v.frames - f) / self.seconds for v, f in zip(self.viewers, self.frames0, strict=True)
        ]
        self.kbps = [
            (v.bytes - b) * 8 / self.seconds / 1000
            for v, b in zip(self.viewers, self.bytes0, strict=True)
        ]
        self.sent_fps = [
            (p.track.sent - s) / self.seconds
            for p, s in zip(self.publishers, self.sent0, strict=True)
        ]


class LoopLag:
    """How late this process's event loop wakes a task sleeping :data:`TICK` seconds."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + TICK
            await asyncio.sleep(TICK)
            self.samples.append(max(0.0, loop.time() - expected))

    def p99_ms(self, *, reset: bool = True) -> float:
        value = percentile(self.samples, 0.99) * 1000
        if reset:
            self.samples = []
        return value


def median(values: Sequence[float]) -> float:
    """The median, NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table, columns right-aligned."""
    cells = [[str(h) for h in header]] + [
        [f"{c:.1f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    )


def banner(title: str, lines: Sequence[str] = ()) -> None:
    """Print a benchmark's title and notes."""
    print(f"\n== {title}")
    for line in lines:
        print(f"   {line}")
