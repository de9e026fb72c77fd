"""The technical test page in real Chromium with the fake camera: the camera, a real connection
to the service's throw-away peer, the verdict; opened from a link, the result in the room."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Playwright, expect

from visioregul.integration.web import appkeys

from .conftest import launch
from .pages import log_in, open_link, patient_link, settings, start_service

pytestmark = [pytest.mark.timeout(120)]


async def test_given_the_test_page_when_run_then_camera_network_and_a_verdict(
    playwright_driver: Playwright,
    chromium: str,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    base = str(client.make_url("/")).rstrip("/")
    phone = await launch(playwright_driver, chromium, tmp_path / "phone")
    try:
        page = await open_link(phone, f"{base}/test")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Tester votre téléphone pour la vidéo"
        )
        await page.get_by_role("button", name="Lancer le test").click()
        verdict = page.locator("#test-verdict")
        await expect(verdict).to_be_visible(timeout=30_000)
        await expect(page.locator("#test-resolution")).to_have_text("1280 × 720")
        await expect(page.locator("#test-torch")).to_have_text("non")
        await expect(page.locator("#test-connect")).to_have_text(re.compile(r"^\d+ ms$"))
        assert await verdict.get_attribute("data-verdict") in ("ready", "fragile")
        await expect(page.locator("#test-bitrate")).to_contain_text("kbit/s")
        await expect(page.locator("#test-relay")).to_have_text("non")
        await expect(page.locator("#test-sent")).to_be_hidden()
        await page.screenshot(path=artifacts / "testpage-verdict.png", full_page=True)
        # The peer goes away by itself once the page closed its side.
        peers = client.app[appkeys.TEST_PEERS]
        for _ in range(100):
            if peers.active == 0:
                break
            await page.wait_for_timeout(100)
        assert peers.active == 0
    finally:
        await phone.close()


async def test_given_the_test_page_opened_from_a_link_then_the_room_reads_the_result(
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

    phone = await launch(playwright_driver, chromium, tmp_path / "phone")
    try:
        patient = await open_link(phone, link)
        test_link = patient.get_by_role("link", name="Un problème\u00a0? Tester mon téléphone")
        await expect(test_link).to_have_attribute("href", f"{link.removeprefix(console.base)}/test")
        await test_link.click()
        await expect(patient).to_have_url(f"{link}/test")
        await patient.get_by_role("button", name="Lancer le test").click()
        sent = patient.locator("#test-sent")
        await expect(sent).to_be_visible(timeout=30_000)
        await expect(sent).to_have_text("Résultat transmis au régulateur.")
        await expect(patient.locator("#test-verdict")).to_be_visible()
        await console.shot("testpage-from-link", patient)
        await expect(page.locator("#room-side .timeline")).to_contain_text("Test du téléphone")
        await console.shot("testpage-room-timeline")
    finally:
        await phone.close()
