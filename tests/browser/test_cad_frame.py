"""The CAD's screen frames the console, in real Chromium, over TLS, from a real 15 call.

Three HTTPS sites behind a real nginx, each on a loopback address of its own (three sites for the
browser): the service; the CAD's page, whose origin ``[cad_link] frame_ancestors`` lists; and a
page of another origin. The CAD's page mints a token with ``config/examples/cad_deep_link.py``
for the call the regulator's phone just answered and frames ``/console/cad?token=``: the console
opens inside, signed in, on that call's card, with a partitioned cookie, and its CSRF-protected
invitation works. The other origin's frame stays empty: Chromium applies the CSP.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import AsyncIterator
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import BrowserContext, ConsoleMessage, Frame, Page, Playwright, expect
from pydantic import SecretStr

from tests.integration.service import add_account, service_settings, until, wait_link_up
from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from tests.web.nginx import free_port
from tests.web.test_cad_link import EXAMPLE
from visioregul.integration.app import create_app
from visioregul.integration.settings import CadIssuer, CadLinkSettings
from visioregul.integration.web import appkeys

from .conftest import launch
from .pages import watch
from .tls_sites import Site, tls_sites, trust_in_nss, unique_addresses

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(180)]

CALLER = "+33612345678"
SECRET = "the-cad-and-visioregul-share-this-0123456789"
ISSUER = "cad-samu-75"

CAD_PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Logiciel de régulation</title>
<link rel="icon" href="data:,">
<style>
body {{ margin: 0; font: 16px sans-serif; background: #dde3ea; }}
header {{ background: #5a2d0c; color: #fff; padding: 8px 16px; font-weight: bold; }}
iframe {{ border: 0; width: 1280px; height: 640px; display: block; }}
</style></head>
<body><header>Logiciel de régulation — dossier en cours</header>
<iframe id="visio" title="VisioRegul" src="{src}"></iframe></body></html>
"""


