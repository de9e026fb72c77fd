"""Every failure said, on both sides, in real Chromium: a picture that freezes while the phone
stays connected, the video lost, and a link nobody opens; each with the session's outcome and
its next step in the room, its timeline and the history."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from visioregul.integration import appkeys
from visioregul.integration.sessions.journal import Actor
from visioregul.integration.sessions.state import SessionFact
from visioregul.integration.settings import InvitationSettings

from .pages import (
    PATIENT_NUMBER,
    camera_on,
    invite_by_sms,
    log_in,
    loopback_ice,
    open_link,
    patient_link,
    settings,
    start_service,
)
from .test_console_room import FAILURE_TIMEOUT
from .test_console_room import settings as failing_email

__all__ = ["loopback_ice"]

pytestmark = [pytest.mark.timeout(120)]

NBSP = "\u00a0"

KEEP_PEERS = """(() => {
  const Real = window.RTCPeerConnection;
  window.__peers = [];
  window.RTCPeerConnection = class extends Real {
    constructor(...args) {
      super(...args);
      window.__peers.push(this);
    }
  };
})();"""
"""A page-side hook: the page's peer connections, so that the test can hold its camera back."""

STOP_FRAMES = """async () => {
  for (const pc of window.__peers) {
    for (const sender of pc.getSenders()) {
      if (sender.track) {
        window.__track = sender.track;
        window.__sender = sender;
        await sender.replaceTrack(null);
      }
    }
  }
}"""
"""The phone keeps its connection but sends no frame (as on a network too weak for video)."""

SEND_FRAMES = "async () => { await window.__sender.replaceTrack(window.__track); }"


ESTABLISHED = re.compile(r"^Vidéo établie")
"""The outcome once frames came, whatever path it names once the page reported one."""


