"""The console's pages in the reader's language: ``Accept-Language``, then the FR / EN switch."""

from __future__ import annotations

import html
import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from visioregul.integration.i18n import load_catalogue
from visioregul.integration.web.console_pages import STATIC_DIR, render_page

from .conftest import login

Client = TestClient[web.Request, web.Application]

ENGLISH = {"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"}
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def _keys(page: str) -> set[str]:
    return set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', page))


async def test_given_an_english_browser_then_the_login_page_is_in_english(client: Client) -> None:
    response = await client.get("/console/login", headers=ENGLISH)
    assert response.status == 200
    assert response.headers["Content-Language"] == "en"
    assert "Accept-Language" in response.headers["Vary"]
    page = await response.text()
    assert '<html lang="en">' in page
    assert '<title data-i18n="login.page_title">Sign in — VisioRegul</title>' in page
    assert '<h1 id="login-heading" data-i18n="login.heading">Sign in to the console</h1>' in page
    assert 'aria-label="Console language"' in page
    assert 'data-language="en" aria-current="true"' in page
    assert "Connexion à la console" not in page


async def test_given_a_french_or_unknown_language_then_the_pages_are_in_french(
    client: Client,
) -> None:
    for headers in ({"Accept-Language": "fr-FR,fr;q=0.9"}, GERMAN, {}):
        response = await client.get("/console/login", headers=headers)
        page = await response.text()
        assert response.headers["Content-Language"] == "fr", headers
        assert '<html lang="fr">' in page
        assert "Connexion à la console</h1>" in page
        assert 'data-language="fr" aria-current="true"' in page
        # The catalogue's French, non-breaking spaces included, replaces the page's own text.
        assert "Sign in" not in page


async def test_given_the_switch_then_the_choice_is_kept_over_the_browsers_language(
    client: Client,
) -> None:
    response = await client.get(
        "/console/login?lang=en&error=invalid_credentials", headers=GERMAN, allow_redirects=False
    )
    assert response.status == 303
    # The other parameters stay: the page still shows why the login failed.
    assert response.headers["Location"] == "/console/login?error=invalid_credentials"
    cookie = response.cookies["visioregul_lang"]
    assert cookie.value == "en"
    assert cookie["path"] == "/console"
    assert cookie["httponly"]
    page = await (await client.get("/console/login", headers=GERMAN)).text()
    assert '<html lang="en">' in page
    # The console's API answers in the chosen language as well.
    refused = await client.get("/console/api/me", headers={"Accept-Language": "fr"})
    assert (await refused.json())["message"] == "Authentication required."

    response = await client.get("/console/login?lang=fr", headers=ENGLISH, allow_redirects=False)
    assert response.headers["Location"] == "/console/login"
    page = await (await client.get("/console/login", headers=ENGLISH)).text()
    assert '<html lang="fr">' in page


async def test_given_an_unknown_language_in_the_switch_then_nothing_is_remembered(
    client: Client,
) -> None:
    for asked in ("de", "", "../fr", "en\x00"):
        response = await client.get(
            "/console/login", params={"lang": asked}, headers=ENGLISH, allow_redirects=False
        )
        assert response.status == 303, asked
        assert response.headers["Location"] == "/console/login"
        assert "visioregul_lang" not in response.cookies
    page = await (await client.get("/console/login", headers=ENGLISH)).text()
    assert '<html lang="en">' in page


async def test_given_a_logged_in_reader_then_the_console_follows_the_switch(
    client: Client,
) -> None:
    await login(client)
    page = await (await client.get("/console", headers=ENGLISH)).text()
    assert '<html lang="en">' in page
    assert 'data-i18n="header.logout">Sign out</button>' in page
    assert 'data-i18n="position.dialog.hint">The desk phones your account may take.</p>' in page
    await client.get("/console?lang=fr", headers=ENGLISH)
    page = await (await client.get("/console", headers=ENGLISH)).text()
    assert '<html lang="fr">' in page
    assert 'data-i18n="header.logout">Déconnexion</button>' in page
    assert 'aria-label="Navigation de la console"' in page


def test_given_both_pages_then_every_text_has_its_message_in_every_language() -> None:
    catalogue = load_catalogue()
    assert catalogue.languages == ["en", "fr"]
    for name in ("login.html", "index.html"):
        page = (STATIC_DIR / name).read_text(encoding="utf-8")
        for language in catalogue.languages:
            missing = sorted(_keys(page) - set(catalogue.messages[language]))
            assert missing == [], (name, language)
        messages = catalogue.bundle("en")
        english = render_page(page, messages, "en")
        # Each translated attribute is there once, in English (replaced, never doubled).
        tags = re.findall(r"<[a-z][^>]*\sdata-i18n-[^>]*>", english)
        assert tags, name
        for tag in tags:
            for attribute, key in re.findall(r'\sdata-i18n-([a-z-]+)="([^"]+)"', tag):
                values = re.findall(rf'\s{attribute}="([^"]*)"', tag)
                assert values == [html.escape(messages[key])], tag
