"""Photos when video cannot pass, in real Chromium with the fake camera and the real service.

The patient's phone cannot get its video through (an init script makes its peer connections
gather no candidate, as behind a network that lets no media through): within seconds the page
switches to photo mode by itself and says so; the room shows each photo in the video's place and
lists it in « Documents et photos »; the regulator asks for a new one; once the network lets
media through again, the page's next trial of video passes and both sides say so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from .pages import feed, invite_by_sms, loopback_ice, open_link, start_camera

__all__ = ["loopback_ice"]

pytestmark = [pytest.mark.timeout(240)]

NBSP = "\u00a0"
BLOCK_MEDIA = """
(() => {
  // While window.vrphotoBlocked is true, a new connection may only use relays, and there are
  // none: it gathers no candidate and never connects, like a network that lets no media pass.
  window.vrphotoBlocked = true;
  const Original = window.RTCPeerConnection;
  function Blocked(config) {
    const relayOnly = { ...(config || {}), iceTransportPolicy: 'relay' };
    return new Original(window.vrphotoBlocked ? relayOnly : config);
  }
  Blocked.prototype = Original.prototype;
  Object.setPrototypeOf(Blocked, Original);
  window.RTCPeerConnection = Blocked;
})();
"""


async def _photo_shown(image: Any) -> None:
    await expect(image).to_be_visible()
    await expect(image).to_have_js_property("complete", True)
    assert await image.evaluate("(element) => element.naturalWidth") > 0


async def test_given_no_frame_gets_through_then_photos_reach_the_room_until_video_passes(
    browser: BrowserContext,
    second_browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page
    room = page.locator("#stage .room")
    problems: list[str] = []
    patient: Page = await open_link(second_browser, link, BLOCK_MEDIA, problems=problems)

    await start_camera(patient)

    # No frame reaches the service: photo mode, said plainly on the phone...
    status = patient.locator("#status")
    await expect(status).to_have_text(
        f"La vidéo ne passe pas sur ce réseau{NBSP}: des photos sont envoyées au régulateur.",
        timeout=30_000,
    )
    await expect(patient.locator("#photo-mode")).to_be_visible()
    await expect(patient.locator("#photo-mode-last")).to_contain_text(
        "Dernière photo reçue par le régulateur à", timeout=30_000
    )
    entered = await console.wait_event(lambda e: e["type"] == "video.photo_mode", "photo mode")
    assert entered["details"] == {"reason": "no_frames"}
    assert entered["actor"] == "patient"

    # ...and in the room: the photo in the video's place, listed with the documents.
    panel = room.locator(".room-photo-mode")
    await expect(panel.locator(".room-photo-mode-title")).to_have_text(
        f"La vidéo du patient ne passe pas{NBSP}: son téléphone envoie des photos à la place."
    )
    await expect(panel.locator(".room-photo-mode-when")).to_contain_text("Photo reçue à")
    await _photo_shown(panel.locator(".room-photo-mode-image"))
    received = room.locator("[data-field=documents] .document[data-direction=from_patient]")
    await expect(received.first).to_be_visible()
    # A photo the phone sent by itself is no « Photo HD » (only the regulator's command takes one).
    await expect(received.first.locator(".document-caption")).to_contain_text(
        "Photo reçue (mode photo) à"
    )
    await expect(room.locator("[data-field=documents]")).not_to_contain_text("Photo HD reçue")
    await expect(page.locator("#room-side .timeline")).to_contain_text(
        f"Aucune image vidéo{NBSP}: la page passe aux photos"
    )
    first = await console.wait_event(lambda e: e["type"] == "photo.taken", "first photo")
    assert first["details"]["content_type"] == "image/jpeg"
    assert first["details"]["size"] <= 200_000, "made small enough for a weak link"
    assert first["details"]["photo_mode"] is True
    await expect(page.locator("#room-side .timeline")).to_contain_text(
        f"Photo reçue du téléphone, la vidéo ne passant pas{NBSP}: photo-"
    )
    await console.shot("photo-mode-room")
    await console.shot("photo-mode-patient", patient)

    # The regulator asks for a new photo: taken at once, it arrives after any in flight.
    await panel.get_by_role("button", name="Nouvelle photo").click()
    await expect(panel.locator(".room-photo-mode-result")).to_have_text(
        f"Photo prise{NBSP}: elle s'affiche dès qu'elle est reçue."
    )
    asked = await console.wait_event(
        lambda e: e["type"] == "photo.taken" and "command_id" in e["details"],
        "the asked photo",
    )
    shown = panel.locator(".room-photo-mode-image")
    session_id = await console.session_id()
    document_id = asked["details"]["document_id"]
    documents = f"/console/api/sessions/{session_id}/documents"
    # The asked photo shows until a newer automatic one replaces it.
    shown_ids: set[str] = set()
    for _ in range(300):
        src = await shown.get_attribute("src") or ""
        shown_ids.add(src)
        if f"{documents}/{document_id}?inline=1" in shown_ids or len(shown_ids) > 2:
            break
        await asyncio.sleep(0.1)
    assert any(document_id in src for src in shown_ids) or len(shown_ids) > 2
    await _photo_shown(shown)
    await expect(received).not_to_have_count(1)

    # The network lets media through again: the next trial of video passes.
    await patient.evaluate("window.vrphotoBlocked = false")
    await expect(status).to_have_text(
        f"La vidéo passe à nouveau{NBSP}: le régulateur vous voit.", timeout=120_000
    )
    await expect(patient.locator("#photo-mode")).to_be_hidden()
    await expect(panel).to_be_hidden()
    await expect(room.locator("[data-field=video]")).to_have_attribute("data-playing", "true")
    assert await feed(page).evaluate("(video) => video.videoWidth") > 0
    await expect(page.locator("#room-side .timeline")).to_contain_text("La page repasse en vidéo")
    await console.shot("photo-mode-ended-room")
    await console.shot("photo-mode-ended-patient", patient)
    assert problems == []
    await patient.close()