async def test_given_the_phone_sends_no_frame_then_both_sides_say_the_picture_froze(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page
    room = page.locator("#stage .room")
    video = room.locator("[data-field=video]")
    outcome = room.locator("[data-field=outcome]")
    timeline = page.locator("#room-side .timeline")

    patient = await open_link(browser, link, KEEP_PEERS)
    await camera_on(patient)
    await expect(video).to_have_attribute("data-playing", "true", timeout=20000)
    await expect(outcome.locator("[data-field=outcome-title]")).to_have_text(
        ESTABLISHED, timeout=10000
    )
    await expect(outcome).to_have_attribute("data-tone", "good")

    # The phone stays connected but no frame comes: said on both sides, and logged.
    await patient.evaluate(STOP_FRAMES)
    await expect(patient.locator("#status")).to_have_text(
        f"Le régulateur ne reçoit plus votre image{NBSP}: votre réseau est faible", timeout=15000
    )
    frozen = f"Image figée{NBSP}: le réseau du patient est trop faible"
    await expect(video).to_have_attribute("data-notice", "frozen")
    # Over the last picture, not over a dark panel.
    await expect(video).to_have_attribute("data-playing", "true")
    await expect(room.locator("[data-field=video-notice]")).to_have_text(frozen)
    await expect(room.locator("[data-field=video-notice]")).to_be_visible()
    await expect(outcome.locator("[data-field=outcome-title]")).to_have_text(frozen)
    await expect(outcome).to_have_attribute("data-tone", "warning")
    await expect(room.locator("[data-field=status]")).to_contain_text(
        "Image du patient figée depuis"
    )
    await expect(outcome.locator("[data-step=photo]")).to_have_text("Demander une photo")
    await expect(timeline).to_contain_text("Image du patient figée")
    await page.bring_to_front()
    await console.shot("outcome-room-video-frozen")
    await console.shot("outcome-patient-video-frozen", patient)

    # Frames again: the page says it is seen, the room's picture moves, the stall's length logged.
    await patient.evaluate(SEND_FRAMES)
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit", timeout=15000)
    await expect(video).to_have_attribute("data-notice", "", timeout=10000)
    await expect(outcome.locator("[data-field=outcome-title]")).to_have_text(ESTABLISHED)
    await expect(timeline).to_contain_text("Image du patient revenue après")
    await expect(room.locator("[data-field=video-notice]")).to_be_hidden()
    logged = [
        e for e in await console.timeline() if e["type"] in ("video.stalled", "video.resumed")
    ]
    # The test's stall, logged last (a slow start may have logged one before it).
    assert [e["type"] for e in logged[-2:]] == ["video.stalled", "video.resumed"]
    assert logged[-2]["details"] == {"participant_id": "patient"}
    assert logged[-1]["details"]["participant_id"] == "patient"
    assert logged[-1]["details"]["stalled_ms"] >= 2000

    # The phone goes away without a word: the video is lost, said over the last picture.
    await patient.close()
    await expect(video).to_have_attribute("data-notice", "interrupted", timeout=45000)
    await expect(room.locator("[data-field=video-notice]")).to_have_text(
        "Vidéo interrompue, reconnexion en cours"
    )
    await expect(outcome.locator("[data-field=outcome-title]")).to_have_text(
        "Vidéo interrompue, reconnexion en cours"
    )
    await expect(outcome.locator("[data-field=outcome-steps]")).to_be_hidden()
    await console.shot("outcome-room-video-lost")

    # Ended: the room, its timeline and the history say how it ended.
    await room.locator("[data-field=end]").click()
    await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
    await expect(outcome.locator("[data-field=outcome-label]")).to_have_text("Issue de la visio")
    await expect(outcome.locator("[data-field=outcome-title]")).to_have_text(ESTABLISHED)
    await expect(outcome.locator("[data-field=outcome-steps]")).to_be_hidden()
    await expect(page.locator("#room-side [data-field=timeline-outcome]")).to_have_text(
        re.compile(f"^Issue de la visio{NBSP}: Vidéo établie")
    )
    await console.shot("outcome-room-ended")
    body: Any = await (await page.request.get(f"{console.base}/console/api/sessions")).json()
    assert body["sessions"][0]["outcome"]["kind"] == "video_established"
    assert body["sessions"][0]["outcome"]["final"] is True
    assert not console.unexpected_problems(), console.problems


async def test_given_a_link_nobody_opens_then_the_room_offers_to_send_it_again(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    service = settings(tmp_path)
    service.invitations = InvitationSettings(remind_after_minutes=0.05)
    console, _ = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts, service)
    page = console.page
    room = page.locator("#stage .room")
    outcome = room.locator("[data-field=outcome]")

    await expect(outcome.locator("[data-field=outcome-title]")).to_have_text(
        f"Le lien n'a pas été ouvert depuis 1{NBSP}min{NBSP}: renvoyer{NBSP}? par e‑mail{NBSP}?",
        timeout=20000,
    )
    await expect(outcome).to_have_attribute("data-tone", "warning")
    steps = outcome.locator("[data-field=outcome-steps] button")
    await expect(steps).to_have_text(["Renvoyer le lien par SMS", "Envoyer le lien par e‑mail"])
    await expect(page.locator("#room-side .timeline")).to_contain_text(
        f"Lien non ouvert 1{NBSP}min après l'envoi du SMS"
    )
    await console.shot("outcome-room-link-not-opened")

    # "Envoyer le lien par e-mail": the room's own form, for an e-mail address.
    await outcome.locator("[data-step=email]").click()
    form = room.locator("[data-part=form]")
    await expect(form).to_be_visible()
    await expect(form).to_have_attribute("data-mode", "email")
    await form.locator("[data-field=form-input]").fill("patient@example.org")
    await form.locator("[data-field=form-submit]").click()
    await expect(outcome.locator("[data-field=outcome-title]")).to_have_text(
        "Lien envoyé, en attente du patient", timeout=10000
    )

    # The history lists the session with its outcome.
    await page.goto(f"{console.base}/console#/history")
    await expect(page.locator(".history-outcome").first).to_be_visible(timeout=10000)
    await console.shot("outcome-history")
    assert not console.unexpected_problems(), console.problems


async def test_given_each_failure_then_the_room_says_it_with_the_next_step(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    """A link that cannot leave, for real; then the events the page and the network report
    (in-app view, no path, photo mode, camera refused) as they land in the session's log."""
    client = await start_service(aiohttp_client, failing_email(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    page = console.page
    card = page.locator("#stage .call-card")
    room = page.locator("#stage .room")
    outcome = room.locator("[data-field=outcome]")
    title = outcome.locator("[data-field=outcome-title]")
    steps = outcome.locator("[data-field=outcome-steps] button")

    # The e-mail cannot leave: said, with the room's own retry buttons (none repeated).
    await card.locator(".invite-input").fill("patient@example.org")
    await card.locator("[data-field=submit]").click()
    await expect(title).to_have_text(
        "L'e‑mail n'a pas pu être remis au patient", timeout=FAILURE_TIMEOUT
    )
    await expect(outcome).to_have_attribute("data-tone", "failed")
    await expect(outcome.locator("[data-field=outcome-next]")).to_contain_text("SMS ou e‑mail")
    # Its buttons beside it: the room's own retry and other channel, not a second copy.
    await expect(outcome.locator("[data-part=failure]")).to_be_visible()
    await expect(outcome.locator("[data-field=retry]")).to_have_text("Renvoyer l'e‑mail")
    await expect(outcome.locator("[data-field=other-channel]")).to_have_text("Envoyer par SMS")
    await expect(outcome.locator("[data-field=outcome-steps]")).to_be_hidden()
    await console.shot("outcome-room-not-delivered")

    # By SMS: the patient opens the link; what the page and the network report follows.
    await room.locator("[data-field=back]").click()
    await card.locator(".invite-input").fill(PATIENT_NUMBER)
    await card.locator("[data-field=submit]").click()
    link = await patient_link(page, console.base)
    patient = await open_link(browser, link)
    await expect(title).to_have_text("Le patient a ouvert le lien", timeout=10000)
    await page.bring_to_front()
    session_id = await console.session_id()
    service = client.app[appkeys.SESSION_SERVICE]
    page_actor = Actor("patient")

    await service.record(
        session_id,
        page_actor,
        "patient.browser_unsupported",
        {"reason": "in_app_view", "app": "Facebook"},
    )
    await expect(title).to_have_text("Le lien s'est ouvert dans Facebook, sans accès à la caméra")
    await expect(outcome.locator("[data-field=outcome-next]")).to_have_text(
        "Demander au patient d'ouvrir le lien dans Chrome ou Safari."
    )
    await expect(steps).to_have_text(["Envoyer le lien par e‑mail"])
    # The video area and the timeline say it too, not "waiting".
    await expect(room.locator("[data-field=video-title]")).to_have_text(
        "Le lien s'est ouvert dans Facebook, sans accès à la caméra"
    )
    await expect(page.locator("#room-side .timeline")).to_contain_text(
        f"Le patient a ouvert le lien dans l'application Facebook{NBSP}: pas d'accès à la caméra"
    )
    await console.shot("outcome-room-browser-unsupported")

    await service.record(
        session_id, page_actor, "camera.allowed", {}, fact=SessionFact.CAMERA_ALLOWED
    )
    await service.record(session_id, page_actor, "video.no_path", {"reason": "turn_unreachable"})
    # In the path's own words: why there is none, and what to do.
    await expect(title).to_have_text(f"Aucun chemin réseau{NBSP}: le relais TURN est injoignable")
    await expect(steps).to_have_text(["Demander une photo"])
    await console.shot("outcome-room-no-path")

    await service.record(session_id, page_actor, "video.photo_mode", {"reason": "weak_link"})
    await expect(title).to_have_text(f"Réseau trop faible pour la vidéo{NBSP}: photos à la place")
    await console.shot("outcome-room-network-weak")

    await service.record(session_id, page_actor, "video.photo_mode_ended", {})
    await service.record(session_id, page_actor, "video.photo_mode", {"reason": "no_frames"})
    await expect(title).to_have_text(f"Aucune image vidéo n'arrive{NBSP}: photos à la place")
    await console.shot("outcome-room-photos-only")

    await service.record(session_id, page_actor, "video.photo_mode_ended", {})
    await service.record(
        session_id, page_actor, "camera.denied", {"detail": "NotAllowedError (chrome)"}
    )
    await expect(title).to_have_text("Le patient a refusé la caméra")
    await expect(outcome).to_have_attribute("data-tone", "failed")
    await expect(outcome.locator("[data-field=outcome-steps]")).to_be_hidden()
    await console.shot("outcome-room-camera-refused")

    await room.locator("[data-field=end]").click()
    await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
    await expect(outcome.locator("[data-field=outcome-label]")).to_have_text("Issue de la visio")
    await expect(title).to_have_text("Le patient a refusé la caméra")
    await page.goto(f"{console.base}/console#/history")
    rows = page.locator(".history-outcome")
    await expect(rows).to_have_text(
        ["Le patient a refusé la caméra", "L'e‑mail n'a pas pu être remis au patient"],
        timeout=10000,
    )
    await console.shot("outcome-history-ended")
    await patient.close()
    assert not console.unexpected_problems(), console.problems
