"""Every console and patient screen checked with axe-core in real Chromium, in French and in
English, and the call card's invitation key from a real 15 call.

The screens without a call: the login page with its Pro Santé Connect button (a real OpenID
provider), the console's empty card, the password page and the CAD's refusal page. From a real
call in the sandbox Asterisk: the console's call card (the invitation launched by its key, the
focus out of the field), the patient's page (the link's landing, the camera live), the room
with the patient's video and its ending dialog, the history and the session's report. The
same screens in English, in a browser that asks for English pages (the console's language
follows ``Accept-Language``; the invitation, hence the patient's page, is sent in the console's).
Each screen's serious and critical violations are printed, and any fails the test (the moderate
and minor ones are printed only).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Playwright, expect

from tests.integration.service import service_settings, wait_link_up
from tests.oidc.provider import running_provider, settings_for
from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone

from .a11y import check
from .conftest import launch
from .pages import log_in, patient_link, settings, start_service, watch
from .pages import loopback_ice as loopback_ice  # the fixture, used by name below

CALLER = "+33612345678"


@pytest.fixture
async def english_browser(
    playwright_driver: Playwright, chromium: str, tmp_path: Path
) -> AsyncIterator[BrowserContext]:
    """A Chromium set to British English (it asks for ``en-GB`` pages), with a fake camera."""
    context = await launch(playwright_driver, chromium, tmp_path / "profile-en", language="en-GB")
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def english_phone(
    playwright_driver: Playwright, chromium: str, tmp_path: Path
) -> AsyncIterator[BrowserContext]:
    """The patient's phone, another Chromium set to British English (its own window: a page in
    the console's would be a background tab, which the browser stops painting)."""
    context = await launch(
        playwright_driver, chromium, tmp_path / "profile-en-phone", language="en-GB"
    )
    try:
        yield context
    finally:
        await context.close()


