"""Ramp-up: how fast a Chromium patient reaches a sharp picture, and how it lives through a dip.

Chromium, as the patient, runs in a network namespace of its own (``vrmed-phone``); the relay
(a :class:`~visioregul.media.Room` in this process) in another (``vrmed-svc``: this process's
main thread enters it while the benchmark runs), joined by one veth pair. The phone's uplink is
shaped with ``tbf``, its rate changed live. Its camera is the high-detail clip of
:mod:`tests.bench.detail_clip` at 1280x720 and 30 fps, so bitrates mean something. The page
publishes with the patient page's own ``camera.js`` (its 1280x720 constraints) and
``publisher.js``; a reader of the room's relay counts the frames it receives.

Each scenario runs twice in the same process: with the relay's stock REMB feedback only (the
reference) and with transport-wide congestion control (:mod:`visioregul.media.congestion`):

- ``ramp``: an unshaped link; per second of the first 20 s after the first frame, the bitrate the
  relay received, the resolution and frame rate sent, the sender's estimate and what limits it;
  the first second at 720p and 1.5 Mbit/s or more.
- ``dip``: 2.5 Mbit/s, then 16 kbit/s for 20 s, then 2.5 Mbit/s again: seconds until the relay
  receives 80 % of the rate it had before the dip.
- ``16k``/``32k``: 20 s at that rate from the start: keyframes the relay received and asked for,
  frames relayed, held-back video dropped.

A benchmark: it prints its figures and asserts only that the unshaped runs showed frames.
Environment:
``VISIOREGUL_BENCH_RAMP_MODES`` (``remb,transport-cc``), ``VISIOREGUL_BENCH_RAMP_SCENARIOS``
(``ramp,dip,16k,32k``), ``VISIOREGUL_BENCH_RAMP_RUNS`` (3: runs of ``ramp`` per mode).
Needs root (namespaces, ``tc``).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from aiohttp import web
from aiortc import MediaStreamError
from playwright.async_api import BrowserContext, Playwright, async_playwright

import visioregul.media.publishing
from tests.bench.detail_clip import write_detail_clip
from visioregul.media import Room
from visioregul.media.codecs import vp8_frame_size
from visioregul.media.relay import RelayTrack

pytestmark = [pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
STATIC_JS = ROOT / "patient_page" / "static" / "js"
CHROMIUM = "/usr/bin/chromium"
NETNS_PREFIX = os.environ.get("VISIOREGUL_BENCH_RAMP_NETNS", "vrmed")
SERVICE_NS, PHONE_NS = f"{NETNS_PREFIX}-svc", f"{NETNS_PREFIX}-phone"
SERVICE_IF, PHONE_IF = f"{NETNS_PREFIX}-s0", f"{NETNS_PREFIX}-p0"
SERVICE_ADDR, PHONE_ADDR = "10.213.77.1", "10.213.77.2"
PORT = 18477
MODES = os.environ.get("VISIOREGUL_BENCH_RAMP_MODES", "remb,transport-cc").split(",")
SCENARIOS = os.environ.get("VISIOREGUL_BENCH_RAMP_SCENARIOS", "ramp,dip,16k,32k").split(",")
RAMP_SECONDS = 20
RAMP_RUNS = int(os.environ.get("VISIOREGUL_BENCH_RAMP_RUNS", "3"))
DIP_RUNS = int(os.environ.get("VISIOREGUL_BENCH_DIP_RUNS", "1"))
TARGET_HEIGHT, TARGET_BPS = 720, 1_500_000
_CLONE_NEWNET = 0x40000000

PAGE = """<!doctype html><meta charset="utf-8"><title>ramp-up</title>
<script type="module">
import { openCamera } from '/js/camera.js';
import { Publisher } from '/js/publisher.js';
import { LinkAdapter } from '/js/linkadapt.js';
window.steps = [];
window.rebounds = [];
window.warnings = [];
const warn = console.warn.bind(console);
console.warn = (...args) => { window.warnings.push(args.map(String).join(' ')); warn(...args); };
window.start = async () => {
  const stream = await openCamera('environment');
  const track = stream.getVideoTracks()[0];
  let adapter = null;
  const publisher = new Publisher(track, { iceServers: [], onState: (state) => {
    // As the page's VideoLink does: the sender's quality follows the link once connected.
    if (state === 'connected' && !adapter) {
      adapter = new LinkAdapter(publisher.pc, publisher.transceiver.sender, {
        onStep: (step) => window.steps.push(step), onVerdict: () => {},
        probe: () => publisher.probeLink(),
        onRebound: (action) => window.rebounds.push({ ...action, at: performance.now() }) });
      adapter.start();
      window.__adapter = adapter;
    }
  } });
  window.__pc = publisher.pc;
  const response = await fetch('/publish', { method: 'POST', body: await publisher.offer() });
  await publisher.accept(await response.text());
  return track.getSettings();
};
window.sample = async () => {
  const out = {};
  (await window.__pc.getStats()).forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      Object.assign(out, { sent: s.bytesSent, width: s.frameWidth, height: s.frameHeight,
        fps: s.framesPerSecond, limit: s.qualityLimitationReason, keyframes: s.keyFramesEncoded });
      out.step = window.steps.length ? window.steps[window.steps.length - 1] : 0;
      out.rebound = window.__adapter?.rebound?.phase ?? '-';
      const encoding = window.__pc.getSenders()[0].getParameters().encodings[0] || {};
      out.encoding = `${encoding.maxFramerate ?? '-'}fps/${encoding.scaleResolutionDownBy ?? '-'}`
        + ` ${window.warnings.splice(0).join('; ')}`;
      out.actions = window.rebounds.splice(0)
        .map((a) => a.kind + (a.kbps ? ' ' + a.kbps : '')).join(',');
    }
    if (s.type === 'candidate-pair' && s.nominated) {
      out.estimate = s.availableOutgoingBitrate;
      out.rtt = s.currentRoundTripTime;
    }
    if (s.type === 'remote-inbound-rtp' && s.kind === 'video') {
      out.loss = s.fractionLost;
    }
  });
  return out;
};
window.ready = true;
</script>"""


# -- the network lab --------------------------------------------------------------------------


def run(*command: str, check: bool = True) -> None:
    """Run ``ip``/``tc``; the output goes to the test's log."""
    subprocess.run(command, check=check, capture_output=not check)


