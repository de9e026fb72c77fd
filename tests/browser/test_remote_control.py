"""The regulator's remote control of the caller's camera, end to end in real Chromium.

Chromium's fake camera has neither torch nor zoom: the patient's page gets a stand-in, loaded by
this test only, around the track's ``getCapabilities``/``getSettings``/``applyConstraints`` that
adds them and records the constraints the page really applied. The patient's Chromium lists two
fake cameras, so that switching cameras is offered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Playwright, expect

from .conftest import launch
from .pages import camera_on, log_in, open_link, patient_link, settings, start_service

pytestmark = [pytest.mark.timeout(120)]

CAPABILITY_STAND_IN = """(() => {
  const applied = [];
  window.appliedConstraints = applied;
  const own = new WeakMap();
  const proto = MediaStreamTrack.prototype;
  const capabilities = proto.getCapabilities;
  const settings = proto.getSettings;
  const apply = proto.applyConstraints;
  const current = (track) => own.get(track) || { torch: false, zoom: 1 };
  proto.getCapabilities = function () {
    const real = capabilities.call(this);
    const added = { torch: true, zoom: { min: 1, max: 5, step: 0.5 } };
    return this.kind === 'video' ? { ...real, ...added } : real;
  };
  proto.getSettings = function () {
    const real = settings.call(this);
    return this.kind === 'video' ? { ...real, ...current(this) } : real;
  };
  proto.applyConstraints = async function (constraints) {
    applied.push(JSON.parse(JSON.stringify(constraints || {})));
    const next = { ...current(this) };
    for (const step of (constraints && constraints.advanced) || []) {
      if ('torch' in step) { next.torch = step.torch; }
      if ('zoom' in step) { next.zoom = step.zoom; }
    }
    const rest = { ...(constraints || {}) };
    delete rest.advanced;
    await apply.call(this, rest);
    own.set(this, next);
  };
})();"""
"""Torch and zoom for Chromium's fake camera, recording what the page applies."""


async def test_given_a_live_video_when_the_regulator_lights_zooms_and_switches_then_the_phone_does(
    browser: Any,
    playwright_driver: Playwright,
    chromium: str,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    page = console.page
    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    link = await patient_link(page, console.base)
    room = page.locator("#stage .room")
    bar = room.locator("[data-field=remote]")
    await expect(bar).to_be_hidden()

    phone = await launch(playwright_driver, chromium, tmp_path / "phone", cameras=2)
    try:
        problems: list[str] = []
        patient = await open_link(phone, link, CAPABILITY_STAND_IN, problems=problems)
        cameras = await patient.evaluate(
            "async () => (await navigator.mediaDevices.enumerateDevices())"
            ".filter((d) => d.kind === 'videoinput').length"
        )
        assert cameras == 2
        await camera_on(patient)

        # The bar shows what this phone can do: everything, thanks to the stand-in.
        await expect(bar).to_be_visible()
        torch = bar.locator("[data-remote=torch]")
        switch = bar.locator("[data-remote=switch_camera]")
        zoom = bar.locator("[data-remote=zoom-input]")
        await expect(torch).to_be_enabled()
        await expect(switch).to_be_enabled()
        await expect(zoom).to_be_enabled()
        await expect(zoom).to_have_attribute("max", "5")
        await expect(torch).to_have_attribute("aria-pressed", "false")
        await console.shot("remote-room-bar")

        # Torch: the page applies the constraint, tells the patient, the regulator sees it lit.
        await torch.click()
        result = bar.locator("[data-remote=result]")
        await expect(result).to_have_text("Lampe allumée.")
        await expect(torch).to_have_attribute("aria-pressed", "true")
        notice = patient.locator("#remote-notice")
        await expect(notice).to_contain_text("Le régulateur a allumé la lampe.")
        applied = await patient.evaluate("window.appliedConstraints")
        assert {"advanced": [{"torch": True}]} in applied
        await expect(patient.locator("#torch")).to_have_attribute("aria-pressed", "true")
        await console.shot("remote-patient-notice", patient)
        await console.shot("remote-room-torch-on")

        # The patient undoes it: the torch goes off, and the regulator's bar follows.
        await notice.get_by_role("button", name="Annuler").click()
        await expect(torch).to_have_attribute("aria-pressed", "false")
        await expect(notice).to_be_hidden()
        assert (await patient.evaluate("window.appliedConstraints"))[-1] == {
            "advanced": [{"torch": False}]
        }

        # Zoom through the slider.
        await zoom.evaluate(
            "(input) => { input.value = '3'; input.dispatchEvent(new Event('change')); }"
        )
        await expect(result).to_have_text("Zoom réglé à ×3.")
        assert (await patient.evaluate("window.appliedConstraints"))[-1] == {
            "advanced": [{"zoom": 3}]
        }
        await expect(notice).to_contain_text("Le régulateur a changé le zoom.")

        # Switch camera: the page opens the other camera of the list, the video goes on.
        device_of = "() => document.querySelector('#preview').srcObject.getVideoTracks()[0]"
        device_of += ".getSettings().deviceId"
        before = await patient.evaluate(device_of)
        await switch.click()
        await expect(result).to_have_text("Caméra changée.")
        assert await patient.evaluate(device_of) != before
        await expect(notice).to_contain_text("Le régulateur a changé de caméra.")
        await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")

        await expect(page.locator("#room-side .timeline")).to_contain_text(
            "regulateur demande au téléphone\u00a0: allumer la lampe"
        )
        await console.shot("remote-room-timeline")
        # Every command and its result are in the session's timeline data.
        sessions: Any = await (
            await page.request.get(f"{console.base}/console/api/sessions")
        ).json()
        session_id = sessions["sessions"][0]["id"]
        detail: Any = await (
            await page.request.get(f"{console.base}/console/api/sessions/{session_id}")
        ).json()
        kinds = [event["type"] for event in detail["timeline"]]
        assert kinds.count("command.sent") == 3
        assert kinds.count("command.result") == 3
        assert problems == []

        # The page goes away: the bar greys everything, saying why.
        await patient.close()
        await expect(torch).to_be_disabled()
        await expect(torch).to_contain_text("page du patient fermée")
        await console.shot("remote-room-page-closed")
    finally:
        await phone.close()
    assert console.unexpected_problems() == []
