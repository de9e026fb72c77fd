"""Benchmark: sessions from a real 15 call on each emulated network (``make field``).

For each profile, ``VISIOREGUL_FIELD_SESSIONS`` sessions (30 by default): the patient's Chromium
in the lab's phone namespace behind the profile's link (coturn beside the service), the console
in the service's namespace; the phone's camera films a high-detail clip
(:mod:`tests.bench.detail_clip`). Each established session is watched ``VISIOREGUL_FIELD_WATCH``
seconds (20 by default). Prints, per profile:

- video established n/N with its 95 % Wilson lower bound, and the paths the video took;
- link opened -> first frame on the console, p50/p95;
- frames per second and picture height received (p50 over sessions), freezes over 1 s per
  minute and the longest one;
- the seconds from the first frames to 720p with 1.5 Mbit/s or more on the uplink (p50/p95, and
  how many sessions reached it during the watch);
- on ``handover``, the seconds from the network change to frames again (p50/p95);
- on ``dip`` (the uplink at 16 kbit/s, or ``VISIOREGUL_FIELD_DIP_KBPS``, for 20 s, then back),
  the seconds from the link's return until the console receives 80 % of the video rate it had
  before the dip, and whether the page went to photos meanwhile.

``VISIOREGUL_FIELD_PROFILES`` (comma-separated) picks the profiles.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.bench.detail_clip import write_detail_clip
from tests.browser.pages import COUNT_FRAMES, feed
from tests.field.profiles import DIP_BPS, DIP_SECONDS
from tests.field.scenario import SESSION, Outcome, Scene, run_seconds, session_events
from tests.field.stats import percentile, wilson_lower_bound
from tests.field.watch import received_kbps

SESSIONS = int(os.environ.get("VISIOREGUL_FIELD_SESSIONS", "30"))
WATCH = float(os.environ.get("VISIOREGUL_FIELD_WATCH", "20"))
ALL_PROFILES = [
    "4g",
    "4g-congested",
    "3g",
    "edge",
    "lossy",
    "udp-blocked",
    "symmetric-nat",
    "handover",
    "dip",
]
PROFILES = [
    name.strip()
    for name in os.environ.get("VISIOREGUL_FIELD_PROFILES", ",".join(ALL_PROFILES)).split(",")
    if name.strip()
]

EDGE_TIMEOUT = 90.0
"""Each wait of a session on EDGE (the page, the first frame or photo...), 30 s elsewhere."""

# Longer than every session's own deadline together: a test the runner stopped half-way would
# leave its session running on the shared event loop, hanging up the next sessions' calls.
pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.timeout(120 + run_seconds(SESSIONS, EDGE_TIMEOUT, WATCH, then=True)),
]


def quantiles(values: list[float], unit: str = "", digits: int = 1) -> str:
    """``p50 X, p95 Y`` (or ``-`` without values)."""
    if not values:
        return "-"
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    return f"p50 {p50:.{digits}f}{unit}, p95 {p95:.{digits}f}{unit}"


def session_line(outcome: Outcome) -> str:
    """One session's raw figures (the run's output keeps every session, not just quantiles)."""
    if not outcome.established:
        return "photos" if outcome.photos else f"failed: {outcome.error}"
    parts = [f"video {outcome.path}"]
    if outcome.link_to_first_frame_ms is not None:
        parts.append(f"first frame {outcome.link_to_first_frame_ms / 1000:.1f} s")
    quality = outcome.quality
    if quality is not None:
        rate = sum(quality.uplink_kbps) / max(1, len(quality.uplink_kbps))
        parts.append(
            f"{quality.fps:.1f} fps, {quality.height_p50:.0f}p (max {quality.height_max}p), "
            f"{rate:.0f} kbit/s, longest gap {quality.longest_freeze_ms / 1000:.2f} s"
        )
    return "; ".join(parts)


def handover_back(scene: Scene, delays: list[float]) -> Callable[[Page, Page], Awaitable[None]]:
    """After the first frames: the phone changes network; the seconds until frames again."""

    async def then(console: Page, patient: Page) -> None:
        changed = time.monotonic()
        await asyncio.to_thread(scene.lab.handover)
        # The page's new connection: frames presented again on the console.
        await asyncio.wait_for(feed(console).evaluate(COUNT_FRAMES, 3), 30)
        delays.append(time.monotonic() - changed)

    return then


PAGE_MARKS = """() => [
  ...performance.getEntriesByType('mark')
    .filter((mark) => mark.name.startsWith('visioregul:'))
    .map((mark) => [mark.name, performance.timeOrigin + mark.startTime]),
  ...performance.getEntriesByType('resource')
    .filter((entry) => entry.name.includes('/uploads'))
    .flatMap((entry) => [['upload-start', performance.timeOrigin + entry.startTime],
      ['upload-end', performance.timeOrigin + entry.responseEnd]]),
]"""
"""The patient page's step marks, with their wall-clock time (ms)."""

