"""The console as a regulator sees it: real Chromium, a real call in the sandbox Asterisk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, expect

from tests.integration.service import PASSWORD, Client, add_account, service_settings, wait_link_up
from visioregul.integration.app import create_app
from visioregul.integration.sandbox.asterisk import SandboxAsterisk
from visioregul.integration.sandbox.sipp import place_call, start_phone

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]


async def test_given_a_15_call_answered_at_1001_then_the_console_offers_the_invitation(
    browser: BrowserContext,
    sandbox: SandboxAsterisk,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    client: Client = await aiohttp_client(create_app(service_settings(sandbox, "ami", tmp_path)))
    await wait_link_up(client)
    await add_account(client, "regulateur")
    base = str(client.make_url("/")).rstrip("/")
    page = await browser.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))

    await page.goto(f"{base}/console/login?error=invalid_credentials")
    await expect(page.locator("#login-error")).to_contain_text("Identifiant ou mot de passe")
    await page.screenshot(path=artifacts / "console-login.png")
    await page.fill("#username", "regulateur")
    await page.fill("#password", PASSWORD)
    await page.fill("#position", "1001")
    await page.click("#login-form [type=submit]")
    await page.wait_for_url(f"{base}/console")
    await expect(page.locator("#position-label")).to_contain_text("PJSIP/1001")
    await expect(page.locator("#telephony-pill")).to_contain_text("connectée")
    await expect(page.locator("#stage")).to_contain_text("Aucun appel en cours")
    await page.screenshot(path=artifacts / "console-empty.png")

    phone = await start_phone(sandbox, "1001")
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=4000)
    card = page.locator("#stage .call-card")
    await expect(card.locator("[data-field=number]")).to_have_text("06 12 34 56 78", timeout=10000)
    await expect(card.locator("[data-field=kind]")).to_contain_text("Mobile")
    await expect(card.locator(".invite-input")).to_have_value("+33612345678")
    await page.screenshot(path=artifacts / "console-offer.png")

    await card.locator("[data-field=submit]").click()
    await expect(card.locator("[data-field=result]")).to_contain_text("+33612345678")
    await page.screenshot(path=artifacts / "console-invitation-recorded.png")

    await card.locator(".invite-input").fill("01 45 67 89 01")
    await card.locator("[data-field=submit]").click()
    await expect(card.locator("[data-field=error]")).to_contain_text("numéro fixe")

    assert await call.wait(15) == 0
    assert await phone.wait(15) == 0
    await expect(card.locator("[data-field=state]")).to_contain_text("Terminé", timeout=10000)
    await page.screenshot(path=artifacts / "console-ended.png")
    # The refused landline is a 400 the page handled; nothing else may go wrong.
    assert [p for p in problems if "400" not in p] == []
