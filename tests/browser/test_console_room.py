"""The room when things go wrong: an e-mail that cannot leave, another channel, a new link that
replaces the old one, a reload, a session that does not exist. No telephony: the
regulator invites without a call; e-mails go to an SMTP relay that is down, SMS to the outbox."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import unused_port
from playwright.async_api import BrowserContext, expect

from visioregul.integration.settings import (
    DatabaseSettings,
    MessagingSettings,
    Settings,
    SmtpSettings,
    TelephonySettings,
)

from .pages import log_in, start_service

pytestmark = [pytest.mark.timeout(120)]

FAILURE_TIMEOUT = 15000
"""Milliseconds: an unreachable relay is tried three times (after 1 s, then 3 s) before failing."""


def settings(tmp_path: Path) -> Settings:
    """SMS to the outbox, e-mail to a relay nobody listens on."""
    return Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"),
        telephony=TelephonySettings(source="none"),
        messaging=MessagingSettings(
            sms="outbox",
            email="smtp",
            smtp=SmtpSettings(host="127.0.0.1", port=unused_port(), timeout=2.0),
        ),
    )


async def test_given_an_email_that_cannot_leave_then_the_regulator_retries_and_changes_channel(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    page = console.page

    # No call: the manual invitation, to an e-mail address.
    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("patient@example.org")
    await card.locator("[data-field=submit]").click()
    room = page.locator("#stage .room")
    status = room.locator("[data-field=status]")
    timeline = page.locator("#room-side .timeline")
    await expect(room.locator("[data-field=title]")).to_have_text("Visio — patient@example.org")
    await expect(room.locator("[data-field=patient]")).to_have_text("Patient invité par e‑mail")
    await expect(room.locator("[data-field=call]")).to_be_hidden()
    await expect(status).to_contain_text(
        "L'e‑mail n'a pas pu être envoyé : le service d'envoi est injoignable.",
        timeout=FAILURE_TIMEOUT,
    )
    await expect(room.locator("[data-field=state]")).to_have_text("Ouverte")
    await expect(timeline).to_contain_text("Échec de l'envoi de l'e‑mail")
    failure = room.locator("[data-part=failure]")
    await expect(failure).to_be_visible()
    await expect(failure.locator("[data-field=other-channel]")).to_have_text("Envoyer par SMS")
    await console.shot("room-failed")

    # "Réessayer": the same link, sent again; the relay is still down.
    await failure.locator("[data-field=retry]").click()
    await expect(timeline).to_contain_text("Nouvel essai d'envoi vers patient@example.org")
    await expect(timeline.locator("[data-type='invitation.failed']")).to_have_count(
        2, timeout=FAILURE_TIMEOUT
    )
    await expect(failure).to_be_visible()

    # Another channel: the form says the old link stops working; a landline is refused.
    await failure.locator("[data-field=other-channel]").click()
    form = room.locator("[data-part=form]")
    field = form.get_by_label("Numéro de mobile du patient")
    await expect(field).to_be_focused()
    await expect(form).to_contain_text("l'ancien lien ne fonctionnera plus")
    await field.fill("01 45 67 89 01")
    await form.locator("[data-field=form-submit]").click()
    await expect(form.locator("[data-field=form-error]")).to_contain_text("numéro fixe")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await console.shot("room-other-channel")
    await field.fill("06 98 76 54 32")
    await form.locator("[data-field=form-submit]").click()
    await expect(form).to_be_hidden()
    await expect(status).to_contain_text("SMS simulé à")
    await expect(room.locator("[data-field=title]")).to_have_text("Visio — 06 98 76 54 32")
    await expect(room.locator("[data-field=state]")).to_have_text("Lien envoyé")
    await expect(failure).to_be_hidden()
    await expect(timeline).to_contain_text("Ancien lien désactivé (patient@example.org)")

    # A third party may be invited from the room (see test_third_party_video.py).
    await expect(room.locator("[data-field=third-party]")).to_be_visible()

    # "Renvoyer le lien" to the same number: the first SMS's link is now refused.
    outbox = page.locator("#outbox")
    await outbox.locator("summary").click()
    first_link = outbox.locator(".outbox-item", has_text="+33698765432").locator("a").first
    old_href = await first_link.get_attribute("href")
    assert old_href is not None
    await room.locator("[data-field=resend]").click()
    resend_field = form.get_by_label("Numéro de mobile ou adresse e‑mail du patient")
    await expect(resend_field).to_have_value("06 98 76 54 32")
    await form.locator("[data-field=form-submit]").click()
    # Confirmed where the regulator looks: under the buttons, read out.
    sent = room.locator("[data-field=sent]")
    await expect(sent).to_contain_text("Nouveau lien créé à")
    await expect(sent).to_contain_text("pour le 06 98 76 54 32 (SMS)")
    await expect(sent).to_be_focused()
    await expect(timeline.locator("[data-type='invitation.revoked']")).to_have_count(2)
    # The timeline reads newest first: the latest step is the first line.
    items = timeline.locator(".timeline-item")
    await expect(items.last).to_have_attribute("data-type", "session.created")
    await expect(items.first).not_to_have_attribute("data-type", "session.created")
    await expect(outbox.locator(".outbox-item", has_text="+33698765432")).to_have_count(2)
    old = await browser.new_page()
    await old.goto(old_href)
    await expect(old.locator("h1")).to_contain_text("n'est plus valable")
    await old.close()
    # Fetching a page records nothing, not even a refusal (robots fetch old links too).
    await expect(timeline).not_to_contain_text("Lien refusé")
    await console.shot("room-resent")

    # A reload reopens the room from the address.
    url = page.url
    await page.reload()
    await expect(page).to_have_url(url)
    await expect(room.locator("[data-field=title]")).to_have_text("Visio — 06 98 76 54 32")
    await expect(room.locator("[data-field=title]")).to_be_focused()
    await expect(timeline).to_contain_text("Ancien lien désactivé (06 98 76 54 32)")

    # Legible on a full-HD screen and on a narrow window (one column).
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await console.shot("room-fullhd", full_page=False)
    await page.set_viewport_size({"width": 900, "height": 900})
    await expect(room.locator("[data-field=end]")).to_be_visible()
    await console.shot("room-narrow")
    await page.set_viewport_size({"width": 1280, "height": 720})

    # Back to the card: nothing was ended; the card leads back into the visio.
    await room.locator("[data-field=back]").click()
    await expect(page).to_have_url(re.compile(r"/console$"))
    await expect(card.locator(".invite-input")).to_be_focused()
    await page.go_back()
    await expect(room.locator("[data-field=state]")).to_have_text("Lien envoyé")

    # The history filters by number (either the caller's or an invited one) and by state.
    await page.locator("#history-open").click()
    history = page.locator("#stage .history")
    rows = history.locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("06 98 76 54 32 (SMS)")
    await history.get_by_label("Numéro ou adresse e‑mail").fill("patient@example.org")
    await history.get_by_label("Numéro ou adresse e‑mail").press("Enter")
    await expect(rows).to_have_count(1)
    await history.get_by_label("État").select_option("ended")
    await expect(history.locator("[data-field=count]")).to_have_text("Aucune visio ne correspond.")
    await expect(rows).to_have_count(0)
    await console.shot("history-empty")

    # A session that does not exist: said plainly, and the way back is there.
    await page.goto(f"{console.base}/console#/session/0123456789abcdef0123456789abcdef")
    await expect(room.locator("[data-field=error]")).to_have_text("Session vidéo introuvable.")
    await expect(room.locator("[data-field=back]")).to_be_visible()

    # The landline's 400 and the unknown session's 404 are refusals the page showed.
    assert console.unexpected_problems(400, 404) == []
