"""Cluster load: rooms stepped up on three instances behind nginx, then calls through Asterisk.

Three ``visioregul serve`` processes share one PostgreSQL database behind nginx (the shipped load
balancer configuration, :mod:`tests.cluster.harness`), each watching the sandbox Asterisk over AMI.

**Rooms.** The room count steps up (``5,10,20,35,50``). Each room is a session created through the
load balancer; its patient is a cheap publisher (:class:`tests.bench.relay_lab.PacketPublisher`: a
prerecorded VP8 clip sent as packets, never encoded) whose page socket (``/p/<token>/ws``) goes
through the load balancer (each page from an address of its own, in ``X-Forwarded-For``: one
address opening links many times a minute is refused), and it has two cheap viewers (pass-through
reception, frames counted, never decoded) on console sockets through the load balancer: one console
socket per viewer role, each watching every session. Whichever instance a page or console socket
reaches, the room is held by the instance that claimed it first, and the others pass the sockets to
it. At each step, after a warm-up, one window measures every viewer's frame rate, each instance's
CPU (from ``/proc/<pid>/stat``) and resident memory, and the rooms each instance holds (its own
``/metrics``, ``visioregul_rooms_held``). A step is good when every viewer receives at least 25
fps; the steps stop at the first bad one (measured twice, in case something else on the machine got
in the way), and the last good step is the knee.

**Calls.** Back at the knee (the rooms beyond it are ended), sipp places calls to the 15 line at
a steady rate through the sandbox Asterisk, each dialled straight to one of several positions
(in turn) and answered at once by that position's phone; each position has a console signed in
through the load balancer, in a process of its own (:mod:`tests.bench.offer_listener`). Per call,
the offer latency runs from Asterisk's own timestamp of the answer (the regulator leg's
``BridgeEnter``, as in :mod:`tests.bench.test_offer_latency`) to the offer on that position's
console; every call must give exactly one offer, at its position, whatever instance the console
is on. Every 10 s, each instance's resident memory is read; its slope after the warm-up is fitted
by least squares. The CPU per call is the instances' CPU during the calls minus what the rooms
alone used (the knee's window), divided by the calls.

The peers share the machine's cores with the instances, nginx, PostgreSQL and Asterisk: the
benchmark's own CPU and loop lag are printed beside, so that a step limited by the peers shows as
such.

Targets (printed, never asserted): 50 rooms at 25 fps or more, offers p99 under 50 ms, no call
without its one offer, memory slope under 1 MB/min. A benchmark: it asserts only that each step
received video and that no call or offer was lost.

Environment:
``VISIOREGUL_BENCH_CLUSTER_ROOMS`` (``5,10,20,35,50``), ``VISIOREGUL_BENCH_CLUSTER_WARMUP`` (5 s
per step), ``VISIOREGUL_BENCH_CLUSTER_WINDOW`` (10 s per step),
``VISIOREGUL_BENCH_CLUSTER_CALLS_PER_MINUTE`` (200), ``VISIOREGUL_BENCH_CLUSTER_MINUTES`` (2),
``VISIOREGUL_BENCH_CLUSTER_POSITIONS`` (10 positions taking the calls in turn),
``VISIOREGUL_BENCH_CLUSTER_CALL_MS`` (1000 ms each call stays up once answered),
``VISIOREGUL_BENCH_CLUSTER_MEMORY_WARMUP`` (30 s of calls before the memory slope is fitted),
``VISIOREGUL_BENCH_CLIP_KBPS`` (800).

Run: ``VISIOREGUL_TEST_POSTGRES_URL=$(bash tests/services/postgres.sh) .venv/bin/pytest -s
tests/bench/test_cluster_load.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import MediaStreamError, MediaStreamTrack, RTCSessionDescription

from tests.bench.relay_lab import (
    ROOT,
    Clip,
    CountingViewer,
    LoopLag,
    PacketPublisher,
    banner,
    cpu_seconds,
    env_float,
    env_int,
    loopback_only,
    machine_jiffies,
    median,
    rss_mb,
    table,
    vp8_clip,
)
from tests.bench.test_offer_latency import Answers, percentile
from tests.cluster.clients import WATCH_RETRY, signed_in
from tests.cluster.harness import Cluster, cluster, fresh_postgres_database
from tests.sandbox.asterisk import SandboxAsterisk, SandboxPorts, end_process, spawn, tail
from tests.sandbox.sipp import TRUNK_HOST, SippProcess, free_udp_port, start_phone
from visioregul.media.passthrough import install_passthrough

ROOM_STEPS = [
    int(n) for n in os.environ.get("VISIOREGUL_BENCH_CLUSTER_ROOMS", "5,10,20,35,50").split(",")
]
WARMUP = env_float("VISIOREGUL_BENCH_CLUSTER_WARMUP", 5.0)
WINDOW = env_float("VISIOREGUL_BENCH_CLUSTER_WINDOW", 10.0)
CALLS_PER_MINUTE = env_int("VISIOREGUL_BENCH_CLUSTER_CALLS_PER_MINUTE", 200)
MINUTES = env_float("VISIOREGUL_BENCH_CLUSTER_MINUTES", 2.0)
POSITIONS = env_int("VISIOREGUL_BENCH_CLUSTER_POSITIONS", 10)
CALL_MS = env_int("VISIOREGUL_BENCH_CLUSTER_CALL_MS", 1000)
MEMORY_WARMUP = env_float("VISIOREGUL_BENCH_CLUSTER_MEMORY_WARMUP", 30.0)
CLIP_KBPS = env_int("VISIOREGUL_BENCH_CLIP_KBPS", 800)

VIEWERS = 2
"""Viewers per room, each on its own console socket (one socket per viewer role)."""
MIN_FPS = 25.0
TARGET_ROOMS = 50
TARGET_OFFER_P99_MS = 50.0
TARGET_SLOPE_MB_PER_MIN = 1.0
DESKS_USER = "desks"
"""The account the call positions' consoles sign in with (every call position is its own)."""
DESKS_PASSWORD = "desks password 15"
MEMORY_EVERY = 10.0
"""Seconds between two readings of the instances' memory during the calls."""

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.asterisk,
    pytest.mark.timeout(600 + len(ROOM_STEPS) * (120 + WARMUP + 2 * WINDOW) + MINUTES * 60 * 2),
]


