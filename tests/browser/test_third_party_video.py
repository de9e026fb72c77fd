"""A third party in the room, end to end in real Chromium: invited from the room by SMS, they
turn their own (fake) camera on; the regulator sees the patient's picture and theirs as a
thumbnail, swaps them, puts the thumbnails inset; the third party sees the patient only when the
regulator allowed it (the socket refuses otherwise), leaves by themselves, and the regulator's end
reaches every page. No telephony: the regulator invites without a call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from .pages import (
    COUNT_FRAMES,
    ConsolePage,
    camera_on,
    log_in,
    loopback_ice,
    open_link,
    patient_link,
    settings,
    start_service,
)

__all__ = ["loopback_ice"]

pytestmark = [pytest.mark.timeout(180)]

THIRD_NUMBER = "06 98 76 54 32"

RAW_WATCH = """() => new Promise((resolve, reject) => {
  const url = location.href.replace(/^http/, 'ws').split('#')[0] + '/ws';
  const ws = new WebSocket(url);
  const timer = setTimeout(() => reject(new Error('no answer')), 10000);
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === 'welcome') {
      ws.send(JSON.stringify({ type: 'watch' }));
    } else if (message.type === 'error' || message.type === 'video.offer') {
      clearTimeout(timer);
      ws.close();
      resolve(message.type === 'error' ? message.error_id : 'offered');
    }
  };
})"""
"""The third party's own socket, opened by hand, asking for the patient's video: its answer."""


async def start_visio(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Any, artifacts: Any
) -> tuple[ConsolePage, Page]:
    """A console that invited the patient, whose camera is live in the room."""
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    card = console.page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    patient = await open_link(browser, await patient_link(console.page, console.base))
    await camera_on(patient)
    await expect(console.page.locator("#stage .room [data-field=video]")).to_have_attribute(
        "data-playing", "true", timeout=20000
    )
    return console, patient


async def invite_third_party(console: ConsolePage, *, sees_patient: bool) -> str:
    """Invite the third party from the room's form; the link they received."""
    page = console.page
    room = page.locator("#stage .room")
    await page.bring_to_front()
    await room.get_by_role("button", name="Inviter une tierce personne").click()
    form = room.locator("[data-part=form]")
    await form.get_by_label("Numéro de mobile ou adresse e‑mail de la tierce personne").fill(
        THIRD_NUMBER
    )
    sees = form.get_by_label("Peut voir la vidéo du patient")
    await expect(sees).not_to_be_checked()
    if sees_patient:
        await sees.check()
    await console.shot(f"third-party-invite-{'sees' if sees_patient else 'blind'}")
    await form.locator("[data-field=form-submit]").click()
    await expect(form).to_be_hidden()
    return await patient_link(page, console.base)


