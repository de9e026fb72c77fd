"""First frame: from the patient's link to the first frame of the camera in the regulator's console.

Per run, a fresh session: the regulator's console invites without a call (no telephony, like
``tests/browser/test_video.py``) and waits in the room; the patient page (phone-sized, fake
camera, in a Chromium of its own, as on the patient's phone: the console's tab stays in the
foreground) is loaded fresh from the SMS link, and "Activer la caméra" is
clicked as soon as it is visible (``--use-fake-ui-for-media-stream`` grants the camera; a tap
before the page's script listens is lost, so the tap is repeated until the camera is asked for). Two
delays, both on the machine's wall clock (the pages share it):

* from the patient page's navigation start (its ``performance.timeOrigin``) to the first frame
  presented in the console's ``<video>`` (``requestVideoFrameCallback``, ``Date.now()``);
* from the click to that first frame.

Both pages are given a script that only records when the WebRTC steps happen (camera granted,
offer made, ICE gathering complete, offer or answer sent and received on the WebSocket,
connection up, track received, first packet, keyframe and frame decoded from the
connections' statistics polled every 10 ms, the console's ``loadeddata`` and its video area shown
(``data-playing``)): the steps of every run are printed beside its delays.

A benchmark: it prints p50, p90 and max of both delays and the target (p50 under 0.8 s from the
page's start); it asserts only that every run showed a frame. Environment:
``VISIOREGUL_BENCH_FIRST_FRAME_RUNS`` (10).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import (  # noqa: F401
    artifacts,
    browser,
    chromium,
    playwright_driver,
    second_browser,
)
from tests.browser.pages import (  # noqa: F401
    FIRST_FRAME_AT,
    feed,
    log_in,
    loopback_ice,
    patient_link,
    start_service,
    watch,
)
from tests.browser.pages import settings as service_settings

RUNS = int(os.environ.get("VISIOREGUL_BENCH_FIRST_FRAME_RUNS", "10"))
TARGET_P50_MS = 800.0
"""The goal for the delay from the page's start, printed beside the figures: never asserted."""

pytestmark = [pytest.mark.timeout(60 + 20 * RUNS)]

MARKS = """(() => {
  const marks = [];
  window.__marks = marks;
  const mark = (name) => marks.push([name, performance.timeOrigin + performance.now()]);
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      mark('pc created');
      this.addEventListener('icegatheringstatechange', () => mark('ice ' + this.iceGatheringState));
      this.addEventListener('connectionstatechange', () => mark('pc ' + this.connectionState));
      this.addEventListener('track', () => mark('track'));
      const seen = {};
      const note = (name) => { if (!seen[name]) { seen[name] = true; mark(name); } };
      const poll = window.setInterval(async () => {
        if (this.connectionState === 'closed') { window.clearInterval(poll); return; }
        const stats = await this.getStats();
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') {
            if (s.packetsReceived > 0) { note('first packet in'); }
            if (s.framesDecoded > 0) { note('first frame decoded'); }
            if (s.framesDecoded > 1) { note('second frame decoded'); }
            if (s.keyFramesDecoded > 0) { note('first keyframe decoded'); }
            if (s.pliCount > 0) { note('pli sent ' + s.pliCount); }
            if (s.firCount > 0) { note('fir sent ' + s.firCount); }
          } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
            if (s.framesEncoded > 0) { note('first frame encoded'); }
            if (s.framesEncoded > 1) { note('second frame encoded'); }
            if (s.keyFramesEncoded > 0) { note('keyframe encoded ' + s.keyFramesEncoded); }
            if (s.pliCount > 0) { note('pli received ' + s.pliCount); }
            if (s.firCount > 0) { note('fir received ' + s.firCount); }
          }
        });
      }, 10);
    }
    async setLocalDescription(...args) {
      const result = await super.setLocalDescription(...args);
      mark('local description set');
      return result;
    }
    async setRemoteDescription(...args) {
      mark('remote description given');
      const result = await super.setRemoteDescription(...args);
      mark('remote description set');
      return result;
    }
  };
  const media = navigator.mediaDevices;
  if (media) {
    const getUserMedia = media.getUserMedia.bind(media);
    media.getUserMedia = async (constraints) => {
      mark('camera asked');
      const stream = await getUserMedia(constraints);
      mark('camera granted');
      return stream;
    };
  }
  document.addEventListener('loadeddata', () => mark('video loadeddata'), true);
  document.addEventListener('playing', () => mark('video playing'), true);
  new MutationObserver((changes) => {
    for (const change of changes) {
      const value = change.target.dataset.playing;
      if (value === 'true') {
        mark('video shown');
        const video = change.target.querySelector('video');
        if (video) { video.requestVideoFrameCallback(() => mark('presented (asked when shown)')); }
      }
    }
  }).observe(document, { attributes: true, attributeFilter: ['data-playing'], subtree: true });
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try {
      const type = JSON.parse(String(data)).type;
      if (type) { mark('sent ' + type); }
    } catch {}
    return send.call(this, data);
  };
  const NativeSocket = window.WebSocket;
  window.WebSocket = class extends NativeSocket {
    constructor(...args) {
      super(...args);
      mark('socket opening');
      this.addEventListener('open', () => mark('socket open'));
      this.addEventListener('message', (event) => {
        try {
          const type = JSON.parse(String(event.data)).type;
          if (type) { mark('received ' + type); }
        } catch {}
      });
    }
  };
})();"""
"""Records, on the page's wall clock, the steps of the WebRTC exchange in ``window.__marks``."""

