"""The regulator's screen on the patient's phone, end to end in real Chromium.

The regulator's console shares Chromium's fake screen (``getDisplayMedia`` under the fake media
flags): the patient's page shows it large, labelled, over its own camera's preview, with real
frames; it returns to normal when the regulator stops, and again when the browser's own "stop
sharing" ends the capture. No camera of the regulator's is ever asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from .pages import COUNT_FRAMES, camera_on, invite_by_sms, open_link

pytestmark = [pytest.mark.timeout(150)]

SCREEN_SIZE = """(video) => [video.videoWidth, video.videoHeight]"""
BROWSER_STOPS_SHARING = """() => {
  const track = document.querySelector('#stage .room [data-screen=preview]').srcObject
    .getVideoTracks()[0];
  track.stop();
  track.dispatchEvent(new Event('ended'));
}"""
"""What Chromium's own "Arrêter le partage" bar does: the capture track ends."""
CAMERA_POLICY_NOTE = "Permissions policy violation: camera is not allowed in this document."


async def screen_shown(patient: Page) -> None:
    """The patient's page shows the shared screen, labelled, with frames flowing."""
    share = patient.locator("#screen-share")
    await expect(share).to_be_visible()
    await expect(share.locator(".screen-share-label")).to_have_text(
        "Écran partagé par le régulateur"
    )
    await expect(patient.locator("#app")).to_have_attribute("data-screen", "on")
    feed = patient.locator("#screen-feed")
    assert await feed.evaluate(COUNT_FRAMES, 10) >= 10
    width, height = await feed.evaluate(SCREEN_SIZE)
    assert width > 0 and height > 0


async def screen_gone(patient: Page) -> None:
    """The patient's page is back to normal: its own camera, no shared screen."""
    await expect(patient.locator("#screen-share")).to_be_hidden()
    await expect(patient.locator("#app")).to_have_attribute("data-screen", "off")
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")


async def test_given_a_live_visio_when_the_regulator_shares_then_the_patient_sees_the_screen(
    browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page
    problems: list[str] = []
    patient = await open_link(browser, link, problems=problems)
    await camera_on(patient)
    room = page.locator("#stage .room")
    await expect(room.locator("[data-field=video]")).to_have_attribute("data-playing", "true")

    # The regulator shares: only a display capture is asked for, never a camera.
    await page.evaluate(
        """() => {
          window.askedForCamera = false;
          const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
          navigator.mediaDevices.getUserMedia = (constraints) => {
            window.askedForCamera = true;
            return original(constraints);
          };
        }"""
    )
    tools = room.locator("[data-field=tools]")
    share = tools.get_by_role("button", name="Partager l'écran")
    await share.click()
    await expect(tools.locator("[data-screen=status]")).to_have_text(
        "Le patient voit votre écran. Votre caméra n'est jamais envoyée."
    )
    await expect(tools).to_have_attribute("data-sharing", "true")
    await expect(tools.locator("[data-screen=preview-box]")).to_be_visible()
    await screen_shown(patient)
    assert await page.evaluate("window.askedForCamera") is False
    await expect(page.locator(".timeline-item[data-type='screen.started']")).to_contain_text(
        "partage son écran avec le patient"
    )
    await patient.bring_to_front()
    await console.shot("screen-share-patient", patient)
    # On a small phone too, the screen comes first and "Terminer" stays within reach.
    await patient.set_viewport_size({"width": 320, "height": 568})
    await expect(patient.locator("#screen-share")).to_be_in_viewport()
    await expect(patient.get_by_role("button", name="Terminer")).to_be_in_viewport(ratio=1)
    await console.shot("screen-share-patient-small", patient, full_page=False)
    await patient.set_viewport_size({"width": 390, "height": 844})
    await page.bring_to_front()
    await console.shot("screen-share-regulator")

    # "Arrêter le partage": the patient's page is as before.
    await tools.get_by_role("button", name="Arrêter le partage").click()
    await expect(tools.locator("[data-screen=status]")).to_have_text("Partage d'écran arrêté.")
    await expect(tools.locator("[data-screen=preview-box]")).to_be_hidden()
    await screen_gone(patient)
    await expect(page.locator(".timeline-item[data-type='screen.stopped']")).to_contain_text(
        "arrête le partage d'écran"
    )
    await console.shot("screen-share-stopped")

    # Again, then the browser's own "stop sharing" ends the capture: the share stops with it.
    await share.click()
    await screen_shown(patient)
    await page.evaluate(BROWSER_STOPS_SHARING)
    await expect(tools.get_by_role("button", name="Partager l'écran")).to_be_visible()
    await screen_gone(patient)
    await expect(page.locator(".timeline-item[data-type='screen.stopped']")).to_have_count(2)

    # Shared once more, then the regulator ends the visio: the share ends with it.
    await share.click()
    await screen_shown(patient)
    await room.locator("[data-field=end]").click()
    await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
    await expect(patient.get_by_role("heading", name="Vidéo terminée")).to_be_visible()
    await expect(patient.locator("#screen-share")).to_be_hidden()
    await expect(tools).to_be_hidden()
    assert (
        await page.evaluate(
            "() => document.querySelector('#stage .room [data-screen=preview]').srcObject"
        )
        is None
    )
    assert problems == []
    # Chromium logs this for each getDisplayMedia() under its fake capture UI, the camera
    # itself never asked (the spy above): the console's policy refuses the camera, as it must.
    assert [
        problem for problem in console.unexpected_problems() if problem != CAMERA_POLICY_NOTE
    ] == []
