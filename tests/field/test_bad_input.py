"""Bad input through the lab: the link cut in the middle of a session, and a 4K camera.

The cut: what the patient's page, the room and the timeline say while nothing passes, and the
video back by itself once the link returns, the session intact (the regulator's message and
document sent meanwhile reach the phone). The 4K camera: the page sends no more than 720p
through a mobile link, and the video arrives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.bench.detail_clip import write_detail_clip
from tests.browser.pages import COUNT_FRAMES, feed

from .scenario import SESSION, Scene, session_events, wait_for_events

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(300)]

NBSP = "\u00a0"
CUT_SECONDS = 30.0
MESSAGE = "Restez près du patient, les secours arrivent"
DOCUMENT = "consignes.pdf"


async def timeline(console: Page) -> list[dict[str, Any]]:
    """Every event of the session the console's room shows."""
    session_id = console.url.rsplit("/", 1)[-1]
    body = await console.evaluate(SESSION, session_id)
    return list(body.get("timeline", []))


async def video_back(console: Page) -> int:
    """How many times the service saw the patient's frames come back or start."""
    return sum(1 for e in await timeline(console) if e["type"] in ("video.resumed", "video.live"))


async def test_given_a_30_s_cut_mid_session_then_both_sides_say_it_and_the_video_comes_back(
    field_scene: Scene, tmp_path: Path
) -> None:
    lab = field_scene.lab
    artifacts = field_scene.artifacts
    checked: dict[str, Any] = {}

    async def cut(console: Page, patient: Page) -> None:
        room = console.locator("#stage .room")
        video = room.locator("[data-field=video]")
        documents = room.locator("[data-field=documents]")
        before = await timeline(console)
        stalled = len(await session_events(console, "video.stalled"))
        back = await video_back(console)
        reconnecting = len(await session_events(console, "video.reconnecting"))
        pdf = tmp_path / DOCUMENT
        pdf.write_bytes(await console.pdf())

        await asyncio.to_thread(lab.cut, CUT_SECONDS)
        # While nothing passes: the service sees the picture stop, the room says it over the
        # last picture, the timeline logs it; the page, cut from the service, says it retries.
        await wait_for_events(console, "video.stalled", stalled + 1, timeout=CUT_SECONDS)
        await expect(video).to_have_attribute("data-notice", "frozen")
        await expect(room.locator("[data-field=video-notice]")).to_have_text(
            f"Image figée{NBSP}: le réseau du patient est trop faible"
        )
        await expect(console.locator("#room-side .timeline")).to_contain_text(
            "Image du patient figée"
        )
        await expect(patient.locator("#status")).to_have_text(
            "Connexion perdue, nouvelle tentative…"
        )
        # The regulator writes and sends a document meanwhile: they must reach the phone.
        panel = console.locator("#room-side .text-panel")
        await panel.locator("textarea").fill(MESSAGE)
        await panel.get_by_role("button", name="Envoyer").click()
        await documents.locator("[data-field=document-input]").set_input_files(str(pdf))
        await expect(documents.locator(".document[data-direction=to_patient]")).to_have_count(1)
        await console.screenshot(path=artifacts / "field-cut-console-during.png")
        await patient.screenshot(path=artifacts / "field-cut-patient-during.png")

        # The link is back: the page reconnects by itself (a new socket, a new connection,
        # told to the service), frames again, seen on both sides.
        # The service sees frames again: on the old connection (``video.resumed``) if it lived
        # through the cut, else on the page's new one (``video.live`` after ``video.lost``).
        deadline = asyncio.get_running_loop().time() + 3 * CUT_SECONDS
        while await video_back(console) <= back:
            assert asyncio.get_running_loop().time() < deadline, await timeline(console)
            await asyncio.sleep(0.2)
        await wait_for_events(
            console, "video.reconnecting", reconnecting + 1, timeout=3 * CUT_SECONDS
        )
        # The page's current connection is up (not the old one that came back for a while).
        await expect(patient.locator("#app")).to_have_attribute(
            "data-connection", "connected", timeout=CUT_SECONDS * 1000
        )
        await expect(patient.locator("#status")).to_have_text(
            "Le régulateur vous voit", timeout=CUT_SECONDS * 1000
        )
        await expect(video).to_have_attribute("data-notice", "", timeout=CUT_SECONDS * 1000)
        await asyncio.wait_for(feed(console).evaluate(COUNT_FRAMES, 30), 3 * CUT_SECONDS)
        # The page's new socket tells its camera again: the room's controls are not « page du
        # patient fermée » any more.
        await expect(console.locator("[data-remote=switch_camera]")).not_to_have_attribute(
            "title", "page du patient fermée"
        )
        await expect(patient.locator("#text-shown-body")).to_have_text(MESSAGE)
        received = patient.locator("#documents .received-item[data-direction=to_patient]")
        await expect(received.locator(".received-name")).to_have_text([DOCUMENT])
        await console.screenshot(path=artifacts / "field-cut-console-after.png")
        await patient.screenshot(path=artifacts / "field-cut-patient-after.png")
        checked["before"] = before
        checked["after"] = await timeline(console)
        checked["reconnecting"] = await session_events(console, "video.reconnecting")
        checked["reconnecting_before"] = reconnecting
        checked["session_url"] = console.url

    outcome = await field_scene.video_from_call("4g", then=cut)
    assert outcome.established, outcome
    # Nothing of the session was lost: every event logged before the cut is still there.
    after_ids = {event.get("id") or repr(event) for event in checked["after"]}
    lost = [e for e in checked["before"] if (e.get("id") or repr(e)) not in after_ids]
    assert not lost, lost
    # The page told the service why it built a new connection.
    assert len(checked["reconnecting"]) > checked["reconnecting_before"], checked["reconnecting"]
    assert not field_scene.problems, field_scene.problems


CAMERA_SIZE = """(video) => {
  const settings = video.srcObject.getVideoTracks()[0].getSettings();
  return [settings.width, settings.height];
}"""
"""The size the phone's camera track gives the page."""


async def test_given_a_4k_camera_then_the_page_sends_720p_at_most_and_the_video_arrives(
    field_scene: Scene, tmp_path: Path
) -> None:
    """A phone whose camera gives 3840x2160: the page asks for 720p and scales anything larger
    down before the encoder, so the mobile link carries 720p at most; the relay and the console
    decode it."""
    clip = await asyncio.to_thread(
        write_detail_clip,
        tmp_path / "camera-4k.y4m",
        width=3840,
        height=2160,
        fps=15,
        frames=3,
        grain=8,
    )
    field_scene.camera_clip = clip
    seen: dict[str, Any] = {}

    async def sizes(console: Page, patient: Page) -> None:
        seen["camera"] = await patient.locator("#preview").evaluate(CAMERA_SIZE)
        seen["console"] = await feed(console).evaluate("(v) => [v.videoWidth, v.videoHeight]")

    try:
        outcome = await field_scene.video_from_call("4g", watch_seconds=5, then=sizes)
    finally:
        clip.unlink(missing_ok=True)
    assert outcome.established, outcome
    assert outcome.quality is not None and outcome.quality.frames > 0, outcome
    # What the console decoded, and what the console saw through the watch: 720p at most.
    assert outcome.quality.height_max <= 720, outcome.quality
    width, height = seen["console"]
    assert 0 < height <= 720 and 0 < width <= 1280, seen
    camera_width, camera_height = seen["camera"]
    assert 0 < camera_height <= 720 and 0 < camera_width <= 1280, seen
    assert not field_scene.problems, field_scene.problems
