"""The picture's return after a dip: a real Chromium publishing to the relay over a shaped link.

The phone's Chromium runs in a network namespace of its own, the relay (a
:class:`~visioregul.media.Room` in this process) in another, joined by a veth pair whose uplink
``tc`` shapes live (the ramp-up benchmark's lab, :mod:`tests.bench.test_ramp_up`, under names of
this test's own). The page publishes with the patient page's ``camera.js``, ``publisher.js`` and
``linkadapt.js``. The uplink falls to 16 kbit/s until the page sees the dip, then comes back:

- whole: the page makes Chromium probe the link (the service's answer applied again with a
  bitrate ceiling raised), and a probe finds the link again;
- still weak: the probes fail, and the video goes on reaching the relay meanwhile.

Every step is waited for as an event of the page (its ``onRebound`` hook) or of the relay; no
timing is asserted. Needs root.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from playwright.async_api import Page, async_playwright

from tests.bench import test_ramp_up as lab
from tests.bench.detail_clip import write_detail_clip
from visioregul.media import Room

pytestmark = [pytest.mark.timeout(300)]

GOOD_KBPS, DIP_KBPS = 2500, 16
WEAK_KBPS = 48
"""A link back from the dip but still weak: under what a probe from its estimate must find."""


async def until(check: Callable[[], Awaitable[Any]], what: str, bound: float) -> Any:
    """Poll ``check()`` until it returns something true; fail after ``bound`` seconds."""

    try:
        async with asyncio.timeout(bound):
            while True:
                if value := await check():
                    return value
                await asyncio.sleep(0.25)
    except TimeoutError:
        pytest.fail(f"never: {what}")


async def actions(page: Page) -> list[dict[str, Any]]:
    """The page's rebound actions so far (not consumed)."""
    return list(await page.evaluate("window.rebounds.map((a) => ({ ...a }))"))


def first_of(page: Page, kind: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    """A check for :func:`until`: the page's first rebound action of ``kind``, or None."""

    async def check() -> dict[str, Any] | None:
        return next((a for a in await actions(page) if a["kind"] == kind), None)

    return check


@dataclass
class Phone:
    """The phone's page publishing to the room, and the frames the relay received so far."""

    page: Page
    frames: list[tuple[float, int, bool]]
    """(loop time, bytes, keyframe) of each frame the relay passed on, as it goes."""


@asynccontextmanager
async def phone_on_shaped_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Phone]:
    """The phone's page publishing over a good link, in namespaces of this test's own."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (network namespaces and tc)")
    if not await asyncio.to_thread(Path(lab.CHROMIUM).exists):
        pytest.fail(f"{lab.CHROMIUM} is missing: run tests/services/chromium.sh")
    prefix = f"vrrb{random.randint(0, 99_999)}"
    for name, value in (
        ("SERVICE_NS", f"{prefix}-svc"),
        ("PHONE_NS", f"{prefix}-phone"),
        ("SERVICE_IF", f"{prefix}-s0"),
        ("PHONE_IF", f"{prefix}-p0"),
    ):
        monkeypatch.setattr(lab, name, value)
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda **_: [lab.SERVICE_ADDR])
    clip = await asyncio.to_thread(write_detail_clip, tmp_path / "detail.y4m")
    rooms: list[Room] = []
    first_frame = asyncio.Event()

    def on_event(kind: str, _: object) -> None:
        if kind == "first_frame":
            first_frame.set()

    with lab.network_lab(tmp_path) as wrapper:
        async with lab.service(rooms), async_playwright() as playwright:
            room = Room("rebound", ice_servers=[], on_event=on_event)
            rooms.append(room)
            phone = await lab.launch_phone(playwright, wrapper, clip, tmp_path / "profile")
            viewer = lab.Viewer()
            try:
                lab.set_uplink(GOOD_KBPS)
                page = await phone.new_page()
                await page.goto(f"http://{lab.SERVICE_ADDR}:{lab.PORT}/")
                await page.wait_for_function("window.ready === true")
                await page.evaluate("window.start()")
                viewer.join(room)
                await asyncio.wait_for(first_frame.wait(), 30)
                # A good link first: the page's reference for what a dip falls from.
                await until(
                    lambda: page.evaluate("(window.__adapter?.rebound.peakKbps ?? 0) >= 1000"),
                    "an estimate of 1 Mbit/s or more on the good link",
                    30,
                )
                yield Phone(page, viewer.log.frames)
            finally:
                await phone.close()
                await viewer.close()
                await room.close()
                lab.set_uplink(None)


async def dip(phone: Phone) -> None:
    """The uplink down to 16 kbit/s until the page sees the dip; nothing tried meanwhile."""
    lab.set_uplink(DIP_KBPS)
    await until(
        lambda: phone.page.evaluate("window.__adapter.rebound.phase === 'dipped'"),
        "the page seeing the dip",
        40,
    )
    assert await actions(phone.page) == [], "nothing is tried while the link is down"


async def test_given_a_dip_then_the_link_back_then_the_page_makes_chromium_probe_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with phone_on_shaped_link(tmp_path, monkeypatch) as phone:
        page = phone.page
        await dip(phone)
        lab.set_uplink(GOOD_KBPS)

        result = await until(first_of(page, "recovered"), "a probe finding the link back", 60)
        done = await actions(page)
        kinds = [a["kind"] for a in done]
        # Probes (the first ones may fail while the browser remembers the dip's losses), then
        # one that finds the link: its estimate well above the probe's start.
        assert kinds[0] == "probe", kinds
        before = done[: kinds.index("recovered")]
        last_probe = [a for a in before if a["kind"] == "probe"][-1]
        assert result["kbps"] >= 1.5 * last_probe["kbps"], done
        # The picture follows: the best step again, while the link stays good.
        await until(
            lambda: page.evaluate("window.__adapter.state.step === 0"), "the best step again", 30
        )


async def test_given_a_dip_then_a_link_still_weak_then_probes_fail_and_the_video_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with phone_on_shaped_link(tmp_path, monkeypatch) as phone:
        page = phone.page
        await dip(phone)
        lab.set_uplink(WEAK_KBPS)

        first = await until(first_of(page, "failed"), "a probe failing on the weak link", 60)
        assert first["retryInMs"] > 0
        # The video goes on: frames keep reaching the relay after the failed probe.
        seen = len(phone.frames)

        async def more_frames() -> bool:
            return len(phone.frames) >= seen + 10

        await until(more_frames, "frames after the failed probe", 30)
        done = await actions(page)
        assert "recovered" not in [a["kind"] for a in done], done
