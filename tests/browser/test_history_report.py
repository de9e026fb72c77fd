"""From a real 15 call to the session's report, in real Chromium.

A caller dials 15 from a mobile in the sandbox Asterisk; the regulator's phone (position 1001)
answers; the console invites the caller, the patient's Chromium (fake camera) shows the scene and
the regulator takes two screenshots. The regulator goes to the history, finds the session by the
caller's number typed another way, rejoins it while the video runs, ends it, opens its printable
report from the history and downloads the PDF, whose text is read back (pypdf).
"""

from __future__ import annotations

import contextlib
import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import BrowserContext, expect
from pypdf import PdfReader

from tests.integration.service import service_settings, wait_link_up
from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone

from .pages import log_in, patient_link, start_service, watch
from .pages import loopback_ice as loopback_ice  # the fixture, used by name below

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.timeout(180),
    pytest.mark.usefixtures("loopback_ice"),
]

CALLER = "+33612345678"


async def test_given_a_call_with_video_then_history_rejoin_end_and_the_report_as_pdf(
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
    console = await log_in(browser, client, artifacts, display_name="Dr Claire Martin")
    page = console.page
    phone = await start_phone(sandbox, "1001")
    call = await place_call(sandbox, CALLER, "151001", duration_ms=60000)
    try:
        card = page.locator("#stage .call-card")
        await expect(card.locator("[data-field=number]")).to_have_text(
            "06 12 34 56 78", timeout=10000
        )
        await card.get_by_role("button", name="Lancer l'invitation").click()
        await expect(page).to_have_url(re.compile(r"#/session/[0-9a-f]{32}$"))
        session_id = page.url.rsplit("/", 1)[-1]
        link = await patient_link(page, console.base)

        patient = await second_browser.new_page()
        problems: list[str] = []
        watch(patient, problems)
        await patient.set_viewport_size({"width": 390, "height": 844})
        await patient.goto(link)
        await patient.get_by_role("button", name="Activer la caméra").click()
        await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
        room = page.locator("#stage .room")
        await expect(room.locator("[data-field=video]")).to_have_attribute(
            "data-playing", "true", timeout=20000
        )
        take = room.locator("[data-field=stills]").get_by_role("button", name="Capture d'écran")
        stills = room.locator("[data-field=stills] .still")
        retried = False
        for count in (1, 2):
            # A still waits 2 s at most for the phone's keyframe: on a busy machine one may
            # come too late, and the regulator clicks again (three clicks at most).
            for _ in range(3):
                await take.click()
                # Enabled again once the answer came and the gallery was drawn again.
                await expect(take).to_be_enabled()
                if await stills.count() >= count:
                    break
                retried = True
            await expect(stills).to_have_count(count)

        # The history: the session found by the caller's number typed with dots, still live.
        await page.locator("#history-open").click()
        history = page.locator("#stage .history")
        await expect(history.locator("[data-field=title]")).to_have_text("Historique des visios")
        await history.locator("#history-number").fill("06.12.34.56.78")
        await history.get_by_role("button", name="Filtrer").click()
        rows = history.locator("tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_have_attribute("data-session-id", session_id)
        await expect(rows.first).to_contain_text("Vidéo en cours")
        await history.locator("#history-regulator").fill("regulateur")
        await history.get_by_role("button", name="Filtrer").click()
        await expect(rows).to_have_count(1)
        # Chosen dates, as days of the centre (Paris): today finds it, yesterday does not.
        today = datetime.now(ZoneInfo("Europe/Paris")).date()
        await history.locator("#history-period").select_option(label="Dates choisies")
        await history.locator("#history-from").fill((today - timedelta(days=1)).isoformat())
        await history.locator("#history-to").fill((today - timedelta(days=1)).isoformat())
        await expect(history.locator("[data-field=count]")).to_have_text(
            "Aucune visio ne correspond."
        )
        await history.locator("#history-to").fill(today.isoformat())
        await expect(rows).to_have_count(1)
        await console.shot("history-dates")
        await console.shot("history-search")
        # Readable at 1280x720 beside the side panel: the table fits in its card.
        fits = await history.evaluate(
            "(card) => card.querySelector('.history-table').getBoundingClientRect().right"
            " <= card.getBoundingClientRect().right"
        )
        assert fits, "the history's table overflows its card"

        # Rejoin the live session from the history: the video is there again.
        await rows.first.locator("a.history-open").click()
        await expect(page).to_have_url(re.compile(f"#/session/{session_id}$"))
        await expect(room.locator("[data-field=video]")).to_have_attribute(
            "data-playing", "true", timeout=20000
        )
        await console.shot("session-page-rejoined")

        # End it; the history shows it ended, with its report.
        await room.locator("[data-field=end]").click()
        await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
        await expect(room.locator("[data-field=state]")).to_have_text("Terminée")
        await page.locator("#history-open").click()
        await expect(rows.first).to_contain_text("Terminée")
        report_link = rows.first.get_by_role("link", name=re.compile("^Rapport de la visio du"))
        await expect(report_link).to_have_text("Rapport")
        await report_link.click()

        # The printable report: the centre, the call, the timeline in French, the stills.
        await page.wait_for_url(f"{console.base}/console/sessions/{session_id}/report")
        await expect(page.locator("h1")).to_have_text("Rapport de visio")
        sheet = page.locator(".report-sheet")
        await expect(sheet).to_contain_text("Centre 15")
        await expect(sheet).to_contain_text("Dr Claire Martin")
        await expect(sheet).to_contain_text("06\u00a012\u00a034\u00a056\u00a078")
        await expect(sheet).to_contain_text("Visio associée à l'appel")
        await expect(sheet).to_contain_text("Vidéo du patient reçue")
        await expect(sheet).to_contain_text("Visio terminée par Dr Claire Martin")
        stills = sheet.locator(".report-still img")
        await expect(stills).to_have_count(2)
        for index in range(2):
            await expect(stills.nth(index)).to_have_js_property("complete", True)
            assert await stills.nth(index).evaluate("(image) => image.naturalWidth") > 0
        await console.shot("report-page")
        await page.emulate_media(media="print")
        await expect(page.locator(".report-actions")).to_be_hidden()
        await console.shot("report-page-print")
        await page.emulate_media(media="screen")

        # The PDF, downloaded as the regulator does, and its text read back.
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Télécharger le PDF").click()
        download = await download_info.value
        assert re.fullmatch(
            r"rapport-visio-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\.pdf", download.suggested_filename
        )
        saved = artifacts / download.suggested_filename
        await download.save_as(saved)
        reader = PdfReader(io.BytesIO(saved.read_bytes()))
        content = " ".join(p.extract_text() for p in reader.pages).replace("\u00a0", " ")
        content = content.replace("\n", " ")
        for expected in (
            "Rapport de visio",
            "Centre 15",
            "Dr Claire Martin",
            "06 12 34 56 78",
            "Visio associée à l'appel",
            "Caméra autorisée par le patient",
            "Vidéo du patient reçue",
            "Capture d'écran prise par Dr Claire Martin",
            "Europe/Paris",
        ):
            assert expected in content, (expected, content)
        assert sum(len(p.images) for p in reader.pages) == 2

        # Back to the session's page from the report.
        await page.get_by_role("link", name="Retour à la visio").click()
        await expect(page.locator("#stage .room [data-field=state]")).to_have_text("Terminée")
        assert call.returncode is None, "the call is still up"
        # A still that came too late was answered 409 (« Capture impossible »), then taken again.
        assert not console.unexpected_problems(*((409,) if retried else ())), console.problems
        await patient.close()
    finally:
        await sandbox.cli("channel request hangup all")
        for sipp in (call, phone):
            with contextlib.suppress(TimeoutError):
                await sipp.wait(10)
            await sipp.stop()