def cad_app(console_origin: str) -> web.Application:
    """The CAD's page: mints a token for the regulator, the position and the call asked for,
    with the vendors' example, and frames the console with it."""

    async def page(request: web.Request) -> web.Response:
        token = EXAMPLE.mint_token(
            issuer=ISSUER,
            key=SECRET,
            regulator="regulateur",
            position="PJSIP/1001",
            call=request.query.get("call"),
        )
        src = EXAMPLE.console_url(console_origin, token)
        return web.Response(text=CAD_PAGE.format(src=html.escape(src)), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    return app


@contextlib.asynccontextmanager
async def serve(app: web.Application, port: int) -> AsyncIterator[None]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def partitioned_cookies(browser: BrowserContext, page: Page) -> list[dict[str, Any]]:
    """Every cookie of the browser, with its partition (which Playwright's API leaves out)."""
    cdp = await browser.new_cdp_session(page)
    try:
        result = await cdp.send("Storage.getCookies")
    finally:
        await cdp.detach()
    cookies: list[dict[str, Any]] = result["cookies"]
    return cookies


def console_frame(page: Page, origin: str) -> Frame | None:
    return next((frame for frame in page.frames if frame.url.startswith(origin)), None)


async def test_given_a_cad_page_then_the_framed_console_opens_on_the_call_and_works(
    playwright_driver: Playwright,
    chromium: str,
    sandbox: SandboxAsterisk,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    console_site, cad_site, other_site = (
        Site(address, free_port()) for address in unique_addresses(3)
    )
    settings = service_settings(sandbox, "ami", tmp_path)
    settings = settings.model_copy(
        update={
            "service": settings.service.model_copy(
                update={
                    "public_url": console_site.origin,
                    "trusted_proxies": [ip_network("127.0.0.1/32")],
                }
            ),
            "console": settings.console.model_copy(update={"secure_cookies": True}),
            "cad_link": CadLinkSettings(
                issuers=[CadIssuer(issuer=ISSUER, secret=SecretStr(SECRET))],
                frame_ancestors=[cad_site.origin],
            ),
        }
    )
    client = await aiohttp_client(
        create_app(settings), server_kwargs={"port": console_site.upstream}
    )
    await wait_link_up(client)
    await add_account(client, "regulateur", "Dr Martin")
    home = tmp_path / "home"
    async with (
        serve(cad_app(console_site.origin), cad_site.upstream),
        serve(cad_app(console_site.origin), other_site.upstream),
        tls_sites(tmp_path / "sites", [console_site, cad_site, other_site]) as authority,
    ):
        trust_in_nss(authority, home)
        browser = await launch(playwright_driver, chromium, tmp_path / "profile", home=home)
        phone = await start_phone(sandbox, "1001")
        call = await place_call(sandbox, CALLER, "151001", duration_ms=120000)
        try:
            registry = client.app[appkeys.REGISTRY]
            await until(
                lambda: any(
                    known.state == "answered" for known in registry.calls(position="PJSIP/1001")
                ),
                20,
                "the call answered at PJSIP/1001",
            )
            (live,) = registry.calls(position="PJSIP/1001")

            page = await browser.new_page()
            problems: list[str] = []
            watch(page, problems)
            # The CAD knows the caller's leg by its Uniqueid.
            await page.goto(f"{cad_site.origin}/?call={live.uniqueid}")
            await until(
                lambda: (
                    (frame := console_frame(page, console_site.origin)) is not None
                    and frame.url.startswith(f"{console_site.origin}/console#/call/")
                ),
                20,
                "the console in the CAD's frame",
            )
            frame = page.frame_locator("#visio")
            card = frame.locator("#stage .call-card")
            await expect(card.locator(".invite-input")).to_have_value("06 12 34 56 78")
            await expect(frame.locator("#position-label")).to_contain_text("1001")
            await expect(frame.locator("#account-name")).to_contain_text("Dr Martin")
            await page.screenshot(path=artifacts / "cad-frame-call-card.png")

            # The login cookie lives in the CAD site's partition, third-party-proof.
            (cookie,) = [
                c
                for c in await partitioned_cookies(browser, page)
                if c["name"] == "visioregul_session"
            ]
            assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "None"
            assert cookie["partitionKey"]["topLevelSite"] == f"https://{cad_site.address}"

            # A CSRF-protected action from inside the frame: the invitation opens the room.
            await card.get_by_role("button", name="Lancer l'invitation").click()
            room = frame.locator("#stage .room")
            await expect(room.locator("[data-field=call]")).to_contain_text(
                "Appel associé : 06 12 34 56 78, ligne 15"
            )
            await page.screenshot(path=artifacts / "cad-frame-room.png")

            # The language switch works in the frame too (its cookie is partitioned as well).
            await frame.get_by_role("link", name="EN", exact=True).click()
            await expect(frame.locator("#logout")).to_have_text("Sign out")
            await frame.get_by_role("link", name="FR", exact=True).click()
            await expect(frame.locator("#logout")).to_have_text("Déconnexion")
            assert not problems, problems

            # Another origin's page cannot frame the console: Chromium blocks it by the CSP.
            refusals: list[str] = []

            def on_console(message: ConsoleMessage) -> None:
                if "frame-ancestors" in message.text:
                    refusals.append(message.text)

            other = await browser.new_page()
            other.on("console", on_console)
            await other.goto(f"{other_site.origin}/?call={live.uniqueid}")
            await until(lambda: bool(refusals), 20, "Chromium's frame-ancestors refusal")
            assert cad_site.origin in refusals[0]
            assert await other.frame_locator("#visio").locator("#stage").count() == 0
            assert console_frame(other, console_site.origin) is None or not await asyncio.wait_for(
                other.frame_locator("#visio").locator("body").inner_text(), 10
            )
            await other.screenshot(path=artifacts / "cad-frame-other-origin.png")

            # A call the console does not know: the console all the same, with a calm notice.
            unknown = await browser.new_page()
            await unknown.goto(f"{cad_site.origin}/?call=1733400000.999")
            notice = unknown.frame_locator("#visio").locator("#cad-notice")
            await expect(notice).to_be_visible()
            await expect(notice).to_contain_text("n'est pas (ou plus) sur votre poste")
            await unknown.screenshot(path=artifacts / "cad-frame-unknown-call.png")
            await notice.get_by_role("button", name="Fermer").click()
            await expect(notice).to_be_hidden()

            # A forged token: the French refusal page, with the way to the ordinary login.
            refused = await browser.new_page()
            await refused.goto(f"{console_site.origin}/console/cad?token=forged.token.value")
            await expect(refused.get_by_role("heading")).to_have_text(
                "La console ne s'ouvre pas depuis ce lien"
            )
            await expect(refused.get_by_role("alert")).to_contain_text("n'est pas valable")
            await refused.screenshot(path=artifacts / "cad-link-refused.png")
            await refused.get_by_role("link", name="Se connecter à la console").click()
            await refused.wait_for_url(f"{console_site.origin}/console/login")
        finally:
            await browser.close()
            await sandbox.cli("channel request hangup all")
            for sipp in (call, phone):
                with contextlib.suppress(TimeoutError):
                    await sipp.wait(10)
                await sipp.stop()