DIP_RATE = int(float(os.environ.get("VISIOREGUL_FIELD_DIP_KBPS", DIP_BPS / 1000)) * 1000)
"""The uplink during a ``dip`` (``VISIOREGUL_FIELD_DIP_KBPS``, 16 by default): above 50 kbit/s
the page keeps its video and probes the link itself once it is back (``rebound.js``)."""

RECOVERED = 0.8
"""The share of its rate before the dip that the video must find again."""
RECOVERY_LIMIT = 30.0
"""A recovery not seen within this is counted as none."""


@dataclass
class Dips:
    """What the ``dip`` sessions showed."""

    recoveries: list[float | None] = field(default_factory=list)
    """Seconds from the link's return to the video's rate back (None: not within the limit)."""
    photo_modes: int = 0
    """Sessions whose page went to photos during the dip."""
    lines: list[str] = field(default_factory=list)


def dip_back(scene: Scene, dips: Dips) -> Callable[[Page, Page], Awaitable[None]]:
    """After the watch: the uplink falls to 16 kbit/s for 20 s, then comes back; the seconds
    until the console receives 80 % of its rate before the dip again."""

    async def then(console: Page, patient: Page) -> None:
        before, height_before = await received_kbps(console, 3.0)
        photo_modes = len(await session_events(console, "video.photo_mode"))
        await asyncio.to_thread(scene.lab.uplink, DIP_RATE)
        # The dip's length is the scenario itself, not a wait for something to happen.
        await asyncio.sleep(DIP_SECONDS)
        await asyncio.to_thread(scene.lab.uplink, None)
        back, back_at = time.monotonic(), time.time()
        recovered: float | None = None
        rates: list[str] = []
        while time.monotonic() - back < RECOVERY_LIMIT:
            rate, height = await received_kbps(console, 1.0)
            rates.append(f"{rate:.0f}/{height}p")
            if rate >= RECOVERED * before:
                recovered = time.monotonic() - back
                break
        photos = len(await session_events(console, "video.photo_mode")) > photo_modes
        dips.recoveries.append(recovered)
        dips.photo_modes += photos
        # What the session's log says happened around the link's return, in seconds from it.
        timeline = await console.evaluate(SESSION, console.url.rsplit("/", 1)[-1])
        told = [
            f"{event['type'].removeprefix('video.')} "
            f"{datetime.fromisoformat(event['at']).timestamp() - back_at:+.1f}"
            for event in timeline.get("timeline", [])
            if event["type"].startswith(("video.", "document", "still"))
            and datetime.fromisoformat(event["at"]).timestamp() > back_at - DIP_SECONDS
        ]
        # And what the page marked: its new connection's steps.
        marks = await patient.evaluate(PAGE_MARKS)
        told += [
            f"{name.removeprefix('visioregul:')} {at / 1000 - back_at:+.1f}"
            for name, at in marks
            if at / 1000 > back_at - DIP_SECONDS
        ]
        dips.lines.append(
            f"before {before:.0f} kbit/s at {height_before}p; "
            f"{'photo mode; ' if photos else ''}after the dip, per second: {' '.join(rates)}; "
            f"log (s from the return): {', '.join(told)}"
        )

    return then


