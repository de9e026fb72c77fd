"""Screenshots in real Chromium: the patient's fake camera publishes, the regulator clicks
"Capture d'écran", the still appears in the room's gallery and downloads as a JPEG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from .pages import camera_on, feed, invite_by_sms, loopback_ice, open_link  # noqa: F401

pytestmark = [pytest.mark.timeout(120)]


async def test_given_the_patients_video_when_the_regulator_takes_screenshots_then_the_gallery(
    browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page
    room = page.locator("#stage .room")
    stills = room.locator("[data-field=stills]")
    take = stills.get_by_role("button", name="Capture d'écran")

    # No video yet: a clear refusal, nothing in the gallery.
    await expect(stills.locator("[data-field=still-empty]")).to_have_text(
        "Aucune capture pour l'instant."
    )
    await take.click()
    await expect(stills.locator("[data-field=still-status]")).to_have_text(
        "Capture impossible\u00a0: la vidéo du patient ne passe pas en ce moment. "
        "Réessayez quand son image s'affiche."
    )

    # The patient turns the camera on; the regulator sees the scene and takes two stills.
    patient = await open_link(browser, link)
    await camera_on(patient)
    await expect(room.locator("[data-field=video]")).to_have_attribute("data-playing", "true")
    for count in (1, 2):
        await take.click()
        await expect(stills.locator(".still")).to_have_count(count)
        await expect(stills.locator("[data-field=still-status]")).to_contain_text(
            "Capture enregistrée à"
        )

    # Newest first, each thumbnail loaded from the service and captioned.
    captions = await stills.locator(".still-caption").all_text_contents()
    assert [caption.split(" — ")[0] for caption in captions] == ["N°\u00a02", "N°\u00a01"]
    thumbnail = stills.locator(".still-image").first
    await expect(thumbnail).to_have_js_property("complete", True)
    width = await thumbnail.evaluate("(image) => image.naturalWidth")
    height = await thumbnail.evaluate("(image) => image.naturalHeight")
    video_size = await feed(page).evaluate("(video) => [video.videoWidth, video.videoHeight]")
    assert [width, height] == video_size, "the still is the size of the patient's video"
    await expect(page.locator(".timeline-item[data-type='still.taken']")).to_have_count(2)
    await console.shot("stills-gallery")

    # The visio ends: no more screenshots, the gallery stays for the record.
    await room.locator("[data-field=end]").click()
    await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
    await expect(room.locator("[data-field=state]")).to_have_text("Terminée")
    await expect(take).to_be_hidden()
    await expect(stills.locator(".still")).to_have_count(2)

    # The download link gives the JPEG under its dated name.
    async with page.expect_download() as download_info:
        await stills.locator(".still-download").first.click()
    download = await download_info.value
    assert download.suggested_filename.startswith("visio-")
    assert download.suggested_filename.endswith("-2.jpg")
    saved = artifacts / download.suggested_filename
    await download.save_as(saved)
    assert saved.read_bytes()[:2] == b"\xff\xd8"

    await patient.close()
    assert console.unexpected_problems(409) == []
