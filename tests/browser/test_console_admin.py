"""The administration page in real Chromium: a centre administrator lands on it, creates an
account, unlocks it after wrong passwords, resets its password (the account then signs in and is
asked to choose its own) and deactivates it (its console is signed out); a platform administrator
creates a centre and manages it. Every screen is checked with axe-core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, expect

from tests.integration.service import PASSWORD, Client
from visioregul.integration import accounts
from visioregul.integration.store.models import Role
from visioregul.integration.web import appkeys

from .a11y import check
from .pages import ConsolePage, settings, start_service, watch

TEMPORARY = "provisoire-2026-12"
OWN = "ma phrase de passe à moi"


async def add(client: Client, username: str, role: Role) -> None:
    async with client.app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db, username, PASSWORD, display_name=username.title(), role=role
        )


async def sign_in(page: Page, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/console/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-form [type=submit]")


async def open_admin(
    browser: BrowserContext, client: Client, artifacts: Path, username: str
) -> ConsolePage:
    base = str(client.make_url("/")).rstrip("/")
    page = await browser.new_page()
    console = ConsolePage(page, base, artifacts)
    watch(page, console.problems)
    await sign_in(page, base, username, PASSWORD)
    # An administrator has no calls: signing in lands on the administration.
    await page.wait_for_url(f"{base}/console/admin")
    await expect(page.get_by_role("heading", name="Administration", level=1)).to_be_visible()
    await expect(page.get_by_role("link", name="Administration", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    return console


def row(page: Page, username: str) -> Any:
    return page.locator(f"#accounts-body tr[data-username='{username}']")


async def test_given_a_centre_admin_then_accounts_are_created_unlocked_reset_and_deactivated(
    browser: BrowserContext,
    second_browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    await add(client, "chef", Role.ADMIN)
    console = await open_admin(browser, client, artifacts, "chef")
    page, base = console.page, console.base
    failures: list[str] = []
    await expect(row(page, "chef")).to_contain_text("Administrateur")
    await expect(page.locator("#positions-list")).to_contain_text("PJSIP/1002")
    await console.shot("admin-centre")
    await check(page, "administration page", failures)

    # A new account: a doctor at PJSIP/1002, its temporary password generated.
    await page.get_by_role("button", name="Créer un compte").click()
    dialog = page.locator("#account-dialog")
    await expect(dialog.get_by_role("heading", name="Nouveau compte")).to_be_visible()
    await dialog.get_by_label("Identifiant").fill("Dr.Durand")
    await dialog.get_by_label("Nom", exact=True).fill("Dr Alice Durand")
    await dialog.get_by_label("Rôle").select_option("doctor")
    await dialog.get_by_label("PJSIP/1002").check()
    await dialog.get_by_role("button", name="Générer un mot de passe provisoire").click()
    generated = await dialog.locator("#account-password").input_value()
    assert len(generated) == 19, generated
    await console.shot("admin-account-new", full_page=False)
    await check(page, "new account dialog", failures)
    await dialog.get_by_role("button", name="Créer le compte").click()
    await expect(page.locator("#account-dialog-status")).to_contain_text("Compte dr.durand créé")
    await expect(dialog.get_by_role("heading", name="Compte dr.durand")).to_be_visible()
    await console.shot("admin-account-created", full_page=False)
    await check(page, "account dialog", failures)
    await dialog.get_by_role("button", name="Fermer").click()
    created = row(page, "dr.durand")
    await expect(created).to_contain_text("Médecin régulateur")
    await expect(created).to_contain_text("PJSIP/1002")
    await expect(created.locator("[data-field=state]")).to_have_text("ActifMot de passe provisoire")

    # The doctor mistypes their password until their sign-ins are delayed.
    desk = await second_browser.new_page()
    desk_problems: list[str] = []
    watch(desk, desk_problems)
    throttle = client.app[appkeys.LOGIN_LIMITER]
    for _ in range(throttle.free_failures):
        await sign_in(desk, base, "dr.durand", "pas le bon mot de passe")
        await expect(desk.locator("#login-error")).to_be_visible()
    assert await throttle.locked_out("user:dr.durand")
    await page.reload()
    await expect(created.locator("[data-field=state]")).to_contain_text("Verrouillé")
    await created.get_by_role("button", name="Gérer le compte dr.durand").click()
    await expect(dialog.locator("#lock-text")).to_contain_text("sont retardées")
    await console.shot("admin-account-locked", full_page=False)
    await dialog.get_by_role("button", name="Déverrouiller").click()
    await expect(page.locator("#account-dialog-status")).to_have_text(
        "Compte dr.durand déverrouillé."
    )
    await expect(dialog.get_by_role("button", name="Déverrouiller")).to_be_disabled()
    await expect(created.locator("[data-field=state]")).not_to_contain_text("Verrouillé")
    assert not await throttle.locked_out("user:dr.durand")

    # A new temporary password: the doctor signs in with it and must choose their own.
    await dialog.locator("#reset-password").fill(TEMPORARY)
    await dialog.get_by_role("button", name="Réinitialiser le mot de passe").click()
    await expect(page.locator("#account-dialog-status")).to_contain_text(
        "Mot de passe de dr.durand réinitialisé"
    )
    await console.shot("admin-account-reset", full_page=False)
    # The wrong passwords came from this machine's address too, which an unlock leaves alone:
    # as if the doctor were at another desk, forget the address's failures.
    await throttle.succeeded("ip:127.0.0.1")
    await sign_in(desk, base, "dr.durand", TEMPORARY)
    await desk.wait_for_url(f"{base}/console/password")
    await expect(desk.locator("#password-required")).to_be_visible()
    await expect(desk.locator("#password-back")).to_be_hidden()
    await desk.screenshot(path=artifacts / "admin-password-required.png", full_page=True)
    await check(desk, "password page, change required", failures)
    await desk.get_by_label("Mot de passe actuel").fill(TEMPORARY)
    await desk.get_by_label("Nouveau mot de passe", exact=True).fill(OWN)
    await desk.get_by_label("Confirmez le nouveau mot de passe").fill(OWN)
    await desk.get_by_role("button", name="Enregistrer le nouveau mot de passe").click()
    await desk.wait_for_url(f"{base}/console")
    await expect(desk.locator("#position-label")).to_contain_text("1002")

    # Deactivated: the doctor's console is signed out at once.
    page.once("dialog", lambda confirm: confirm.accept())
    await dialog.get_by_role("button", name="Désactiver le compte").click()
    await expect(page.locator("#account-dialog-status")).to_contain_text(
        "Compte dr.durand désactivé"
    )
    await expect(dialog.get_by_role("button", name="Réactiver le compte")).to_be_visible()
    await dialog.get_by_role("button", name="Fermer").click()
    await expect(created.locator("[data-field=state]")).to_have_text("Désactivé")
    await console.shot("admin-account-disabled")
    await desk.wait_for_url(f"{base}/console/login", timeout=30_000)

    # One's own account: nothing to deactivate, demote or reset here.
    await row(page, "chef").get_by_role("button", name="Gérer le compte chef").click()
    await expect(dialog.locator("#account-self")).to_be_visible()
    await expect(dialog.locator("#account-manage")).to_be_hidden()
    await expect(dialog.get_by_label("Rôle")).to_be_disabled()
    await console.shot("admin-account-self", full_page=False)
    await dialog.get_by_role("button", name="Fermer").click()

    # A position given to nobody alone is removed; the list follows.
    await page.get_by_label("Nouveau poste").fill("PJSIP/1009")
    await page.get_by_role("button", name="Ajouter le poste").click()
    await expect(page.locator("#admin-status")).to_have_text("Poste PJSIP/1009 ajouté.")
    await page.get_by_role("button", name="Retirer le poste PJSIP/1002").click()
    await expect(page.locator("#admin-error")).to_contain_text("seul donné à")
    await page.get_by_role("button", name="Retirer le poste PJSIP/1009").click()
    await expect(page.locator("#admin-status")).to_have_text("Poste PJSIP/1009 retiré.")
    await expect(page.locator("#positions-list li[data-position='PJSIP/1009']")).to_have_count(0)

    # The centre's settings: its name and time zone.
    await page.locator("#settings-name").fill("SAMU 31")
    await page.locator("#settings-zone").select_option("America/Cayenne")
    await page.get_by_role("button", name="Enregistrer les réglages").click()
    await expect(page.locator("#admin-status")).to_have_text("Réglages du centre enregistrés.")
    await console.shot("admin-settings")
    await check(page, "administration page after changes", failures)
    assert not failures, "\n".join(failures)
    # The refusals the page showed (the position still given alone) are its only errors.
    assert not console.unexpected_problems(409), console.problems
    assert not [p for p in desk_problems if "401" not in p], desk_problems


async def test_given_a_platform_admin_then_a_centre_is_created_and_chosen(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    await add(client, "plateforme", Role.PLATFORM_ADMIN)
    console = await open_admin(browser, client, artifacts, "plateforme")
    page = console.page
    failures: list[str] = []
    await expect(page.get_by_role("heading", name="Nouveau centre")).to_be_visible()
    await page.get_by_label("Code").fill("samu-974")
    await page.locator("#centre-name").fill("SAMU 974 La Réunion")
    await page.locator("#centre-zone").select_option("Indian/Reunion")
    await page.get_by_role("button", name="Créer le centre").click()
    await expect(page.locator("#admin-status")).to_have_text("Centre « SAMU 974 La Réunion » créé.")
    chosen = page.get_by_label("Centre administré")
    await expect(chosen.locator("option:checked")).to_have_text("SAMU 974 La Réunion (samu-974)")
    await expect(page.locator("#settings-zone")).to_have_value("Indian/Reunion")
    await expect(page.locator("#accounts-empty")).to_be_visible()
    await expect(page.locator("#positions-empty")).to_be_visible()
    await console.shot("admin-platform-centre")
    await check(page, "administration page, platform", failures)
    # Back to the first centre: its own accounts.
    await chosen.select_option(label="Centre 15 (default)")
    await expect(row(page, "plateforme")).to_contain_text("Administrateur de la plateforme")
    # In English, from the page's switch.
    await page.get_by_role("link", name="EN").click()
    await expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    await expect(row(page, "plateforme")).to_contain_text("Platform administrator")
    await expect(page.locator("#settings-zone option").nth(1)).to_have_text(
        "Metropolitan France — Europe/Paris"
    )
    await console.shot("admin-platform-english")
    assert not failures, "\n".join(failures)
    assert not console.unexpected_problems(), console.problems