@pytest.mark.timeout(90)
async def test_given_the_screens_without_a_call_then_axe_finds_nothing_serious(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    configured = settings(tmp_path)
    async with running_provider([]) as provider:
        configured.psc = settings_for(provider)
        client = await start_service(aiohttp_client, configured, tmp_path)
        failures: list[str] = []
        base = str(client.make_url("/")).rstrip("/")

        anonymous = await browser.new_page()
        await anonymous.goto(f"{base}/console/login")
        await expect(anonymous.locator("#psc-signin")).to_be_visible()
        await check(anonymous, "login page", failures)
        await anonymous.screenshot(path=artifacts / "a11y-login.png", full_page=True)
        await anonymous.goto(f"{base}/console/cad?token=not-a-token")
        await expect(anonymous.locator("h1")).to_be_visible()
        await check(anonymous, "CAD refusal page", failures)
        await anonymous.screenshot(path=artifacts / "a11y-cad-refused.png", full_page=True)
        await anonymous.close()

        console = await log_in(browser, client, artifacts, display_name="Dr Claire Martin")
        page = console.page
        await expect(page.locator("#stage .call-card")).to_be_visible()
        await check(page, "console without a call", failures)
        await page.get_by_role("link", name="Changer mon mot de passe").click()
        await page.wait_for_url(f"{console.base}/console/password")
        await check(page, "password page", failures)
        await console.shot("a11y-password")
        assert not failures, "\n".join(failures)
        assert not console.unexpected_problems(), console.problems


@pytest.mark.asterisk
@pytest.mark.timeout(180)
@pytest.mark.usefixtures("loopback_ice")
async def test_given_a_call_then_its_screens_pass_axe_and_its_card_invites_by_key(
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
    failures: list[str] = []
    phone = await start_phone(sandbox, "1001")
    call = await place_call(sandbox, CALLER, "151001", duration_ms=60000)
    try:
        card = page.locator("#stage .call-card")
        await expect(card.locator(".invite-input")).to_have_value("06 12 34 56 78", timeout=10000)
        await check(page, "call card", failures)
        submit = card.get_by_role("button", name="Lancer l'invitation")
        await expect(submit).to_have_attribute("aria-keyshortcuts", "i")
        await expect(submit.locator("kbd")).to_have_text("I")
        await console.shot("a11y-call-card")

        # Typing "i" in the field types it; a modifier does nothing; "i" out of the field invites.
        field = card.locator(".invite-input")
        await field.focus()
        await page.keyboard.press("i")
        await expect(field).to_have_value("06 12 34 56 78i")
        await field.fill("06 12 34 56 78")
        await card.locator("[data-field=number]").click()
        await page.keyboard.press("Control+i")
        await page.keyboard.press("Shift+I")
        await expect(page).not_to_have_url(re.compile(r"#/session/"))
        await page.keyboard.press("i")
        await expect(page).to_have_url(re.compile(r"#/session/[0-9a-f]{32}$"))
        session_id = page.url.rsplit("/", 1)[-1]

        # The patient's page: the link's landing, then the camera live.
        patient = await second_browser.new_page()
        problems: list[str] = []
        watch(patient, problems)
        await patient.set_viewport_size({"width": 390, "height": 844})
        await patient.goto(await patient_link(page, console.base))
        start = patient.get_by_role("button", name="Activer la caméra")
        await expect(start).to_be_enabled()
        await check(patient, "patient page, landing", failures)
        await console.shot("a11y-patient-landing", patient)
        await start.click()
        await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
        await check(patient, "patient page, camera live", failures)
        await console.shot("a11y-patient-live", patient)

        room = page.locator("#stage .room")
        await expect(room.locator("[data-field=video]")).to_have_attribute(
            "data-playing", "true", timeout=20000
        )
        await check(page, "room with the patient's video", failures)
        await console.shot("a11y-room")
        await room.locator("[data-field=end]").click()
        end_dialog = page.locator("#end-dialog")
        await expect(end_dialog).to_be_visible()
        await check(page, "room, ending dialog", failures)
        await page.keyboard.press("Escape")
        await expect(end_dialog).to_be_hidden()

        await page.locator("#history-open").click()
        history = page.locator("#stage .history")
        await expect(history.locator("tbody tr")).to_have_count(1)
        await check(page, "history", failures)
        await console.shot("a11y-history")

        await page.goto(f"{console.base}/console/sessions/{session_id}/report")
        await expect(page.locator("h1")).to_have_text("Rapport de visio")
        await check(page, "report page", failures)
        await console.shot("a11y-report")
        assert not failures, "\n".join(failures)
        assert not console.unexpected_problems(), console.problems
        await patient.close()
    finally:
        await sandbox.cli("channel request hangup all")
        for sipp in (call, phone):
            with contextlib.suppress(TimeoutError):
                await sipp.wait(10)
            await sipp.stop()


@pytest.mark.timeout(150)
@pytest.mark.usefixtures("loopback_ice")
async def test_given_an_english_browser_then_every_screen_in_english_passes_axe(
    english_browser: BrowserContext,
    english_phone: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    configured = settings(tmp_path)
    async with running_provider([]) as provider:
        configured.psc = settings_for(provider)
        client = await start_service(aiohttp_client, configured, tmp_path)
        failures: list[str] = []
        base = str(client.make_url("/")).rstrip("/")

        anonymous = await english_browser.new_page()
        await anonymous.goto(f"{base}/console/login")
        await expect(anonymous.locator("html")).to_have_attribute("lang", "en")
        await expect(anonymous.locator("#login-heading")).to_have_text("Sign in to the console")
        await check(anonymous, "login page (en)", failures)
        await anonymous.screenshot(path=artifacts / "a11y-en-login.png", full_page=True)
        await anonymous.goto(f"{base}/console/cad?token=not-a-token")
        await expect(anonymous.locator("html")).to_have_attribute("lang", "en")
        await check(anonymous, "CAD refusal page (en)", failures)
        await anonymous.screenshot(path=artifacts / "a11y-en-cad-refused.png", full_page=True)
        await anonymous.close()

        console = await log_in(english_browser, client, artifacts, display_name="Dr Claire Martin")
        page = console.page
        await expect(page.locator("#logout")).to_have_text("Sign out")
        await expect(page.locator("#stage .call-card")).to_be_visible()
        await check(page, "console without a call (en)", failures)
        await console.shot("a11y-en-console")

        # An invitation from the card, the patient's page (in English) and its camera.
        card = page.locator("#stage .call-card")
        await card.locator(".invite-input").fill("06 12 34 56 78")
        await card.locator("[data-field=submit]").click()
        await expect(page).to_have_url(re.compile(r"#/session/[0-9a-f]{32}$"))
        session_id = page.url.rsplit("/", 1)[-1]
        patient = await english_phone.new_page()
        problems: list[str] = []
        watch(patient, problems)
        await patient.set_viewport_size({"width": 390, "height": 844})
        await patient.goto(await patient_link(page, console.base))
        await expect(patient.locator("html")).to_have_attribute("lang", "en")
        start = patient.get_by_role("button", name="Turn on the camera")
        await expect(start).to_be_enabled()
        await check(patient, "patient page, landing (en)", failures)
        await console.shot("a11y-en-patient-landing", patient)
        await start.click()
        await expect(patient.locator("#status")).to_have_text("The regulator can see you")
        await check(patient, "patient page, camera live (en)", failures)
        await console.shot("a11y-en-patient-live", patient)

        room = page.locator("#stage .room")
        await expect(room.locator("[data-field=video]")).to_have_attribute(
            "data-playing", "true", timeout=20000
        )
        await check(page, "room with the patient's video (en)", failures)
        await console.shot("a11y-en-room")
        await room.locator("[data-field=end]").click()
        end_dialog = page.locator("#end-dialog")
        await expect(end_dialog).to_be_visible()
        await check(page, "room, ending dialog (en)", failures)
        await console.shot("a11y-en-end-dialog")
        await end_dialog.locator("button[value=end]").click()
        await expect(end_dialog).to_be_hidden()

        await page.locator("#history-open").click()
        history = page.locator("#stage .history")
        await expect(history.locator("[data-field=title]")).to_have_text("Video history")
        await expect(history.locator("tbody tr")).to_have_count(1)
        await history.get_by_label("Outcome").select_option(label="Video seen")
        await expect(history.locator("[data-field=count]")).to_have_text("1 video")
        await expect(history.locator("tbody tr")).to_contain_text("Ended")
        await check(page, "history (en)", failures)
        await console.shot("a11y-en-history")

        await page.goto(f"{console.base}/console/sessions/{session_id}/report")
        await expect(page.locator("h1")).to_have_text("Video session report")
        await check(page, "report page (en)", failures)
        await console.shot("a11y-en-report")

        await page.goto(f"{console.base}/console/password")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await check(page, "password page (en)", failures)
        await console.shot("a11y-en-password")
        assert not failures, "\n".join(failures)
        assert not console.unexpected_problems(), console.problems
        assert not problems, problems
        await patient.close()
