"""Signing in with Pro Santé Connect in a real Chromium, against a real OpenID provider.

The login page's button, the provider's login page (a card number), the console signed in; an
unknown practitioner's refusal page; signing out at the provider from the console; the
provider's back-channel logout closing an open console. Screenshots of each screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, unused_port
from playwright.async_api import BrowserContext, Page, Response, WebSocket, expect

from tests.oidc.provider import Provider, client, running_provider, settings_for
from visioregul.integration import accounts, audit
from visioregul.integration.app import create_app
from visioregul.integration.practitioners import set_practitioner_id
from visioregul.integration.store.models import Role
from visioregul.integration.web import appkeys

from .pages import PASSWORD, ConsolePage, settings, watch

CARD = "810012345678"
UNKNOWN_CARD = "810099999999"


@pytest.fixture
async def service(
    aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Provider]]:
    """The service registered with a running provider, and Dr Dupont's account on card CARD."""
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    async with running_provider([client(base)]) as provider:
        configured = settings(tmp_path)
        configured.service = configured.service.model_copy(
            update={"data_dir": tmp_path, "public_url": base}
        )
        configured.psc = settings_for(provider)
        service = await aiohttp_client(create_app(configured), server_kwargs={"port": port})
        async with service.app[appkeys.DB].begin() as db:
            await accounts.ensure_account(
                db,
                "mdupont",
                PASSWORD,
                display_name="Dr Dupont",
                role=Role.DOCTOR,
                position="PJSIP/1003",
                positions=["PJSIP/1003"],
            )
            await set_practitioner_id(db, "mdupont", CARD)
        yield service, provider


async def _sign_in_at_provider(page: Page, provider: Provider, card: str) -> None:
    await page.wait_for_url(f"{provider.issuer}/interaction/**")
    await expect(page.get_by_label("Numéro de carte (identifiant national)")).to_be_visible()
    await page.fill("#card", card)
    await page.fill("#code", "1234")
    await page.click("button[type=submit]")


async def _actions(service: TestClient[web.Request, web.Application], action: str) -> list[Any]:
    async with service.app[appkeys.DB]() as db:
        return [entry.details for entry in await audit.recent(db, action=action)]


async def test_given_the_login_page_when_signing_in_with_psc_then_the_console_opens_and_signs_out_there_too(  # noqa: E501
    service: tuple[TestClient[web.Request, web.Application], Provider],
    browser: BrowserContext,
    artifacts: Path,
) -> None:
    client_, provider = service
    base = str(client_.make_url("/")).rstrip("/")
    page = await browser.new_page()
    console = ConsolePage(page, base, artifacts)
    watch(page, console.problems)
    failed: list[tuple[int, str]] = []

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failed.append((response.status, response.url.split("?")[0]))

    page.on("response", on_response)

    await page.goto(f"{base}/console/login")
    button = page.get_by_role("link", name="Se connecter avec Pro Santé Connect")
    await expect(button).to_be_visible()
    await expect(page.locator(".login-or")).to_have_text("ou")
    await expect(page.locator("#psc-new-window")).to_be_hidden()  # not framed: same tab
    await console.shot("psc-login")

    await button.click()
    await _sign_in_at_provider(page, provider, CARD)
    await page.wait_for_url(f"{base}/console")
    await expect(page.locator("#account-name")).to_contain_text("Dr Dupont")
    await expect(page.locator("#position-label")).to_contain_text("1003")
    await console.shot("psc-console")
    (login,) = await _actions(client_, "console.login")
    assert (login["method"], login["practitioner_id"]) == ("psc", CARD)

    # Signing out: the console, then the provider's own confirmation, then back to the login.
    await page.click("#logout")
    await page.wait_for_url(f"{provider.issuer}/session/end**")
    await console.shot("psc-provider-logout")
    await page.get_by_role("button", name="Se déconnecter").click()
    await page.wait_for_url(f"{base}/console/login")
    await expect(button).to_be_visible()
    assert await _actions(client_, "console.logout") == [{"method": "psc"}]
    # Signed out at the provider too: the next sign-in asks for the card again.
    await button.click()
    await _sign_in_at_provider(page, provider, UNKNOWN_CARD)

    # An unknown practitioner: a refusal page that says what to do.
    await expect(page.locator("#page-heading")).to_have_text(
        "Connexion avec Pro Santé Connect refusée"
    )
    await expect(page.locator("#psc-refusal")).to_contain_text(
        "aucun compte de la console ne lui est associé"
    )
    await console.shot("psc-refused")
    (refused,) = await _actions(client_, "console.login_refused")
    assert (refused["reason"], refused["practitioner_id"]) == (
        "unknown_practitioner",
        UNKNOWN_CARD,
    )
    await page.get_by_role("link", name="Retour à la connexion").click()
    await page.wait_for_url(f"{base}/console/login")
    # What failed to load: the test realm's missing icon, the console's own check of its login
    # once signed out, and the refusal itself; no script error.
    assert {(status, path) for status, path in failed} <= {
        (404, f"{provider.issuer}/favicon.ico"),
        (401, f"{base}/console/api/me"),
        (401, f"{base}/console/api/outbox"),
        (401, f"{base}/console/ws"),
        (403, f"{base}/console/psc/callback"),
    }, failed
    assert (403, f"{base}/console/psc/callback") in failed
    assert [p for p in console.problems if not p.startswith("Failed to load resource")] == []


async def test_given_an_open_console_when_the_provider_ends_the_session_then_the_console_closes(
    service: tuple[TestClient[web.Request, web.Application], Provider],
    browser: BrowserContext,
    artifacts: Path,
) -> None:
    client_, provider = service
    base = str(client_.make_url("/")).rstrip("/")
    page = await browser.new_page()
    console = ConsolePage(page, base, artifacts)
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_close(_: WebSocket) -> None:
        if not closed.done():
            closed.set_result(None)

    def on_socket(socket: WebSocket) -> None:
        if socket.url.endswith("/console/ws"):
            socket.on("close", on_close)

    page.on("websocket", on_socket)
    await page.goto(f"{base}/console/login")
    await page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
    await _sign_in_at_provider(page, provider, CARD)
    await page.wait_for_url(f"{base}/console")
    await expect(page.locator("#account-name")).to_contain_text("Dr Dupont")

    # The practitioner signs out at the provider in another tab (another application).
    other = await browser.new_page()
    await other.goto(f"{provider.issuer}/session/end")
    await other.get_by_role("button", name="Se déconnecter").click()
    await expect(other.get_by_text("Vous êtes déconnecté.")).to_be_visible()

    await asyncio.wait_for(closed, 15)
    (logout,) = await _actions(client_, "console.logout")
    assert logout["by"] == "provider"
    # The console's login is gone: the console goes back to the login form by itself.
    await page.wait_for_url(f"{base}/console/login")
    await console.shot("psc-after-backchannel-logout")
