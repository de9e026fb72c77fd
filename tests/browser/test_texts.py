"""Written messages and the regulator's alerts, end to end in real Chromium.

The console (notifications granted) is out of sight: the patient opening the link makes it beep,
notify and say so in the tab's title. The regulator writes and picks a ready-made instruction;
the patient's page shows it large over the video and answers in writing; the room shows the
conversation and the timeline quotes it. The browser's own ``Notification`` is observed through
a counter the test loads in the page (a subclass that records each construction), and the tab's
visibility is set by the test, as a CAD screen covering the console would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from .pages import camera_on, log_in, loopback_ice, open_link, patient_link, settings, start_service

__all__ = ["loopback_ice"]

pytestmark = [pytest.mark.timeout(120)]

OBSERVE_NOTIFICATIONS = """(() => {
  const Browser = window.Notification;
  window.seenNotifications = [];
  window.Notification = class extends Browser {
    constructor(title, options) {
      super(title, options);
      window.seenNotifications.push({ title, body: options && options.body });
    }
  };
  // The console out of sight (another window over it) until the test shows it again.
  window.outOfSight = false;
  Object.defineProperty(document, 'visibilityState', {
    get: () => (window.outOfSight ? 'hidden' : 'visible'),
  });
  Object.defineProperty(document, 'hidden', { get: () => window.outOfSight });
})();"""

ROOM_TITLE = "Visio · 06 12 34 56 78 — VisioRegul"
HIDE = "window.outOfSight = true; document.dispatchEvent(new Event('visibilitychange'))"
SHOW = "window.outOfSight = false; document.dispatchEvent(new Event('visibilitychange'))"


async def test_given_a_console_out_of_sight_then_it_alerts_and_the_patient_and_regulator_write(
    browser: BrowserContext,
    second_browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    base = str(client.make_url("/")).rstrip("/")
    await browser.grant_permissions(["notifications"], origin=base)
    await browser.add_init_script(OBSERVE_NOTIFICATIONS)
    console = await log_in(browser, client, artifacts)
    page = console.page

    # The alerts' settings: one switch per kind, all on at first.
    await page.get_by_role("button", name="Alertes").click()
    kinds = page.locator("#alerts-panel input[type=checkbox]")
    await expect(kinds).to_have_count(5)
    for index in range(5):
        await expect(kinds.nth(index)).to_be_checked()
    await console.shot("alerts-settings")
    await page.get_by_role("button", name="Alertes").click()

    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    room = page.locator("#stage .room")
    await expect(room).to_be_visible()
    link = await patient_link(page, console.base)
    assert await page.evaluate("window.seenNotifications.length") == 0

    # The console goes out of sight; the patient opens the link: a notification, and the title.
    await page.evaluate(HIDE)
    patient = await open_link(second_browser, link)
    await expect(page).to_have_title("(1) Lien ouvert — VisioRegul")
    seen: list[dict[str, Any]] = await page.evaluate("window.seenNotifications")
    assert [n["title"] for n in seen] == ["Lien ouvert"]

    # Seen again: the title is the room's; the regulator turns the video's arrival off.
    await page.evaluate(SHOW)
    await expect(page).to_have_title(ROOM_TITLE)
    await page.get_by_role("button", name="Alertes").click()
    await page.get_by_label("la vidéo arrive").uncheck()
    assert await page.evaluate("localStorage.getItem('visioregul.alerts.off')") == '["video_live"]'
    await page.get_by_role("button", name="Alertes").click()
    await page.evaluate(HIDE)
    await camera_on(patient)
    await expect(room.locator("[data-field=state]")).to_have_text("Vidéo en cours", timeout=10000)
    await expect(page).to_have_title(ROOM_TITLE)
    assert await page.evaluate("window.seenNotifications.length") == 1

    # No field to write in before the regulator writes: the page stays as it was.
    await expect(patient.locator("#text-answer")).to_be_hidden()

    # The regulator writes: the patient's page shows it large, over the video, and a field to
    # answer appears.
    panel = page.locator("#room-side .text-panel")
    await panel.locator("textarea").fill("Êtes-vous en sécurité ? <répondez>")
    await panel.get_by_role("button", name="Envoyer").click()
    shown = patient.locator("#text-shown")
    await expect(shown).to_be_visible()
    await expect(patient.locator("#text-shown-body")).to_have_text(
        "Êtes-vous en sécurité ? <répondez>"
    )
    await expect(panel.locator("textarea")).to_have_value("")
    await panel.get_by_role("button", name="Approchez-vous").click()
    await expect(patient.locator("#text-shown-body")).to_have_text("Approchez-vous")
    await console.shot("text-patient-message", patient)
    await patient.get_by_role("button", name="Masquer").click()
    await expect(shown).to_be_hidden()

    # The patient answers in writing: the room shows it as text (never as HTML), the timeline
    # quotes it, and the console out of sight alerts with the message itself.
    await patient.get_by_label("Répondre par écrit au régulateur").fill("<b>Oui</b>, à l'étage")
    await patient.get_by_role("button", name="Envoyer").click()
    await expect(patient.locator("#text-note")).to_have_text("Message envoyé au régulateur.")
    answer = panel.locator(".text-message[data-from=patient] .text-body")
    await expect(answer).to_have_text("<b>Oui</b>, à l'étage")
    await expect(panel.locator(".text-message[data-from=patient] b")).to_have_count(0)
    await expect(page.locator("#room-side .timeline")).to_contain_text(
        "Message du patient\u00a0: «\u00a0<b>Oui</b>, à l'étage\u00a0»"
    )
    await expect(page).to_have_title("(1) Message du patient — VisioRegul")
    seen = await page.evaluate("window.seenNotifications")
    assert seen[-1] == {"title": "Message du patient", "body": "<b>Oui</b>, à l'étage"}
    assert len(seen) == 2
    await expect(panel.locator(".text-message")).to_have_count(3)
    await console.shot("text-room-panel")
    await page.evaluate(SHOW)
    await expect(page).to_have_title(ROOM_TITLE)

    # Bad input is refused in words: an empty answer is not sent, a flood is refused.
    for index in range(10):
        await patient.get_by_label("Répondre par écrit au régulateur").fill(f"message {index}")
        await patient.get_by_role("button", name="Envoyer").click()
    await expect(patient.locator("#text-note")).to_contain_text("Trop de messages d'un coup")
    # The refused answer is back in the field, to send again later.
    await expect(patient.get_by_label("Répondre par écrit au régulateur")).to_have_value(
        "message 9"
    )
    await console.shot("text-patient-flood", patient)
    assert console.unexpected_problems() == []
