"""The console as a regulator sees it: real Chromium, a real call in the sandbox Asterisk."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from tests.integration.service import service_settings, wait_link_up
from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone

from .pages import log_in, start_service

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(120)]


async def test_given_a_15_call_then_the_regulator_invites_enters_the_room_and_ends_the_visio(
    browser: BrowserContext,
    sandbox: SandboxAsterisk,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    client = await start_service(
        aiohttp_client, service_settings(sandbox, "ami", tmp_path), tmp_path
    )
    await wait_link_up(client)
    page_before_login = await browser.new_page()
    base = str(client.make_url("/")).rstrip("/")
    await page_before_login.goto(f"{base}/console/login?error=invalid_credentials")
    await expect(page_before_login.locator("#login-error")).to_contain_text("Identifiant")
    await page_before_login.screenshot(path=artifacts / "console-login.png")
    await page_before_login.close()

    console = await log_in(browser, client, artifacts)
    page = console.page
    await expect(page.locator("#telephony-pill")).to_contain_text("connectée")
    await expect(page.locator("#stage")).to_contain_text("Aucun appel en cours")
    await console.shot("console-empty")

    # The call stays up long enough for the whole visio; it hangs up on its own.
    phone = await start_phone(sandbox, "1001")
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=20000)
    card = page.locator("#stage .call-card")
    await expect(card.locator("[data-field=number]")).to_have_text("06 12 34 56 78", timeout=10000)
    await expect(card.locator("[data-field=kind]")).to_contain_text("Mobile")
    # The form the regulator reads and hears, plain spaces: easy to check and to correct.
    await expect(card.locator(".invite-input")).to_have_value("06 12 34 56 78")
    await console.shot("console-offer")

    # A landline cannot receive the SMS: the refusal (a 400) is shown on the card.
    await card.locator(".invite-input").fill("01 45 67 89 01")
    await card.locator("[data-field=submit]").click()
    await expect(card.locator("[data-field=error]")).to_contain_text("numéro fixe")

    # "Lancer l'invitation et entrer dans la salle".
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    room = page.locator("#stage .room")
    await expect(room).to_be_visible()
    await expect(page).to_have_url(re.compile(r"#/session/[0-9a-f]{32}$"))
    await expect(room.locator("[data-field=title]")).to_have_text("Visio — 06 12 34 56 78")
    await expect(room.locator("[data-field=title]")).to_be_focused()
    await expect(room.locator("[data-field=status]")).to_contain_text("SMS simulé à")
    await expect(room.locator("[data-field=video-title]")).to_have_text(
        "En attente de la vidéo du patient…"
    )
    await expect(room.locator("[data-field=state]")).to_have_text("Lien envoyé")
    await expect(room.locator("[data-field=call]")).to_contain_text(
        "Appel associé : 06 12 34 56 78, ligne 15"
    )
    timeline = page.locator("#room-side .timeline")
    await expect(timeline).to_contain_text("Visio ouverte par regulateur")
    await expect(timeline).to_contain_text(
        "SMS simulé pour le 06 12 34 56 78 (boîte d'envoi locale)"
    )
    await expect(timeline).not_to_contain_text("remis")
    await expect(timeline).to_contain_text("Visio associée à l'appel")
    await expect(page.locator("#recent")).to_be_hidden()

    # The development outbox shows the SMS, its link clickable.
    outbox = page.locator("#outbox")
    await expect(outbox).to_be_visible()
    await outbox.locator("summary").click()
    message = outbox.locator(".outbox-item").first
    await expect(message).to_contain_text("+33612345678")
    link = message.locator("a.outbox-link")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    href = await link.get_attribute("href")
    assert href is not None and href.startswith(f"{base}/p/")
    await console.shot("room-waiting")

    # A newcomer plays the patient: the link opens in a new tab of the same browser.
    async with browser.expect_page() as opened:
        await link.click()
    patient = await opened.value
    patient_problems: list[str] = []
    patient.on("pageerror", lambda error: patient_problems.append(str(error)))
    await expect(patient.get_by_role("heading", level=1)).to_contain_text(
        "montrer la scène en vidéo"
    )
    assert await patient.locator("html").get_attribute("lang") == "fr"
    await console.shot("patient-landing", patient)

    await page.bring_to_front()
    await expect(timeline).to_contain_text("Lien ouvert par le patient")
    await expect(room.locator("[data-field=state]")).to_have_text("Lien ouvert")
    await expect(room.locator("[data-field=status]")).to_contain_text(
        "Lien ouvert par le patient à"
    )
    await expect(room.locator("[data-field=video-step]")).to_contain_text("autoriser")
    await console.shot("room-link-opened")

    # The call hangs up by itself: the visio goes on, the timeline says so.
    assert await call.wait(30) == 0
    assert await phone.wait(15) == 0
    await expect(timeline).to_contain_text("Appel raccroché", timeout=10000)
    await expect(room.locator("[data-field=call]")).to_contain_text("raccroché à")

    # End the visio: a dialog asks first; cancelling changes nothing.
    await room.locator("[data-field=end]").click()
    dialog = page.locator("#end-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Le lien du patient ne fonctionnera plus")
    await console.shot("end-dialog", full_page=False)
    await dialog.get_by_role("button", name="Annuler").click()
    await expect(dialog).to_be_hidden()
    await expect(room.locator("[data-field=state]")).to_have_text("Lien ouvert")
    await room.locator("[data-field=end]").click()
    await dialog.get_by_role("button", name="Terminer la visio").click()
    await expect(room.locator("[data-field=state]")).to_have_text("Terminée")
    await expect(room.locator("[data-field=status]")).to_contain_text("Visio terminée à")
    await expect(room.locator("[data-part=actions]")).to_be_hidden()
    await expect(timeline).to_contain_text("Visio terminée par regulateur")
    # Nothing written would reach the patient any more: the room no longer offers to write.
    await expect(page.locator(".text-form")).to_be_hidden()
    await expect(page.locator(".text-presets")).to_be_hidden()
    await console.shot("room-ended")

    # The patient's link no longer opens (the refusal page is a 404).
    assert patient_problems == []
    await patient.reload()
    await expect(patient.locator("h1")).to_contain_text("n'est plus valable")
    await patient.close()

    # The history lists it; a row opens its room, read-only.
    await page.locator("#history-open").click()
    await expect(page).to_have_url(re.compile(r"#/history$"))
    history = page.locator("#stage .history")
    rows = history.locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("06 12 34 56 78")
    await expect(rows.first).to_contain_text("Terminée")
    await expect(rows.first).to_contain_text("regulateur")
    await expect(rows.first).to_contain_text("PJSIP/1001")
    await expect(history.locator("[data-field=count]")).to_have_text("1 visio")
    await console.shot("history")
    await rows.first.click()  # anywhere on the row
    await expect(room.locator("[data-field=state]")).to_have_text("Terminée")
    await expect(room.locator("[data-part=actions]")).to_be_hidden()
    await expect(timeline).to_contain_text("Lien ouvert par le patient")
    await room.locator("[data-field=back]").click()
    await expect(history).to_be_visible()

    # Back to the call card: the call has ended, and so has the visio (no way back into it).
    await history.locator("[data-field=back]").click()
    await expect(card.locator("[data-field=state]")).to_contain_text("Terminé", timeout=10000)
    await expect(card.locator("[data-field=result]")).to_contain_text("Visio terminée à")
    await expect(card.get_by_role("button", name="Retourner dans la visio")).to_have_count(0)
    await console.shot("console-ended")

    assert console.unexpected_problems(400) == []
