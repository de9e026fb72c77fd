"""Scenarios through the emulated network: a real 15 call, the invitation, the patient's phone on
a shaped link, the patient's video decoded on the console.

One test per profile; a profile is one more parameter.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.bench.detail_clip import write_detail_clip
from tests.browser.pages import COUNT_FRAMES, feed

from .lab import PHONE_ADDRESS_AFTER_HANDOVER
from .profiles import DIP_BPS
from .scenario import Scene, session_events, wait_for_events

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(180)]


PATHS = {
    "4g": {"direct"},
    "4g-congested": {"direct"},
    "3g": {"direct"},
    "lossy": {"direct"},
    # Only TCP 443 passes: coturn's TLS beside the web front.
    "udp-blocked": {"turn-tls"},
    # No inbound UDP but from coturn: a relay, whichever transport the page reaches it by.
    "symmetric-nat": {"turn-udp", "turn-tcp", "turn-tls"},
}
"""The paths each profile's video may take."""


@pytest.mark.parametrize("profile", list(PATHS))
async def test_given_a_15_call_on_a_profile_then_the_console_shows_the_patient_video(
    field_scene: Scene, profile: str
) -> None:
    outcome = await field_scene.video_from_call(profile, shots=True)
    assert outcome.established
    assert outcome.path in PATHS[profile], outcome
    assert outcome.link_to_first_frame_ms is not None and outcome.link_to_first_frame_ms > 0
    # The phone's only way out is the shaped link: the video crossed it (ten frames at least).
    assert outcome.uplink_bytes > 20_000, outcome
    assert not field_scene.problems, field_scene.problems


async def test_given_the_phone_changes_network_mid_session_then_the_video_comes_back(
    field_scene: Scene,
) -> None:
    """Wi-Fi to 4G in the middle of a session: the phone's address changes, its connection is
    dead; the page builds a new one, and the console shows frames again."""
    lab = field_scene.lab
    back: dict[str, object] = {}

    async def handover(console: Page, patient: Page) -> None:
        stalls_before = len(await session_events(console, "video.resumed"))
        moved_to = await asyncio.to_thread(lab.handover)
        # The service saw the picture stop, then frames again from the page's new connection.
        resumed = await wait_for_events(console, "video.resumed", stalls_before + 1, timeout=30)
        back["resumed"] = resumed[-1]
        await asyncio.wait_for(feed(console).evaluate(COUNT_FRAMES, 10), 30)
        back["address"] = moved_to
        await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")

    outcome = await field_scene.video_from_call("handover", shots=True, then=handover)
    assert outcome.established
    assert back["address"] == PHONE_ADDRESS_AFTER_HANDOVER
    assert back["resumed"], back
    assert not field_scene.problems, field_scene.problems


async def test_given_an_edge_network_then_the_regulator_gets_video_or_the_phone_photos(
    field_scene: Scene,
) -> None:
    """EDGE (200/100 kbit/s, 600 ms): the regulator sees the scene, live or in photos."""
    outcome = await field_scene.video_from_call("edge", timeout=90, photos=True, shots=True)
    assert outcome.established or outcome.photos, outcome
    assert not field_scene.problems, field_scene.problems


async def test_given_a_dip_then_photos_meanwhile_and_the_video_back_once_the_link_is(
    field_scene: Scene, tmp_path: Path
) -> None:
    """The uplink falls to 16 kbit/s: the page gives way to photos. Once the link has its rate
    back, the page sees it from the relay's quick answer while a photo is still going out, and
    tries video at once, without waiting for its next planned trial."""
    lab = field_scene.lab
    seen: dict[str, object] = {}
    # A scene with detail: photos of a real size (a flat pattern's are a few kilobytes, and
    # cross even a dip's link in no time).
    field_scene.camera_clip = await asyncio.to_thread(write_detail_clip, tmp_path / "scene.y4m")

    async def dip(console: Page, patient: Page) -> None:
        modes = len(await session_events(console, "video.photo_mode"))
        ended = len(await session_events(console, "video.photo_mode_ended"))
        await asyncio.to_thread(lab.uplink, DIP_BPS)
        entered = await wait_for_events(console, "video.photo_mode", modes + 1, timeout=40)
        seen["reason"] = entered[-1]["details"].get("reason")
        await asyncio.to_thread(lab.uplink, None)
        await wait_for_events(console, "video.photo_mode_ended", ended + 1, timeout=40)
        await asyncio.wait_for(feed(console).evaluate(COUNT_FRAMES, 10), 30)
        seen["marks"] = await patient.evaluate(
            "() => performance.getEntriesByType('mark').map((mark) => mark.name)"
        )

    try:
        outcome = await field_scene.video_from_call("dip", then=dip)
    finally:
        field_scene.camera_clip = None
    assert outcome.established
    assert seen["reason"] == "weak_link", seen
    # The trial that brought the video back came from the link's reading, not from the clock.
    assert "visioregul:link-back" in seen["marks"], seen  # type: ignore[operator]
    assert not field_scene.problems, field_scene.problems
