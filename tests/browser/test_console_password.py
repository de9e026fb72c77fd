"""The regulator changes their own password from the console, in real Chromium: a link in the
console's side column leads to the page, a wrong current password is refused in French, the
change is confirmed and the new password signs in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, expect

from tests.integration.service import PASSWORD

from .pages import log_in, settings, start_service

NEW_PASSWORD = "une phrase de passe neuve"


async def test_given_the_console_then_the_regulator_changes_their_password(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts, display_name="Dr Martin")
    page = console.page
    await page.get_by_role("link", name="Changer mon mot de passe").click()
    await page.wait_for_url(f"{console.base}/console/password")
    await expect(page.get_by_role("heading", name="Changer mon mot de passe")).to_be_visible()

    await page.get_by_label("Mot de passe actuel").fill("pas le bon mot de passe")
    await page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Confirmez le nouveau mot de passe").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Enregistrer le nouveau mot de passe").click()
    await expect(page.locator("#password-error")).to_have_text("Mot de passe actuel incorrect.")
    await console.shot("password-refused")

    await page.get_by_label("Mot de passe actuel").fill(PASSWORD)
    await page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Confirmez le nouveau mot de passe").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Enregistrer le nouveau mot de passe").click()
    await expect(page.locator("#password-done")).to_be_visible()
    await expect(page.locator("#password-error")).to_be_hidden()
    await console.shot("password-changed")

    # Still signed in here; the new password is the one that signs in.
    await page.get_by_role("link", name="Retour à la console").click()
    await page.wait_for_url(f"{console.base}/console")
    response = await client.post(
        "/console/login",
        data={"username": "regulateur", "password": NEW_PASSWORD},
        headers={"Origin": console.base},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/console"
    assert not console.unexpected_problems(400), console.problems