def tear_down_namespaces() -> None:
    for namespace in (SERVICE_NS, PHONE_NS):
        run("ip", "netns", "del", namespace, check=False)


def set_uplink(rate_kbit: int | None) -> None:
    """Shape the phone's uplink to ``rate_kbit`` (None: unshaped), live."""
    if rate_kbit is None:
        run(
            "ip",
            "netns",
            "exec",
            PHONE_NS,
            "tc",
            "qdisc",
            "del",
            "dev",
            PHONE_IF,
            "root",
            check=False,
        )
        return
    burst = max(3028, rate_kbit * 1000 // 8 // 50)  # 20 ms of the rate
    run(
        "ip", "netns", "exec", PHONE_NS, "tc", "qdisc", "replace", "dev", PHONE_IF, "root",
        "tbf", "rate", f"{rate_kbit}kbit", "burst", str(burst), "latency", "200ms",
    )  # fmt: skip


@contextmanager
def network_lab(tmp_path: Path) -> Iterator[Path]:
    """Two namespaces joined by a veth pair; this thread inside the service's namespace.

    Yields a Chromium wrapper that runs in the phone's namespace.
    """
    tear_down_namespaces()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        run("ip", "netns", "add", SERVICE_NS)
        run("ip", "netns", "add", PHONE_NS)
        run("ip", "link", "add", SERVICE_IF, "netns", SERVICE_NS, "type", "veth", "peer", "name",
            PHONE_IF, "netns", PHONE_NS)  # fmt: skip
        for namespace, interface, address in (
            (SERVICE_NS, SERVICE_IF, SERVICE_ADDR),
            (PHONE_NS, PHONE_IF, PHONE_ADDR),
        ):
            run(
                "ip",
                "netns",
                "exec",
                namespace,
                "ip",
                "addr",
                "add",
                f"{address}/30",
                "dev",
                interface,
            )
            run("ip", "netns", "exec", namespace, "ip", "link", "set", interface, "up")
            run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        wrapper = tmp_path / "chromium-in-phone-ns"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {PHONE_NS} {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        target = os.open(f"/run/netns/{SERVICE_NS}", os.O_RDONLY)
        try:
            if libc.setns(target, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the service's namespace")
        finally:
            os.close(target)
        try:
            yield wrapper
        finally:
            libc.setns(home, _CLONE_NEWNET)
    finally:
        os.close(home)
        tear_down_namespaces()


# -- the relay and its reader -----------------------------------------------------------------


@dataclass
class FrameLog:
    """Frames the relay passed on: (loop time, bytes, keyframe)."""

    frames: list[tuple[float, int, bool]] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)

    def bits_between(self, start: float, end: float) -> int:
        return sum(size for at, size, _ in self.frames if start <= at < end) * 8

    def keyframes_between(self, start: float, end: float) -> int:
        return sum(1 for at, _, key in self.frames if start <= at < end and key)

    def frames_between(self, start: float, end: float) -> int:
        return sum(1 for at, _, _ in self.frames if start <= at < end)


class Viewer:
    """Reads the room's relay as a subscriber's sender would, and logs every frame.

    No peer connection: sending the frames on to a viewer would double this process's work, and
    a busy event loop stamps the publisher's packets late, which the browser's delay-based
    estimator reads as congestion.
    """

    def __init__(self) -> None:
        self.log = FrameLog()
        self.first_frame = asyncio.Event()
        self._track: RelayTrack | None = None
        self._task: asyncio.Task[None] | None = None

    def join(self, room: Room) -> None:
        """Start reading the patient's relay (it exists once the patient published)."""
        self._track = room._feeds["patient"].relay.subscribe()
        self._task = asyncio.create_task(self._count(self._track))

    async def _count(self, track: RelayTrack) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                packet = await track.recv()
            except MediaStreamError:
                return
            self.log.frames.append((loop.time(), packet.size, bool(packet.is_keyframe)))
            size = vp8_frame_size(bytes(packet)) if packet.is_keyframe else None
            if size is not None:
                self.log.sizes.append(size)
            self.first_frame.set()

    async def close(self) -> None:
        if self._track is not None:
            self._track.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@asynccontextmanager
async def service(room_holder: list[Room]) -> AsyncIterator[None]:
    """The page, its scripts, and ``POST /publish`` answering with the current room."""

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def publish(request: web.Request) -> web.Response:
        answer = await room_holder[-1].publish(await request.text(), participant_id="patient")
        return web.Response(text=answer, content_type="application/sdp")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_post("/publish", publish)
    app.router.add_static("/js/", STATIC_JS)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, SERVICE_ADDR, PORT)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()


async def launch_phone(
    playwright: Playwright, wrapper: Path, clip: Path, profile: Path
) -> BrowserContext:
    return await playwright.chromium.launch_persistent_context(
        user_data_dir=str(profile),
        executable_path=str(wrapper),
        headless=False,
        ignore_default_args=True,
        args=[
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
            "--use-fake-ui-for-media-stream",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            f"--unsafely-treat-insecure-origin-as-secure=http://{SERVICE_ADDR}:{PORT}",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ],
    )


# -- one run ----------------------------------------------------------------------------------


@dataclass
class Second:
    """One second of a run, as the relay and the phone saw it."""

    at: int
    received_bps: int
    width: int
    height: int
    fps: float
    estimate_bps: int
    limit: str
    keyframes: int
    link_bps: int
    """What reached the relay over the last 2 s, complete frames or not."""
    step: int = 0
    """The page's quality step (``linkadapt.js``: 0 is the best)."""
    rebound: str = "-"
    """Where the page's return after a dip stands (``rebound.js``)."""


@dataclass
class Run:
    """One run's per-second samples and the room's counters at its end."""

    mode: str
    scenario: str
    seconds: list[Second] = field(default_factory=list)
    first_frame_s: float | None = None
    stats: Any = None
    log: FrameLog = field(default_factory=FrameLog)
    link_events: list[tuple[float, str, int]] = field(default_factory=list)
    origin: float = 0.0


async def one_run(
    phone: BrowserContext,
    room_holder: list[Room],
    mode: str,
    scenario: str,
    schedule: list[tuple[float, int | None]],
    duration: float,
    *,
    from_first_frame: bool,
) -> Run:
    """Publish a fresh page into a fresh room; apply ``schedule`` ((second, kbit/s or None), from
    the first frame or from the start); sample every second for ``duration`` seconds."""
    result = Run(mode, scenario)
    loop = asyncio.get_running_loop()

    def on_event(kind: str, details: Mapping[str, object]) -> None:
        if kind in ("weak_link", "link_recovered"):
            result.link_events.append((loop.time(), kind, int(str(details["rate_bps"]))))

    room = Room(f"{scenario}-{mode}", ice_servers=[], on_event=on_event)
    room_holder.append(room)
    viewer = Viewer()
    set_uplink(schedule[0][1] if schedule and schedule[0][0] == 0 else None)
    page = await phone.new_page()
    try:
        await page.goto(f"http://{SERVICE_ADDR}:{PORT}/")
        await page.wait_for_function("window.ready === true")
        started = loop.time()
        await page.evaluate("window.start()")
        viewer.join(room)
        if from_first_frame:
            await asyncio.wait_for(viewer.first_frame.wait(), 30)
            origin = loop.time()
        else:
            origin = started
        result.origin = origin
        if viewer.first_frame.is_set():
            result.first_frame_s = viewer.log.frames[0][0] - started
        pending = [step for step in schedule if step[0] > 0]
        for second in range(1, int(duration) + 1):
            while pending and pending[0][0] <= second - 1:
                set_uplink(pending.pop(0)[1])
            await asyncio.sleep(max(0.0, origin + second - loop.time()))
            sample = await page.evaluate("window.sample()")
            result.seconds.append(
                Second(
                    at=second,
                    received_bps=viewer.log.bits_between(origin + second - 1, origin + second),
                    width=int(sample.get("width") or 0),
                    height=int(sample.get("height") or 0),
                    fps=float(sample.get("fps") or 0),
                    estimate_bps=int(sample.get("estimate") or 0),
                    limit=str(sample.get("limit") or "-"),
                    keyframes=viewer.log.keyframes_between(origin + second - 1, origin + second),
                    link_bps=link_rate(room),
                    step=int(sample.get("step") or 0),
                    rebound=f"rtt {float(sample.get('rtt') or 0) * 1000:.0f} ms"
                    f" loss {float(sample.get('loss') or 0):.2f} "
                    + str(sample.get("rebound") or "-")
                    + f" {sample.get('encoding') or ''}"
                    + (f" [{sample['actions']}]" if sample.get("actions") else ""),
                )
            )
            if result.first_frame_s is None and viewer.first_frame.is_set():
                result.first_frame_s = viewer.log.frames[0][0] - started
        result.stats = room.stats()
        result.log = viewer.log
    finally:
        await page.close()
        await viewer.close()
        await room.close()
        set_uplink(None)
    return result


def link_rate(room: Room) -> int:
    """Bits per second reaching the room's publisher receiver (complete frames or not)."""
    feed = room._feeds.get("patient")
    publisher = feed.slot.current if feed is not None else None
    return int(publisher.jitter_buffer.receive_rate * 8) if publisher is not None else 0


def print_seconds(run_: Run) -> None:
    print(
        f"  {run_.scenario} / {run_.mode}: first frame {run_.first_frame_s or float('nan'):.2f} s"
        " after the offer; per second: received kbit/s, sent resolution @ fps, estimate kbit/s,"
        " limit, keyframes, link kbit/s (all packets, last 2 s)"
    )
    for at, kind, rate in run_.link_events:
        print(f"    {kind} at {at - run_.origin:.1f} s ({rate / 1000:.0f} kbit/s)")
    for s in run_.seconds:
        print(
            f"    {s.at:3d} s {s.received_bps / 1000:7.0f} kbit/s  {s.width:4d}x{s.height:<4d}"
            f" @ {s.fps:4.1f}  estimate {s.estimate_bps / 1000:6.0f}  {s.limit:9s} kf {s.keyframes}"
            f"  link {s.link_bps / 1000:6.0f}  step {s.step} {s.rebound}"
        )


def time_to_target(run_: Run) -> int | None:
    """The first second at 720p and 1.5 Mbit/s or more."""
    for s in run_.seconds:
        if s.height >= TARGET_HEIGHT and s.received_bps >= TARGET_BPS:
            return s.at
    return None


async def test_ramp_up_and_dip_recovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.fail("the ramp-up benchmark needs root (network namespaces and tc)")
    if not await asyncio.to_thread(Path(CHROMIUM).exists):
        pytest.fail(f"{CHROMIUM} is missing: run tests/services/chromium.sh")
    clip = await asyncio.to_thread(write_detail_clip, tmp_path / "detail.y4m")
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [SERVICE_ADDR])
    stock = visioregul.media.publishing.enable_transport_cc
    runs: list[Run] = []
    rooms: list[Room] = []
    feedback: list[Any] = []
    with network_lab(tmp_path) as wrapper:
        async with service(rooms), async_playwright() as playwright:
            for mode in MODES:
                if mode == "remb":
                    monkeypatch.setattr(
                        visioregul.media.publishing, "enable_transport_cc", lambda *_: None
                    )
                else:

                    def recording(*args: Any) -> Any:
                        made = stock(*args)
                        feedback.append(made)
                        return made

                    monkeypatch.setattr(
                        visioregul.media.publishing, "enable_transport_cc", recording
                    )
                phone = await launch_phone(playwright, wrapper, clip, tmp_path / f"profile-{mode}")
                try:
                    for scenario in SCENARIOS:
                        started = time.monotonic()
                        if scenario == "ramp":
                            for _ in range(RAMP_RUNS - 1):
                                made = await one_run(
                                    phone, rooms, mode, scenario, [], RAMP_SECONDS,
                                    from_first_frame=True,
                                )  # fmt: skip
                                runs.append(made)
                                print_seconds(made)
                            made = await one_run(
                                phone, rooms, mode, scenario, [], RAMP_SECONDS,
                                from_first_frame=True,
                            )  # fmt: skip
                        elif scenario == "dip":
                            for _ in range(DIP_RUNS - 1):
                                made = await one_run(
                                    phone, rooms, mode, scenario,
                                    [(0, 2500), (10, 16), (30, 2500)], 45, from_first_frame=True,
                                )  # fmt: skip
                                runs.append(made)
                                print_seconds(made)
                            made = await one_run(
                                phone, rooms, mode, scenario,
                                [(0, 2500), (10, 16), (30, 2500)], 45, from_first_frame=True,
                            )  # fmt: skip
                        else:
                            rate = int(scenario.rstrip("k"))
                            made = await one_run(
                                phone,
                                rooms,
                                mode,
                                scenario,
                                [(0, rate)],
                                20,
                                from_first_frame=False,
                            )
                        runs.append(made)
                        if mode != "remb" and feedback and feedback[-1] is not None:
                            recorder = feedback[-1].recorder
                            span = (recorder._newest or 0) - min(recorder._arrivals, default=0)
                            print(
                                f"    transport-wide feedback: {recorder.received} packets,"
                                f" {recorder.sent} messages, newest {recorder._newest}, span {span}"
                            )
                        print_seconds(made)
                        print(f"    ({time.monotonic() - started:.0f} s)")
                finally:
                    await phone.close()
    print("\nsummary")
    for made in runs:
        if made.scenario == "ramp":
            reached = time_to_target(made)
            total = sum(s.received_bps for s in made.seconds[:5]) / 5
            print(
                f"  ramp {made.mode}: 720p at 1.5 Mbit/s "
                + (f"at second {reached}" if reached else f"not within {RAMP_SECONDS} s")
                + f"; mean of the first 5 s {total / 1000:.0f} kbit/s,"
                f" second 20: {made.seconds[-1].received_bps / 1000:.0f} kbit/s"
                f" {made.seconds[-1].width}x{made.seconds[-1].height}"
            )
        elif made.scenario == "dip":
            before = sum(s.received_bps for s in made.seconds[5:10]) / 5
            after = [s for s in made.seconds if s.at > 30]
            back = next((s.at - 30 for s in after if s.received_bps >= 0.8 * before), None)
            print(
                f"  dip {made.mode}: {before / 1000:.0f} kbit/s before the dip; 80 % of it again "
                + (f"{back} s after the link came back" if back else "not within 15 s")
                + f"; at the end {after[-1].received_bps / 1000:.0f} kbit/s"
                f" {after[-1].width}x{after[-1].height}"
            )
        else:
            stats = made.stats
            print(
                f"  {made.scenario} {made.mode}: in 20 s {made.log.keyframes_between(0, 1e12)}"
                f" keyframes and {made.log.frames_between(0, 1e12)} frames relayed,"
                f" {stats.keyframes_sent} keyframe requests sent, {stats.backlog_resets} backlogs"
                f" dropped, first frame "
                + (f"{made.first_frame_s:.1f} s" if made.first_frame_s is not None else "never")
            )
    for mode in MODES:
        ramps = [made for made in runs if made.mode == mode and made.scenario == "ramp"]
        seconds = sorted(time_to_target(made) or RAMP_SECONDS + 1 for made in ramps)
        if seconds:
            median = seconds[len(seconds) // 2]
            print(
                f"  ramp {mode}: 720p at 1.5 Mbit/s in"
                f" {sum(r <= RAMP_SECONDS for r in seconds)} of {len(seconds)} runs; median: "
                + (f"second {median}" if median <= RAMP_SECONDS else f"not within {RAMP_SECONDS} s")
            )
    assert all(made.log.frames for made in runs if made.scenario == "ramp"), "no frame"