async def test_given_a_third_party_with_a_camera_then_the_regulator_sees_both_and_arranges_them(
    browser: BrowserContext,
    second_browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Any,
    artifacts: Any,
) -> None:
    console, patient = await start_visio(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page
    room = page.locator("#stage .room")
    video = room.locator("[data-field=video]")
    link = await invite_third_party(console, sees_patient=False)

    # The third party's page: its own wording, its own camera, "Quitter".
    await expect(room.locator("[data-field=others]")).not_to_contain_text("voit la vidéo")
    third = await open_link(second_browser, link)
    await expect(third.get_by_role("heading", level=1)).to_contain_text(
        "rejoindre la visio avec votre caméra"
    )
    await console.shot("third-party-consent", third)
    await camera_on(third)
    await expect(third.get_by_role("button", name="Quitter")).to_be_visible()
    # Not allowed to see the patient: nothing shown, and the socket refuses if asked by hand.
    await expect(third.locator("#watch")).to_be_hidden()
    assert await third.evaluate(RAW_WATCH) == "forbidden"
    await console.shot("third-party-live", third)

    # The regulator: the patient's picture as the main one, the third party's as a thumbnail.
    await page.bring_to_front()
    thumbs = room.locator("[data-field=thumbs]")
    thumb = thumbs.locator(".room-thumb")
    await expect(thumb).to_have_count(1, timeout=20000)
    await expect(thumb).to_have_attribute("data-playing", "true", timeout=20000)
    await expect(thumb.locator(".room-thumb-name")).to_have_text(
        "06\u00a098\u00a076\u00a054\u00a032 (tierce personne)"
    )
    await expect(room.locator("[data-field=video-name]")).to_have_text("Patient")
    await expect(video).to_have_attribute("data-playing", "true")
    frames = thumb.locator("video")
    assert await asyncio.wait_for(frames.evaluate(COUNT_FRAMES, 10), 20) >= 10
    timeline = page.locator("#room-side .timeline")
    await expect(timeline).to_contain_text("(tierce personne) reçue", timeout=15000)
    await expect(timeline).to_contain_text("(tierce personne) a activé sa caméra")
    await expect(video).to_have_attribute("data-layout", "side")
    await video.evaluate("(area) => area.scrollIntoView({block: 'start'})")
    await console.shot("third-party-room-side", full_page=False)

    # A click on the thumbnail makes it the main picture; the patient becomes the thumbnail.
    await thumb.get_by_role("button").click()
    await expect(room.locator("[data-field=video-name]")).to_contain_text("tierce personne")
    await expect(thumb.locator(".room-thumb-name")).to_have_text("Patient")
    await expect(video).to_have_attribute("data-playing", "true", timeout=10000)
    # The remote control acts on the patient's phone: not under a third party's picture.
    remote = room.locator("[data-field=remote]")
    await expect(remote).to_be_hidden()

    # Thumbnails inset in the main picture, then back on the right.
    toggle = room.locator("[data-field=thumbs-layout]")
    await expect(toggle).to_have_text("Vignettes dans l'image")
    await toggle.click()
    await expect(video).to_have_attribute("data-layout", "inset")
    await expect(toggle).to_have_text("Vignettes à droite")
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await video.evaluate("(area) => area.scrollIntoView({block: 'start'})")
    await console.shot("third-party-room-inset", full_page=False)
    await toggle.click()
    await expect(video).to_have_attribute("data-layout", "side")

    # The third party leaves by themselves: their picture goes, the patient's is the main one.
    await third.get_by_role("button", name="Quitter").click()
    await expect(third.locator("h2", has_text="Vous avez quitté la visio")).to_be_visible()
    await expect(thumb).to_have_count(0, timeout=15000)
    await expect(thumbs).to_be_hidden()
    await expect(room.locator("[data-field=video-name]")).to_be_hidden()
    await expect(video).to_have_attribute("data-playing", "true", timeout=10000)
    await expect(remote).to_be_visible()
    await expect(timeline).to_contain_text("(tierce personne) a quitté la visio", timeout=15000)
    await video.evaluate("(area) => area.scrollIntoView({block: 'start'})")
    await console.shot("third-party-room-left", full_page=False)

    # The regulator ends the visio: the patient's and the third party's pages say so.
    await room.locator("[data-field=end]").click()
    await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
    await expect(room.locator("[data-field=video-title]")).to_have_text("Visio terminée")
    await expect(patient.locator("h2", has_text="Vidéo terminée")).to_be_visible()
    await expect(third.locator("h2", has_text="Vidéo terminée")).to_be_visible()
    await expect(third.locator("[data-view-name=ended]")).to_contain_text("fin à la visio")
    await console.shot("third-party-ended", third)
    assert not console.unexpected_problems(), console.problems


async def test_given_a_third_party_allowed_to_see_then_their_page_shows_the_patient(
    browser: BrowserContext,
    second_browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Any,
    artifacts: Any,
) -> None:
    console, patient = await start_visio(browser, aiohttp_client, tmp_path, artifacts)
    link = await invite_third_party(console, sees_patient=True)
    others = console.page.locator("#stage .room [data-field=others]")
    await expect(others).to_contain_text("voit la vidéo du patient")

    third = await open_link(second_browser, link)
    await camera_on(third)
    watch = third.locator("#watch")
    await expect(watch).to_be_visible()
    await expect(watch).to_have_attribute("data-playing", "true", timeout=20000)
    shown = third.locator("#watch-video")
    assert await asyncio.wait_for(shown.evaluate(COUNT_FRAMES, 10), 20) >= 10
    await console.shot("third-party-sees-patient", third)
    timeline = console.page.locator("#room-side .timeline")
    await console.page.bring_to_front()
    await expect(console.page.locator("#stage .room .room-thumb")).to_have_count(1, timeout=20000)

    # The end reaches both pages.
    room = console.page.locator("#stage .room")
    await room.locator("[data-field=end]").click()
    await (
        console.page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
    )
    await expect(third.locator("h2", has_text="Vidéo terminée")).to_be_visible()
    await expect(patient.locator("h2", has_text="Vidéo terminée")).to_be_visible()
    await expect(watch).to_be_hidden()
    await expect(timeline).to_contain_text("Visio terminée")
    assert not console.unexpected_problems(), console.problems