TAP = """(() => {
  window.__taps = 0;
  const tap = () => {
    const button = document.getElementById('start');
    const marks = window.__marks || [];
    if (marks.some(([name]) => name === 'camera asked')) {
      return;
    }
    if (button && button.offsetParent !== null) {
      window.__visibleAt = window.__visibleAt || Date.now();
      window.__clickedAt = Date.now();
      window.__taps += 1;
      button.click();
      setTimeout(tap, 20);
    } else {
      requestAnimationFrame(tap);
    }
  };
  requestAnimationFrame(tap);
})();"""
"""Taps "Activer la caméra" as soon as it is visible, and again every 20 ms until the page asks
for the camera: the button is in the HTML before the page's script listens to it, and a tap
before that is lost (counted). ``__clickedAt`` is the tap that took effect."""

CONSOLE_STEPS = (
    "received video.offer",
    "remote description set",
    "ice complete",
    "sent video.answer",
    "pc connected",
    "track",
    "first packet in",
    "pli sent 1",
    "pli sent 2",
    "pli sent 3",
    "first keyframe decoded",
    "first frame decoded",
    "video loadeddata",
    "video shown",
    "second frame decoded",
    "video playing",
    "presented (asked when shown)",
)
PATIENT_STEPS = (
    "camera granted",
    "socket open",
    "received welcome",
    "local description set",
    "ice complete",
    "sent offer",
    "received answer",
    "pc connected",
    "first frame encoded",
    "keyframe encoded 1",
    "second frame encoded",
    "pli received 1",
    "keyframe encoded 2",
    "pli received 2",
    "keyframe encoded 3",
    "pli received 3",
    "keyframe encoded 4",
)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def last_marks(marks: list[list[Any]], since: float) -> dict[str, float]:
    """The latest time of each step at or after ``since``."""
    steps: dict[str, float] = {}
    for name, at in marks:
        if at >= since:
            steps[str(name)] = float(at)
    return steps


def steps_line(label: str, steps: dict[str, float], names: Sequence[str], origin: float) -> str:
    """The steps that happened, in ms from ``origin``."""
    parts = [f"{name} {steps[name] - origin:.0f}" for name in names if name in steps]
    return f"    {label}: " + ", ".join(parts)


async def one_run(
    browser: BrowserContext,  # noqa: F811
    phone: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,  # noqa: F811
) -> tuple[float, float, list[str]]:
    """A fresh session and patient page: the two delays (ms) and the steps of the run."""
    await asyncio.to_thread(tmp_path.mkdir, parents=True, exist_ok=True)
    client = await start_service(aiohttp_client, service_settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    page = console.page
    await page.add_init_script(MARKS)
    await page.reload()
    await expect(page.locator("#position-label")).to_be_visible()
    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    await expect(page.locator("#stage .room [data-field=video-title]")).to_have_text(
        "En attente de la vidéo du patient…"
    )
    link = await patient_link(page, console.base)
    first_frame = asyncio.create_task(feed(page).evaluate(FIRST_FRAME_AT))

    patient = await phone.new_page()
    problems: list[str] = []
    watch(patient, problems)
    await patient.add_init_script(MARKS)
    await patient.set_viewport_size({"width": 390, "height": 844})
    await patient.add_init_script(TAP)
    await patient.goto(link)
    shown_at = float(await asyncio.wait_for(first_frame, 20))
    started_at = float(await patient.evaluate("performance.timeOrigin"))
    clicked_at = float(await patient.evaluate("window.__clickedAt"))
    visible_at = float(await patient.evaluate("window.__visibleAt"))
    taps = int(await patient.evaluate("window.__taps"))
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
    patient_steps = last_marks(await patient.evaluate("window.__marks"), started_at)
    console_steps = last_marks(await page.evaluate("window.__marks"), 0.0)
    lines = [
        f"    page start 0, button visible {visible_at - started_at:.0f}, "
        f"click {clicked_at - started_at:.0f} ({taps - 1} earlier taps lost), "
        f"first frame {shown_at - started_at:.0f} (ms from the patient page's start)",
        steps_line("patient", patient_steps, PATIENT_STEPS, started_at),
        steps_line("console", console_steps, CONSOLE_STEPS, started_at),
    ]
    assert not problems, problems
    await patient.close()
    await page.close()
    return shown_at - started_at, shown_at - clicked_at, lines


async def test_first_frame_from_the_patient_link(
    browser: BrowserContext,  # noqa: F811
    second_browser: BrowserContext,  # noqa: F811
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,  # noqa: F811
) -> None:
    from_start: list[float] = []
    from_click: list[float] = []
    print(f"\nfirst frame in the console, {RUNS} runs (fresh session and patient page each)")
    for run in range(RUNS):
        start_ms, click_ms, lines = await one_run(
            browser, second_browser, aiohttp_client, tmp_path / f"run-{run}", artifacts
        )
        from_start.append(start_ms)
        from_click.append(click_ms)
        print(
            f"  run {run + 1}: from the page's start {start_ms:.0f} ms,"
            f" from the tap {click_ms:.0f} ms"
        )
        print("\n".join(lines))
    for label, values in (("page start", from_start), ("click", from_click)):
        print(
            f"from the {label} to the first frame: p50 {percentile(values, 0.5):.0f} ms, "
            f"p90 {percentile(values, 0.9):.0f} ms, max {max(values):.0f} ms"
        )
    p50 = percentile(from_start, 0.5)
    verdict = "met" if p50 < TARGET_P50_MS else "missed"
    print(f"target: p50 from the page's start under {TARGET_P50_MS:.0f} ms ({verdict})")
    assert len(from_start) == RUNS