# -- rooms ------------------------------------------------------------------------------------


class Seat:
    """One viewer of one room on one console socket: a :class:`CountingViewer` per video offer
    (a new offer replaces the peer), frames counted across them."""

    def __init__(self) -> None:
        self.viewer: CountingViewer | None = None
        self.offers = 0
        self.first_frame = asyncio.Event()
        self._earlier_frames = 0

    @property
    def frames(self) -> int:
        """Frames received by every peer of this seat so far."""
        current = self.viewer.frames if self.viewer is not None else 0
        return self._earlier_frames + current

    async def accept(self, sdp: str) -> str:
        """A new peer for the service's offer; its answer's SDP."""
        self.offers += 1
        old = self.viewer
        if old is not None:
            self._earlier_frames += old.frames
            await old.close()
        viewer = self.viewer = CountingViewer()
        await viewer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        receiver = viewer.pc.getTransceivers()[0].receiver
        install_passthrough(receiver, "VP8", on_keyframe_needed=lambda reason: None)
        viewer._task = asyncio.create_task(self._count(viewer, receiver.track))
        await viewer.pc.setLocalDescription(await viewer.pc.createAnswer())
        return str(viewer.pc.localDescription.sdp)

    async def _count(self, viewer: CountingViewer, track: MediaStreamTrack) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            viewer.frames += 1
            self.first_frame.set()

    async def close(self) -> None:
        """Close the current peer."""
        if self.viewer is not None:
            self._earlier_frames += self.viewer.frames
            await self.viewer.close()
            self.viewer = None


