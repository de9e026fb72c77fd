"""What the regulator saw during a while: frames, resolution, freezes, and what the phone sent.

The console's ``<video>`` is read with ``requestVideoFrameCallback`` (each presented frame's time
and size); the phone's uplink from the lab's link counters, once a second.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Page

from tests.browser.pages import feed

from .lab import Lab
from .stats import percentile

__all__ = [
    "FRAMES_DURING",
    "RECEIVED_VIDEO",
    "RECORD_PEER_CONNECTIONS",
    "Quality",
    "received_kbps",
    "watch_video",
]

FRAMES_DURING = """(video, seconds) => new Promise((resolve) => {
  const frames = [];
  const end = performance.now() + seconds * 1000;
  const step = (now, meta) => {
    frames.push([now, meta.width, meta.height]);
    if (now < end) { video.requestVideoFrameCallback(step); }
  };
  video.requestVideoFrameCallback(step);
  setTimeout(() => resolve({ frames, start: end - seconds * 1000 }), seconds * 1000 + 50);
})"""
"""``[time ms, width, height]`` of each frame the console presents during ``seconds``."""

RECORD_PEER_CONNECTIONS = """(() => {
  const Native = window.RTCPeerConnection;
  if (!Native) { return; }
  window.__peers = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__peers.push(this); }
  };
})()"""
"""An init script for the console: its peer connections kept where :data:`RECEIVED_VIDEO`
finds them (the page keeps them to itself)."""

RECEIVED_VIDEO = """async () => {
  const peers = [];
  for (const [index, pc] of (window.__peers || []).entries()) {
    if (pc.connectionState === 'closed') { continue; }
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        peers.push([index, s.bytesReceived || 0, s.frameHeight || 0]);
      }
    });
  }
  return peers;
}"""
"""``[peer index, video bytes received, frame height]`` of each of the console's live peers."""

FREEZE_MS = 1000.0
"""A gap between two presented frames longer than this is a freeze."""


@dataclass
class Quality:
    """The console's picture during a watch."""

    seconds: float
    frames: int = 0
    fps: float = 0.0
    height_p50: float = 0.0
    height_max: int = 0
    freezes: int = 0
    """Gaps over :data:`FREEZE_MS` between presented frames (or before the first one)."""
    longest_freeze_ms: float = 0.0
    uplink_kbps: list[float] = field(default_factory=list)
    """What crossed the phone's uplink, second by second."""
    heights: list[int] = field(default_factory=list)
    """The picture's height at the end of each second (0: no frame yet)."""

    @property
    def freezes_per_minute(self) -> float:
        return self.freezes * 60.0 / self.seconds if self.seconds else 0.0

    def seconds_to(self, height: int, kbps: float) -> float | None:
        """Seconds into the watch until a second shows ``height`` lines or more while the uplink
        carries ``kbps`` or more; None if never."""
        for second, (lines, rate) in enumerate(zip(self.heights, self.uplink_kbps, strict=False)):
            if lines >= height and rate >= kbps:
                return float(second + 1)
        return None


def _summarise(raw: dict[str, Any], seconds: float, uplink: list[float]) -> Quality:
    frames: list[list[float]] = raw["frames"]
    quality = Quality(seconds=seconds, uplink_kbps=uplink)
    if not frames:
        quality.freezes = 1
        quality.longest_freeze_ms = seconds * 1000
        quality.heights = [0] * len(uplink)
        return quality
    times = [raw["start"], *(frame[0] for frame in frames)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    quality.frames = len(frames)
    quality.fps = len(frames) / seconds
    heights = [int(frame[2]) for frame in frames]
    quality.height_p50 = percentile([float(h) for h in heights], 0.5)
    quality.height_max = max(heights)
    quality.freezes = sum(1 for gap in gaps if gap > FREEZE_MS)
    quality.longest_freeze_ms = max(gaps)
    by_second: list[int] = []
    for second in range(len(uplink)):
        until = raw["start"] + (second + 1) * 1000
        shown = [int(frame[2]) for frame in frames if frame[0] <= until]
        by_second.append(shown[-1] if shown else 0)
    quality.heights = by_second
    return quality


async def received_kbps(console: Page, seconds: float) -> tuple[float, int]:
    """The video the console received over the next ``seconds`` (kbit/s), and the tallest frame
    height it decoded then."""
    before = {index: received for index, received, _ in await console.evaluate(RECEIVED_VIDEO)}
    started = time.monotonic()
    await asyncio.sleep(seconds)
    after = await console.evaluate(RECEIVED_VIDEO)
    elapsed = time.monotonic() - started
    # A peer that is new since ``before`` counts from zero; one that closed counts no more.
    grown = sum(max(0, received - before.get(index, 0)) for index, received, _ in after)
    return grown * 8 / 1000 / elapsed, max((height for *_, height in after), default=0)


async def watch_video(console: Page, lab: Lab, seconds: float) -> Quality:
    """Watch the console's video for ``seconds``: its frames, and the phone's uplink."""
    frames = asyncio.create_task(feed(console).evaluate(FRAMES_DURING, seconds))
    uplink: list[float] = []
    before = lab.stats()["up"]["delivered_bytes"]
    started = time.monotonic()
    for second in range(int(seconds)):
        # Sampled on the second: the counters are the link's own, the pause only paces them.
        await asyncio.sleep(max(0.0, started + second + 1 - time.monotonic()))
        now = lab.stats()["up"]["delivered_bytes"]
        uplink.append((now - before) * 8 / 1000)
        before = now
    return _summarise(await frames, seconds, uplink)
