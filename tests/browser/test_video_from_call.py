"""From a real 15 call to the patient's video in the regulator's console, in real Chromium.

A caller dials 15 from a mobile in the sandbox Asterisk; the regulator's phone (position 1001)
answers. The console offers to invite the caller: "Lancer l'invitation" opens the room, paired
with the call. The patient, on a phone-sized page of another Chromium with a fake camera, opens
the link from the outbox and taps "Activer la caméra": the console shows the video.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from tests.integration.service import CAD_KEY, service_settings, wait_link_up
from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone

from .pages import COUNT_FRAMES, feed, log_in, patient_link, start_service, watch
from .pages import loopback_ice as loopback_ice  # the fixture, used by name below

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.timeout(150),
    pytest.mark.usefixtures("loopback_ice"),
]

CALLER = "+33612345678"


async def test_given_a_15_call_then_the_invitation_brings_the_patient_video_to_the_room(
    browser: BrowserContext,
    second_browser: BrowserContext,
    sandbox: SandboxAsterisk,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    client = await start_service(
        aiohttp_client, service_settings(sandbox, "ami", tmp_path), tmp_path
    )
    await wait_link_up(client)
    console = await log_in(browser, client, artifacts)
    page = console.page
    await expect(page.locator("#telephony-pill")).to_contain_text("connectée")

    # The call lasts longer than the whole scene; it is hung up at the end.
    phone = await start_phone(sandbox, "1001")
    call = await place_call(sandbox, CALLER, "151001", duration_ms=60000)
    try:
        card = page.locator("#stage .call-card")
        await expect(card.locator("[data-field=number]")).to_have_text(
            "06 12 34 56 78", timeout=10000
        )
        await expect(card.locator(".invite-input")).to_have_value("06 12 34 56 78")
        calls = await client.get("/api/v1/calls", headers={"Authorization": f"Bearer {CAD_KEY}"})
        live: Any = await calls.json()
        call_ids = [c["call_id"] for c in live["calls"] if c["caller"]["e164"] == CALLER]
        assert len(call_ids) == 1, live
        call_id = call_ids[0]

        # "Lancer l'invitation": the room opens, paired with the call, waiting for the video.
        await card.get_by_role("button", name="Lancer l'invitation").click()
        room = page.locator("#stage .room")
        await expect(page).to_have_url(re.compile(r"#/session/[0-9a-f]{32}$"))
        session_id = page.url.rsplit("/", 1)[-1]
        await expect(room.locator("[data-field=call]")).to_contain_text(
            "Appel associé : 06 12 34 56 78, ligne 15"
        )
        await expect(room.locator("[data-field=video-title]")).to_have_text(
            "En attente de la vidéo du patient…"
        )
        link = await patient_link(page, console.base)

        # The patient's phone, another browser: the link, then "Activer la caméra".
        patient = await second_browser.new_page()
        problems: list[str] = []
        watch(patient, problems)
        await patient.set_viewport_size({"width": 390, "height": 844})
        await patient.goto(link)
        await patient.get_by_role("button", name="Activer la caméra").click()
        await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")

        video_area = room.locator("[data-field=video]")
        await expect(video_area).to_have_attribute("data-playing", "true", timeout=20000)
        assert await asyncio.wait_for(feed(page).evaluate(COUNT_FRAMES, 10), 20) >= 10
        size = await feed(page).evaluate("(v) => [v.videoWidth, v.videoHeight]")
        assert size[0] > 0 and size[1] > 0
        timeline = page.locator("#room-side .timeline")
        await expect(timeline).to_contain_text("Visio associée à l'appel")
        await expect(timeline).to_contain_text("Caméra autorisée par le patient")
        await expect(timeline).to_contain_text("Vidéo du patient reçue")

        response = await page.request.get(f"{console.base}/console/api/sessions/{session_id}")
        session: Any = await response.json()
        assert session["call_id"] == call_id

        await console.shot("video-from-call-room")
        await console.shot("video-from-call-patient", patient)
        assert call.returncode is None, "the call is still up during the video"
        assert not problems, problems
        assert not console.unexpected_problems(), console.problems
    finally:
        # Hang the call up in Asterisk (both sipp end on the BYE), then make sure they stopped.
        await sandbox.cli("channel request hangup all")
        for sipp in (call, phone):
            with contextlib.suppress(TimeoutError):
                await sipp.wait(10)
            await sipp.stop()
