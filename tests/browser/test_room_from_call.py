"""The room acting on a visio opened from a real 15 call, in real Chromium.

A caller dials 15 from a mobile in the sandbox Asterisk and the regulator's phone answers; the
console invites the caller from the call card. On the patient's video the regulator then does
what a regulator does during such a call: invites a relative with their own camera (seen as a
thumbnail), takes a screenshot, shows a ready-made instruction, locates the phone (the geocoder
off: the coordinates stay in the centre), sends a first-aid sheet, and ends the visio for
everyone while the call goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Geolocation, Playwright, expect

from tests.integration.service import service_settings, wait_link_up
from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from visioregul.integration.settings import GeocodingSettings

from .conftest import launch
from .pages import COUNT_FRAMES, camera_on, log_in, open_link, patient_link, start_service
from .pages import loopback_ice as loopback_ice  # the fixture, used by name below
from .test_third_party_video import invite_third_party

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.timeout(240),
    pytest.mark.usefixtures("loopback_ice"),
]

CALLER = "+33612345678"
PLACE: Geolocation = {"latitude": 48.856613, "longitude": 2.352222, "accuracy": 20}
# The smallest file every PDF reader opens: what the type check reads is its header.
SHEET = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


async def test_given_a_15_call_then_the_regulator_acts_on_the_scene_and_ends_for_everyone(
    browser: BrowserContext,
    second_browser: BrowserContext,
    playwright_driver: Playwright,
    chromium: str,
    sandbox: SandboxAsterisk,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    settings = service_settings(sandbox, "ami", tmp_path).model_copy(
        update={"geocoding": GeocodingSettings(enabled=False)}
    )
    client = await start_service(aiohttp_client, settings, tmp_path)
    await wait_link_up(client)
    console = await log_in(browser, client, artifacts)
    page = console.page
    await expect(page.locator("#telephony-pill")).to_contain_text("connectée")

    phone = await start_phone(sandbox, "1001")
    call = await place_call(sandbox, CALLER, "151001", duration_ms=120000)
    caller_phone = await launch(playwright_driver, chromium, tmp_path / "caller-phone")
    try:
        await caller_phone.grant_permissions(["geolocation"])
        await caller_phone.set_geolocation(PLACE)
        card = page.locator("#stage .call-card")
        await expect(card.locator(".invite-input")).to_have_value("06 12 34 56 78", timeout=10000)
        await card.get_by_role("button", name="Lancer l'invitation").click()
        room = page.locator("#stage .room")
        await expect(room.locator("[data-field=call]")).to_contain_text(
            "Appel associé : 06 12 34 56 78, ligne 15"
        )
        patient = await open_link(caller_phone, await patient_link(page, console.base))
        await camera_on(patient)
        video = room.locator("[data-field=video]")
        await expect(video).to_have_attribute("data-playing", "true", timeout=20000)

        # A relative next door joins with their own camera: a named thumbnail in the room.
        third = await open_link(
            second_browser, await invite_third_party(console, sees_patient=False)
        )
        await camera_on(third)
        await page.bring_to_front()
        thumb = room.locator("[data-field=thumbs] .room-thumb")
        await expect(thumb).to_have_attribute("data-playing", "true", timeout=20000)
        assert await asyncio.wait_for(thumb.locator("video").evaluate(COUNT_FRAMES, 5), 20) >= 5
        await expect(room.locator("[data-field=video-name]")).to_have_text("Patient")

        # A screenshot of the patient's picture, kept in the gallery.
        stills = room.locator("[data-field=stills]")
        await stills.get_by_role("button", name="Capture d'écran").click()
        await expect(stills.locator(".still")).to_have_count(1)

        # A ready-made instruction, shown large on the patient's page only.
        texts = page.locator("#room-side .text-panel")
        await texts.get_by_role("button", name="Approchez-vous").click()
        await expect(patient.locator("#text-shown-body")).to_have_text("Approchez-vous")
        await expect(third.locator("#text-shown-body")).to_be_hidden()

        # Where is the phone: the coordinates and the map links, no address (geocoder off).
        location = room.locator("[data-field=location]")
        await location.get_by_role("button", name="Localiser").click()
        await expect(location.locator("[data-location=address]")).to_have_text(
            "Adresse non disponible (coordonnées seules)"
        )
        await expect(location.locator("[data-location=coordinates]")).to_have_text(
            "48.85661, 2.35222 — précision 20 m"
        )
        await expect(location.get_by_role("link", name="OpenStreetMap")).to_have_attribute(
            "href",
            "https://www.openstreetmap.org/?mlat=48.856613&mlon=2.352222#map=18/48.856613/2.352222",
        )

        # A first-aid sheet for the patient, listed on their page to open or save.
        sheet = tmp_path / "Fiche gestes.pdf"
        sheet.write_bytes(SHEET)
        documents = room.locator("[data-field=documents]")
        await documents.locator("[data-field=document-input]").set_input_files(str(sheet))
        received = patient.locator(".received-item[data-direction=to_patient]")
        await expect(received.locator(".received-name")).to_have_text("Fiche gestes.pdf")

        timeline = page.locator("#room-side .timeline")
        for step in (
            "Visio associée à l'appel",
            "(tierce personne) a activé sa caméra",
            "Approchez-vous",
            "Document envoyé au patient",
        ):
            await expect(timeline).to_contain_text(step)
        await console.shot("room-from-call")
        await console.shot("room-from-call-patient", patient)

        # The visio ends for everyone; the voice call goes on.
        await room.locator("[data-field=end]").click()
        await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
        await expect(room.locator("[data-field=video-title]")).to_have_text("Visio terminée")
        await expect(patient.locator("h2", has_text="Vidéo terminée")).to_be_visible()
        await expect(third.locator("h2", has_text="Vidéo terminée")).to_be_visible()
        assert call.returncode is None, "the call is still up after the visio"
        assert not console.unexpected_problems(), console.problems
    finally:
        await caller_phone.close()
        await sandbox.cli("channel request hangup all")
        for sipp in (call, phone):
            with contextlib.suppress(TimeoutError):
                await sipp.wait(10)
            await sipp.stop()