class ConsoleSocket:
    """One console socket through the load balancer, watching many sessions: a :class:`Seat`
    per session, answered as the console does."""

    def __init__(self, http: aiohttp.ClientSession, lb_url: str) -> None:
        self.http = http
        self.lb_url = lb_url
        self.seats: dict[str, Seat] = {}
        self.unexpected: list[str] = []
        """Messages other than hello, video offers and the events of watched sessions."""
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        """Connect, and read from then on."""
        self._ws = await self.http.ws_connect(
            f"{self.lb_url}/console/ws", origin=self.lb_url, heartbeat=20
        )
        self._reader = asyncio.create_task(self._read(self._ws))

    async def watch(self, session_id: str) -> Seat:
        """Watch the session's camera."""
        assert self._ws is not None
        seat = self.seats[session_id] = Seat()
        await self._ws.send_json({"type": "watch", "session_id": session_id})
        return seat

    async def leave(self, session_id: str) -> None:
        """Stop watching the session."""
        seat = self.seats.pop(session_id, None)
        if seat is not None:
            await seat.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            body: dict[str, Any] = json.loads(message.data)
            session_id = str(body.get("session_id"))
            seat = self.seats.get(session_id)
            if body.get("type") == "video.offer" and seat is not None:
                self._later(self._answer(ws, seat, body))
            elif body.get("type") in ("video.error", "video.left"):
                reason = body.get("reason", body.get("error_id"))
                self.unexpected.append(f"{body.get('type')}: {reason}")
                # As the console does: watch again shortly, unless the session is over.
                if seat is not None and reason != "session_closed":
                    self._later(self._watch_again(ws, session_id, body.get("publisher_id")))
        self.unexpected.append(f"socket closed ({ws.close_code})")

    def _later(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch_again(
        self, ws: aiohttp.ClientWebSocketResponse, session_id: str, publisher_id: object
    ) -> None:
        await asyncio.sleep(WATCH_RETRY)
        if ws.closed or session_id not in self.seats:
            return
        message: dict[str, Any] = {"type": "watch", "session_id": session_id}
        if isinstance(publisher_id, str):
            message["publisher_id"] = publisher_id
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(message)

    async def _answer(self, ws: aiohttp.ClientWebSocketResponse, seat: Seat, offer: Any) -> None:
        sdp = await seat.accept(str(offer["sdp"]))
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(
                {
                    "type": "video.answer",
                    "session_id": offer["session_id"],
                    "viewer_id": offer["viewer_id"],
                    "sdp": sdp,
                }
            )

    async def close(self) -> None:
        """Close the socket and every peer."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        for seat in self.seats.values():
            await seat.close()


_LINK = re.compile(r"https?://\S+/p/([A-Za-z0-9_-]{43})")
_INVITED: set[str] = set()
"""Link tokens already handed to a room."""


async def invite(http: aiohttp.ClientSession, lb_url: str, csrf: str) -> tuple[str, str]:
    """A session with an SMS invitation, through the load balancer: its id and link token
    (the newest link of the outbox that no room has had yet: the invitation is sent after the
    session is created, so the newest message may still be the previous session's)."""
    response = await http.post(
        f"{lb_url}/console/api/sessions",
        json={"destination": "06 12 34 56 78"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 201, await response.text()
    session_id = str((await response.json())["id"])
    for _ in range(400):
        body = await (await http.get(f"{lb_url}/console/api/outbox")).json()
        for message in body["messages"]:
            link = _LINK.search(message["text"])
            if link and link.group(1) not in _INVITED:
                _INVITED.add(link.group(1))
                return session_id, link.group(1)
        await asyncio.sleep(0.05)
    raise AssertionError("no new invitation in the outbox")


@dataclass
class LoadRoom:
    """A session and its peers: the patient's page (socket and publisher), its viewers' seats.

    As the real page does, a publication whose connection failed is sent again, with a new
    connection and a new offer on the same socket (``republished`` counts them)."""

    session_id: str
    page: aiohttp.ClientSession
    socket: aiohttp.ClientWebSocketResponse
    publisher: PacketPublisher
    seats: list[Seat]
    clip: Clip | None = None
    reader: asyncio.Task[None] | None = None
    republished: int = 0
    closing: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def open(
        cls,
        http: aiohttp.ClientSession,
        lb_url: str,
        csrf: str,
        clip: Clip,
        consoles: Sequence[ConsoleSocket],
    ) -> LoadRoom:
        """Invite, publish through the page's socket, then watch from every console socket."""
        session_id, token = await invite(http, lb_url, csrf)
        # Each patient's phone has its own address, as the load balancer tells the instances
        # (a link opened many times a minute from one address is refused).
        phone = f"198.51.100.{len(_INVITED) % 250 + 1}"
        page = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"X-Forwarded-For": phone}
        )
        try:
            landing = await page.get(f"{lb_url}/p/{token}")
            assert landing.status == 200, landing.status
            socket = await page.ws_connect(f"{lb_url}/p/{token}/ws", origin=lb_url, heartbeat=20)
            welcome = await asyncio.wait_for(socket.receive_json(), 30)
            assert welcome["type"] == "welcome", welcome
            publisher = PacketPublisher(clip)
            await publisher.pc.setLocalDescription(await publisher.pc.createOffer())
            await socket.send_json({"type": "offer", "sdp": publisher.pc.localDescription.sdp})
            async with asyncio.timeout(30):
                while (reply := await socket.receive_json())["type"] != "answer":
                    pass
            await publisher.pc.setRemoteDescription(
                RTCSessionDescription(sdp=reply["sdp"], type="answer")
            )
        except BaseException:
            await page.close()
            raise
        room = cls(session_id, page, socket, publisher, [], clip)
        room._watch(publisher)
        room.reader = asyncio.create_task(room._drain())
        for console in consoles:
            room.seats.append(await console.watch(session_id))
        return room

    async def _drain(self) -> None:
        # The answers to publications sent again; nothing else the benchmark needs, but the
        # socket must be read.
        async for message in self.socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            body = json.loads(message.data)
            if body.get("type") == "answer" and self.publisher.pc.signalingState != "stable":
                with contextlib.suppress(Exception):
                    await self.publisher.pc.setRemoteDescription(
                        RTCSessionDescription(sdp=body["sdp"], type="answer")
                    )

    def _watch(self, publisher: PacketPublisher) -> None:
        @publisher.pc.on("connectionstatechange")
        def changed() -> None:
            if (
                publisher is self.publisher
                and publisher.pc.connectionState == "failed"
                and not self.closing
            ):
                task = asyncio.ensure_future(self._republish())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _republish(self) -> None:
        assert self.clip is not None
        old = self.publisher
        self.publisher = PacketPublisher(self.clip)
        self.republished += 1
        self._watch(self.publisher)
        await self.publisher.pc.setLocalDescription(await self.publisher.pc.createOffer())
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.socket.send_json(
                {"type": "offer", "sdp": self.publisher.pc.localDescription.sdp}
            )
        await old.close()

    async def close(
        self, http: aiohttp.ClientSession, lb_url: str, csrf: str, consoles: Sequence[ConsoleSocket]
    ) -> None:
        """End the session, then close its peers."""
        self.closing = True
        with contextlib.suppress(aiohttp.ClientError):
            await http.post(
                f"{lb_url}/console/api/sessions/{self.session_id}/end",
                json={},
                headers={"X-CSRF-Token": csrf},
            )
        for console in consoles:
            await console.leave(self.session_id)
        await self.socket.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
        await self.publisher.close()
        await self.page.close()


# -- readings ---------------------------------------------------------------------------------


async def rooms_held(visio: Cluster) -> dict[str, int]:
    """Rooms each instance holds, from its own ``/metrics``."""
    held: dict[str, int] = {}
    async with aiohttp.ClientSession() as http:
        for name in visio.names:
            async with http.get(f"{visio.url(name)}/metrics") as reply:
                body = await reply.text()
            found = re.search(r"^visioregul_rooms_held(?:\{[^}]*\})? ([0-9.e+]+)$", body, re.M)
            held[name] = int(float(found.group(1))) if found else -1
    return held


def instance_pids(visio: Cluster) -> dict[str, int]:
    """Every instance's process id (all must run)."""
    pids = {name: visio.instances[name].pid for name in visio.names}
    assert all(pids.values()), f"an instance is not running: {pids}"
    return {name: pid for name, pid in pids.items() if pid is not None}


@dataclass
class CpuReading:
    """CPU time of every instance, of this process and of the whole machine, at one moment."""

    at: float
    instances: dict[str, float]
    own: float
    machine: tuple[int, int]

    @classmethod
    def now(cls, pids: dict[str, int]) -> CpuReading:
        """Read them."""
        return cls(
            time.monotonic(),
            {name: cpu_seconds(pid) for name, pid in pids.items()},
            cpu_seconds(os.getpid()),
            machine_jiffies(),
        )

    def pct_since(self, earlier: CpuReading) -> tuple[dict[str, float], float, float]:
        """% of one core since ``earlier``: each instance, this process, the machine (all)."""
        seconds = self.at - earlier.at
        instances = {
            name: (value - earlier.instances[name]) / seconds * 100
            for name, value in self.instances.items()
        }
        own = (self.own - earlier.own) / seconds * 100
        busy = self.machine[0] - earlier.machine[0]
        total = max(1, self.machine[1] - earlier.machine[1])
        return instances, own, busy / total * 100 * (os.cpu_count() or 1)


@dataclass
class Step:
    """One step's figures."""

    rooms: int
    fps: list[float]
    cpu_pct: dict[str, float]
    rss: dict[str, float]
    held: dict[str, int]
    own_pct: float
    machine_pct: float
    own_lag_p99_ms: float

    @property
    def min_fps(self) -> float:
        return min(self.fps) if self.fps else 0.0

    @property
    def good(self) -> bool:
        return self.min_fps >= MIN_FPS

    @property
    def cpu_per_room(self) -> float:
        """The instances' CPU together, % of one core per room."""
        return sum(self.cpu_pct.values()) / max(1, self.rooms)

    @property
    def others_pct(self) -> float:
        """What the rest of the machine used: neither the instances nor the peers."""
        return max(0.0, self.machine_pct - sum(self.cpu_pct.values()) - self.own_pct)

    def summary(self) -> str:
        cpu = ", ".join(f"{name} {pct:.0f} %" for name, pct in self.cpu_pct.items())
        return (
            f"min fps {self.min_fps:.1f}, p50 {median(self.fps):.1f}; {cpu}; peers "
            f"{self.own_pct:.0f} % (loop lag p99 {self.own_lag_p99_ms:.0f} ms), others "
            f"{self.others_pct:.0f} %"
        )


async def measure(
    visio: Cluster, rooms: Sequence[LoadRoom], lag: LoopLag, pids: dict[str, int]
) -> Step:
    """One window over every viewer of every room."""
    seats = [seat for room in rooms for seat in room.seats]
    frames0 = [seat.frames for seat in seats]
    lag.p99_ms(reset=True)
    before = CpuReading.now(pids)
    await asyncio.sleep(WINDOW)
    after = CpuReading.now(pids)
    seconds = after.at - before.at
    fps = [(seat.frames - f) / seconds for seat, f in zip(seats, frames0, strict=True)]
    cpu, own, machine = after.pct_since(before)
    return Step(
        rooms=len(rooms),
        fps=fps,
        cpu_pct=cpu,
        rss={name: rss_mb(pid) for name, pid in pids.items()},
        held=await rooms_held(visio),
        own_pct=own,
        machine_pct=machine,
        own_lag_p99_ms=lag.p99_ms(reset=True),
    )


# -- calls ------------------------------------------------------------------------------------


async def until_flowing(rooms: Sequence[LoadRoom], timeout: float = 60.0) -> None:
    """Until every viewer of ``rooms`` receives frames (each gets one within a second)."""
    seats = [seat for room in rooms for seat in room.seats]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = [seat.frames for seat in seats]
        await asyncio.sleep(1.0)
        if all(seat.frames > f for seat, f in zip(seats, before, strict=True)):
            return
    print(f"   some viewers still receive nothing after {timeout:g} s")


def caller_number(serial: int) -> str:
    """A French mobile number unique to one call, so that its offer is recognised."""
    return f"+3367{serial:07d}"


class OfferListener:
    """:mod:`tests.bench.offer_listener` in a child process: the offers and ends it saw."""

    def __init__(self, lb_url: str, positions: Sequence[str], log: Path) -> None:
        self.lb_url = lb_url
        self.positions = positions
        self.log = log
        self.offers: list[dict[str, Any]] = []
        self.ended: set[str] = set()
        self.closed: list[dict[str, Any]] = []
        self._ready = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start it, sign in at every position; return once every socket is up."""
        with self.log.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.bench.offer_listener",
                self.lb_url,
                DESKS_USER,
                *(f"PJSIP/{position}" for position in self.positions),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self._process.stdin is not None
        self._process.stdin.write(f"{DESKS_PASSWORD}\n".encode())
        await self._process.stdin.drain()
        self._reader = asyncio.create_task(self._read())
        try:
            await asyncio.wait_for(self._ready.wait(), 60)
        except TimeoutError:
            raise AssertionError(f"the consoles did not start:\n{tail(self.log)}") from None

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        while line := await self._process.stdout.readline():
            event = json.loads(line)
            if event["kind"] == "ready":
                self._ready.set()
            elif event["kind"] == "offer":
                self.offers.append(event)
            elif event["kind"] == "ended":
                self.ended.add(str(event["call_id"]))
            elif event["kind"] == "closed":
                self.closed.append(event)

    def of(self, caller: str) -> list[dict[str, Any]]:
        """The offers of the call from ``caller``."""
        return [offer for offer in self.offers if offer["caller"] == caller]

    async def stop(self) -> None:
        """Close its stdin: it signs out and ends."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


def start_callers(
    sandbox: SandboxAsterisk, work_dir: Path, positions: Sequence[str], total: int
) -> SippProcess:
    """One sipp placing ``total`` calls at :data:`CALLS_PER_MINUTE`, each from its own number to
    the next position in turn (an injection file), through the operator trunk."""
    work_dir.mkdir(parents=True, exist_ok=True)
    # The shipped caller, its number and its destination taken from the injection file.
    scenario = (sandbox.sipp_dir / "caller.xml").read_text()
    scenario = scenario.replace("[cid]", "[field0]").replace("[service]", "[field1]")
    (work_dir / "caller_rate.xml").write_text(scenario)
    lines = ["SEQUENTIAL"] + [
        f"{caller_number(n)};15{positions[n % len(positions)]};" for n in range(total)
    ]
    (work_dir / "calls.csv").write_text("\n".join(lines) + "\n")
    port = free_udp_port(TRUNK_HOST)
    command = [
        "sipp",
        f"{sandbox.host}:{sandbox.ports.sip}",
        "-sf",
        str(work_dir / "caller_rate.xml"),
        "-inf",
        str(work_dir / "calls.csv"),
        "-i",
        TRUNK_HOST,
        "-p",
        str(port),
        "-m",
        str(total),
        "-r",
        str(CALLS_PER_MINUTE),
        "-rp",
        "60000",
        "-l",
        "200",
        "-d",
        str(CALL_MS),
        "-timeout",
        f"{int(total * 60 / CALLS_PER_MINUTE + 120)}s",
        "-timeout_error",
        "-aa",
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(work_dir / "errors.log"),
        "-trace_screen",
        "-screen_file",
        str(work_dir / "screen.log"),
    ]
    process = spawn(command, output=work_dir / "output.log")
    return SippProcess(process, name="callers", command=command, log_dir=work_dir, local_port=port)


def sipp_counts(screen: Path) -> dict[str, int]:
    """sipp's final ``Successful call`` and ``Failed call`` counters (cumulative column)."""
    counts: dict[str, int] = {}
    if not screen.exists():
        return counts
    for label in ("Successful call", "Failed call"):
        found = re.findall(rf"{label}\s+\|\s+\d+\s+\|\s+(\d+)", screen.read_text())
        counts[label] = int(found[-1]) if found else -1
    return counts


def slope_mb_per_min(samples: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return math.nan
    xs = [x for x, _ in samples]
    ys = [y for _, y in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / var * 60 if var else math.nan


@dataclass
class CallPhase:
    """What the calls gave."""

    placed: int
    sipp: dict[str, int]
    answered: int
    latencies_ms: list[float]
    lost: list[str]
    """Calls (``Linkedid``) answered at a position whose console got no offer."""
    doubled: list[str]
    """Callers whose console got more than one offer, or an offer at another position."""
    seconds: float
    sustained_per_min: float
    cpu_ms_per_call: float
    cpu_pct: dict[str, float]
    memory: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    viewer_fps: list[float] = field(default_factory=list)
    """Each viewer's frame rate over the whole call phase."""
    republished: int = 0
    """Publications the rooms' pages sent again during the calls (a failed connection)."""


async def run_calls(
    sandbox: SandboxAsterisk,
    visio: Cluster,
    positions: Sequence[str],
    baseline_pct: dict[str, float],
    work_dir: Path,
) -> CallPhase:
    """The calls at the rate set, with the rooms left running; the figures."""
    total = max(1, round(CALLS_PER_MINUTE * MINUTES))
    pids = instance_pids(visio)
    answers = Answers(sandbox, positions)
    listener = OfferListener(visio.lb_url, positions, work_dir / "offer_listener.log")
    phones: list[SippProcess] = []
    callers: SippProcess | None = None
    memory: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
    try:
        desks = [arg for position in positions for arg in ("--position", f"PJSIP/{position}")]
        await visio.visioregul(
            visio.names[0],
            "account",
            "add",
            DESKS_USER,
            *desks,
            "--password-stdin",
            stdin=DESKS_PASSWORD + "\n",
        )
        await answers.connect()
        await listener.start()
        per_position = [
            sum(1 for n in range(total) if n % len(positions) == i) for i in range(len(positions))
        ]
        lifetime = total * 60 / CALLS_PER_MINUTE + 180
        for position, calls in zip(positions, per_position, strict=True):
            if calls:
                phones.append(await start_phone(sandbox, position, calls=calls, timeout_s=lifetime))
        before = CpuReading.now(pids)
        callers = start_callers(sandbox, work_dir / "callers", positions, total)
        started = time.monotonic()
        while callers.returncode is None:
            elapsed = time.monotonic() - started
            for name, pid in pids.items():
                memory[name].append((elapsed, rss_mb(pid)))
            if elapsed > lifetime:
                break
            await asyncio.sleep(MEMORY_EVERY - (time.monotonic() - started) % MEMORY_EVERY)
        code = await callers.wait(30)
        seconds = time.monotonic() - started
        # The service's work for a call ends with its end: wait for the last ones.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            called = {o["call_id"] for o in listener.offers}
            if called <= listener.ended and len(answers.at) >= len(listener.offers):
                break
            await asyncio.sleep(0.2)
        after = CpuReading.now(pids)
        for phone in phones:
            with contextlib.suppress(TimeoutError):
                await phone.wait(30)
    finally:
        await listener.stop()
        answers.close()
        for phone in phones:
            await phone.stop()
        if callers is not None:
            await end_process(callers.process)
    counts = sipp_counts(work_dir / "callers" / "screen.log")
    print(f"   callers: sipp exit {code}, {counts}")
    latencies: list[float] = []
    doubled: list[str] = []
    for n in range(total):
        caller = caller_number(n)
        offers = listener.of(caller)
        if not offers:
            continue
        if len(offers) > 1 or offers[0]["position"] != f"PJSIP/{positions[n % len(positions)]}":
            doubled.append(caller)
        at = answers.at.get(str(offers[0]["call_id"]))
        if at is not None:
            latencies.append((offers[0]["at"] - at) * 1000)
    # Lost: answered at a position (Asterisk says so), and no offer on its console.
    lost = sorted(set(answers.at) - {str(o["call_id"]) for o in listener.offers})
    stamps = sorted(answers.at.values())
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    cpu, _own, _machine = after.pct_since(before)
    extra = sum(cpu[name] - baseline_pct.get(name, 0.0) for name in cpu) / 100
    cpu_seconds_calls = extra * (after.at - before.at)
    return CallPhase(
        placed=total,
        sipp=counts,
        answered=len(answers.at),
        latencies_ms=latencies,
        lost=lost,
        doubled=doubled,
        seconds=seconds,
        sustained_per_min=(len(stamps) - 1) / span * 60 if span else math.nan,
        cpu_ms_per_call=cpu_seconds_calls * 1000 / max(1, len(answers.at)),
        cpu_pct=cpu,
        memory=memory,
    )


# -- the benchmark ----------------------------------------------------------------------------


async def test_cluster_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    loopback_only(monkeypatch)
    clip = vp8_clip(CLIP_KBPS * 1000)
    positions = tuple(str(1002 + index) for index in range(POSITIONS))
    banner(
        f"Cluster load: 3 instances behind nginx, rooms of 1 publisher -> {VIEWERS} viewers "
        f"stepped up {ROOM_STEPS}, then {CALLS_PER_MINUTE} calls/min for {MINUTES:g} min",
        [
            f"good step: every viewer >= {MIN_FPS:g} fps; {WARMUP:g} s warm-up, {WINDOW:g} s "
            "window per step; CPU % of one core, from /proc/<pid>/stat",
            f"publishers send a prerecorded VP8 clip at {clip.bitrate / 1000:.0f} kbit/s (no "
            "encoding) through /p/<token>/ws; viewers count frames (no decoding) on "
            f"{VIEWERS} console sockets through /console/ws",
            f"calls: sipp through the operator trunk to {POSITIONS} positions in turn, "
            f"{CALL_MS} ms each once answered; consoles through the load balancer",
            f"the peers share the machine's {os.cpu_count()} cores with the instances, nginx, "
            "PostgreSQL and Asterisk ('peers %': this process; 'others %': the rest)",
        ],
    )
    sandbox_dir = tmp_path / "asterisk"
    sandbox_dir.mkdir()
    work_dir = sandbox_dir if tmp_path.is_relative_to("/tmp") else None
    sandbox = SandboxAsterisk(SandboxPorts.pick_free(("1001", *positions)), work_dir=work_dir)
    await sandbox.start()
    steps: list[Step] = []
    rooms: list[LoadRoom] = []
    calls: CallPhase | None = None
    try:
        async with (
            fresh_postgres_database() as url,
            cluster(
                tmp_path / "cluster",
                url,
                count=3,
                telephony="ami",
                sandbox=sandbox,
                # The desks a call may be at: the sessions' regulator's and the call positions.
                sections={
                    "console": {"positions": [f"PJSIP/{p}" for p in ("1001", *positions)]},
                    # Every room is invited to one number by one regulator, in a few minutes.
                    "messaging": {
                        "per_regulator_per_hour": 1000,
                        "per_destination_per_hour": 1000,
                        "global_per_minute": 1000,
                    },
                },
            ) as visio,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        ):
            pids = instance_pids(visio)
            csrf = await signed_in(http, visio.lb_url)
            consoles = [ConsoleSocket(http, visio.lb_url) for _ in range(VIEWERS)]
            for console in consoles:
                await console.open()
            try:
                with LoopLag() as lag:
                    for count in ROOM_STEPS:
                        opened = time.monotonic()
                        while len(rooms) < count:
                            rooms.append(
                                await LoadRoom.open(http, visio.lb_url, csrf, clip, consoles)
                            )
                        seats = [seat for room in rooms for seat in room.seats]
                        async with asyncio.timeout(60 + 2 * count):
                            await asyncio.gather(*(seat.first_frame.wait() for seat in seats))
                        print(
                            f"   {count} rooms open, every viewer has video "
                            f"({time.monotonic() - opened:.1f} s)"
                        )
                        await asyncio.sleep(WARMUP)
                        step = await measure(visio, rooms, lag, pids)
                        if not step.good:
                            print(f"   {count} rooms: {step.summary()} -> degraded, once more")
                            again = await measure(visio, rooms, lag, pids)
                            print(f"   {count} rooms, again: {again.summary()}")
                            step = again if again.min_fps > step.min_fps else step
                        steps.append(step)
                        print(
                            f"   {count} rooms: {step.summary()} -> "
                            f"{'good' if step.good else 'degraded'}"
                        )
                        if not step.good:
                            break
                    knee = max((s.rooms for s in steps if s.good), default=0)
                    while len(rooms) > knee:
                        try:
                            await rooms.pop().close(http, visio.lb_url, csrf, consoles)
                        except Exception as exc:  # the calls are still worth measuring
                            print(f"   a room beyond the knee did not close cleanly: {exc!r}")
                    # The steady phase: every viewer at the knee receiving (again, after a
                    # collapse: the consoles watch again), its CPU the baseline of the calls'.
                    steady: Step | None = None
                    if rooms:
                        await until_flowing(rooms)
                        await asyncio.sleep(WARMUP)
                        steady = await measure(visio, rooms, lag, pids)
                        print(f"   {len(rooms)} rooms, before the calls: {steady.summary()}")
                    print(
                        f"   calls with {len(rooms)} rooms up: "
                        f"{CALLS_PER_MINUTE}/min for {MINUTES:g} min"
                    )
                    seats = [seat for room in rooms for seat in room.seats]
                    frames0 = [seat.frames for seat in seats]
                    republished0 = sum(room.republished for room in rooms)
                    started = time.monotonic()
                    baseline = steady.cpu_pct if steady is not None else {}
                    calls = await run_calls(sandbox, visio, positions, baseline, tmp_path)
                    took = time.monotonic() - started
                    calls.viewer_fps = [
                        (seat.frames - f) / took for seat, f in zip(seats, frames0, strict=True)
                    ]
                    calls.republished = sum(room.republished for room in rooms) - republished0
                unexpected = [u for console in consoles for u in console.unexpected]
                if unexpected:
                    print(f"   console messages of note: {unexpected[:10]}")
            finally:
                for room in rooms:
                    with contextlib.suppress(Exception):
                        await room.close(http, visio.lb_url, csrf, consoles)
                for console in consoles:
                    await console.close()
    finally:
        await sandbox.stop()

    report(steps, calls)
    assert steps, "no step was measured"
    # Every viewer had its first frame at each step (awaited); video flowed during each window.
    for step in steps:
        assert max(step.fps) > 0, f"no video at all at {step.rooms} rooms"
    assert calls is not None
    assert not calls.lost, f"calls answered without an offer: {calls.lost[:10]}"
    assert not calls.doubled, f"calls with more than one offer, or elsewhere: {calls.doubled[:10]}"


def report(steps: Sequence[Step], calls: CallPhase | None) -> None:
    """Print the figures."""
    names = sorted({name for step in steps for name in step.cpu_pct})
    print(
        "\n"
        + table(
            [
                "rooms",
                "min fps",
                "p50 fps",
                *(f"{name} %" for name in names),
                *(f"{name} MB" for name in names),
                "held",
                "CPU %/room",
                "peers %",
                "others %",
                "peers lag p99",
                "good",
            ],
            [
                [
                    s.rooms,
                    s.min_fps,
                    median(s.fps),
                    *(s.cpu_pct[name] for name in names),
                    *(s.rss[name] for name in names),
                    "/".join(str(s.held[name]) for name in names),
                    s.cpu_per_room,
                    s.own_pct,
                    s.others_pct,
                    s.own_lag_p99_ms,
                    "yes" if s.good else "no",
                ]
                for s in steps
            ],
        )
    )
    good = [s for s in steps if s.good]
    knee = max((s.rooms for s in good), default=0)
    held = "every step held" if len(good) == len(steps) else "the next step fell under"
    print(
        f"knee: {knee} rooms ({held} {MIN_FPS:g} fps; target {TARGET_ROOMS}); "
        f"'held': rooms each instance holds ({'/'.join(names)})"
    )
    if calls is None:
        return
    values = calls.latencies_ms
    if values:
        print(
            f"offers: {len(values)} measured, p50 {percentile(values, 0.5):.1f} ms, p99 "
            f"{percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms "
            f"(target p99 < {TARGET_OFFER_P99_MS:g} ms)"
        )
    print(
        f"calls: {calls.placed} to place at {CALLS_PER_MINUTE}/min, sipp "
        f"{calls.sipp}, {calls.answered} answered at a position over {calls.seconds:.0f} s "
        f"(sustained {calls.sustained_per_min:.0f}/min); lost offers {len(calls.lost)}, "
        f"doubled or misplaced {len(calls.doubled)}"
    )
    if calls.viewer_fps:
        print(
            f"viewers during the calls: min {min(calls.viewer_fps):.1f} fps, p50 "
            f"{median(calls.viewer_fps):.1f} fps (target >= {MIN_FPS:g})"
        )
    print(f"pages that sent their video again after a failed connection: {calls.republished}")
    cpu = ", ".join(f"{name} {pct:.0f} %" for name, pct in calls.cpu_pct.items())
    print(
        f"CPU during the calls: {cpu}; per call (beyond the rooms): {calls.cpu_ms_per_call:.1f} ms"
    )
    for name, samples in calls.memory.items():
        kept = [(t, mb) for t, mb in samples if t >= MEMORY_WARMUP]
        readings = " ".join(f"{mb:.0f}" for _t, mb in samples)
        print(
            f"memory {name}: {readings} MB every {MEMORY_EVERY:g} s; slope after "
            f"{MEMORY_WARMUP:g} s: {slope_mb_per_min(kept):+.2f} MB/min "
            f"(target < {TARGET_SLOPE_MB_PER_MIN:g})"
        )
