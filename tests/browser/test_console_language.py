"""The console in the browser's language, and its FR / EN switch, in real Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Playwright, expect

from tests.integration.service import PASSWORD, add_account
from tests.web.conftest import make_settings

from .conftest import launch
from .pages import ConsolePage, start_service, watch

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture
async def english_browser(
    playwright_driver: Playwright, chromium: str, tmp_path: Path
) -> AsyncIterator[BrowserContext]:
    """A Chromium set to British English: it asks for ``en-GB`` pages."""
    context = await launch(playwright_driver, chromium, tmp_path / "profile-en", language="en-GB")
    try:
        yield context
    finally:
        await context.close()


async def test_given_an_english_browser_then_the_console_is_english_until_fr_is_chosen(
    english_browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    client = await start_service(aiohttp_client, make_settings(tmp_path), tmp_path)
    await add_account(client, "regulateur")
    base = str(client.make_url("/")).rstrip("/")
    page = await english_browser.new_page()
    console = ConsolePage(page, base, artifacts)
    watch(page, console.problems)

    await page.goto(f"{base}/console/login")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#login-heading")).to_have_text("Sign in to the console")
    await expect(page).to_have_title("Sign in — VisioRegul")
    await expect(page.locator(".language-switch [aria-current=true]")).to_have_text("EN")
    await console.shot("console-login-en")

    await page.fill("#username", "regulateur")
    await page.fill("#password", PASSWORD)
    await page.click("#login-form [type=submit]")
    await page.wait_for_url(f"{base}/console")
    # The account may take any declared desk: the console asks which, in English.
    await expect(page.locator("#position-dialog-title")).to_have_text("Change position")
    await page.select_option("#position-input", "PJSIP/1001")
    await page.click("#position-submit")
    await expect(page.locator("#logout")).to_have_text("Sign out")
    # Built by the script from the English catalogue, not only served in English.
    await expect(page.locator("#position-label")).to_contain_text("PJSIP/1001")
    await expect(page.locator("#stage")).to_contain_text("No call in progress")
    await page.click("#history-open")
    await expect(page).to_have_url(f"{base}/console#/history")
    await expect(page.locator("#history-title")).to_have_text("Video history")
    await console.shot("console-history-en")

    # FR: the console comes back in French at the same place, and stays French.
    await page.locator(".language-switch a[data-language=fr]").click()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page).to_have_url(f"{base}/console#/history")
    await expect(page.locator("#history-title")).to_have_text("Historique des visios")
    await expect(page.locator("#logout")).to_have_text("Déconnexion")
    await expect(page.locator(".language-switch [aria-current=true]")).to_have_text("FR")
    await page.reload()
    await expect(page.locator("#history-title")).to_have_text("Historique des visios")
    await console.shot("console-history-fr")
    assert console.unexpected_problems() == []