@pytest.mark.parametrize("profile", PROFILES)
async def test_field_sessions(field_scene: Scene, profile: str, tmp_path: Path) -> None:
    # A scene with detail (grain, text, motion): a phone camera's bitrate, not a flat pattern's.
    field_scene.camera_clip = await asyncio.to_thread(write_detail_clip, tmp_path / "scene.y4m")
    outcomes: list[Outcome] = []
    handovers: list[float] = []
    dips = Dips()
    for _ in range(SESSIONS):
        then = (
            handover_back(field_scene, handovers)
            if profile == "handover"
            else dip_back(field_scene, dips)
            if profile == "dip"
            else None
        )
        # On EDGE the page may send photos instead: they count, with a longer wait.
        edge = profile == "edge"
        outcomes.append(
            await field_scene.attempt(
                profile,
                watch_seconds=WATCH,
                then=then,
                photos=edge,
                timeout=EDGE_TIMEOUT if edge else 30,
            )
        )
    for number, outcome in enumerate(outcomes, 1):
        print(f"\n  session {number}: {session_line(outcome)}", end="")
    established = [o for o in outcomes if o.established]
    delays = [o.link_to_first_frame_ms / 1000 for o in established if o.link_to_first_frame_ms]
    paths = collections.Counter(o.path or "unknown" for o in established)
    watched = [o.quality for o in established if o.quality is not None]
    sharp = [q.seconds_to(720, 1500) for q in watched]
    reached = [s for s in sharp if s is not None]
    print(
        f"\n{profile}: video established {len(established)}/{SESSIONS} "
        f"(95 % lower bound {wilson_lower_bound(len(established), SESSIONS) * 100:.1f} %), "
        f"paths {dict(paths)}"
        f"\n  photos delivered when video was not: "
        f"{sum(o.photos for o in outcomes)}/{SESSIONS - len(established)}"
        f"\n  link opened -> first frame on the console: {quantiles(delays, ' s')}"
        f"\n  received: {quantiles([q.fps for q in watched], ' fps')}; "
        f"height {quantiles([q.height_p50 for q in watched], 'p', 0)}; "
        f"freezes > 1 s per minute {quantiles([q.freezes_per_minute for q in watched])}, "
        f"longest {quantiles([q.longest_freeze_ms / 1000 for q in watched], ' s')}"
        f"\n  longest gap between decoded frames over the {WATCH:.0f} s watched: "
        f"{max((q.longest_freeze_ms for q in watched), default=0) / 1000:.2f} s at worst"
        f"\n  uplink kbit/s over the watch: "
        f"{quantiles([sum(q.uplink_kbps) / max(1, len(q.uplink_kbps)) for q in watched], '', 0)}"
        f"\n  720p at 1.5 Mbit/s reached in {len(reached)}/{len(watched)} sessions, "
        f"after {quantiles(reached, ' s')} of video"
    )
    if profile == "handover":
        print(f"  video back after the network change: {quantiles(handovers, ' s')}")
    if profile == "dip":
        for number, line in enumerate(dips.lines, 1):
            print(f"  dip {number}: {line}")
        seen = [s for s in dips.recoveries if s is not None]
        print(
            f"  back to {RECOVERED:.0%} of the rate before the dip in {len(seen)}/"
            f"{len(dips.recoveries)} sessions, after {quantiles(seen, ' s')} of link; "
            f"photo mode during the dip in {dips.photo_modes}/{len(dips.recoveries)}"
        )
    for failure, count in collections.Counter(
        o.error for o in outcomes if not o.established and not o.photos
    ).items():
        print(f"  failed {count}x: {failure}")
    assert len(outcomes) == SESSIONS
