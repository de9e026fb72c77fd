"""Signing in with Pro Santé Connect, against a real OpenID provider (``tests/oidc``).

A client with its own cookie jar plays the browser: the login page's button, the provider's
login page (a card number), the way back, the console. Every bad answer is refused with a
French page and an audit entry; nothing of the tokens leaks into the page.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import httpx2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, unused_port
from joserfc.jwk import RSAKey
from sqlalchemy import select, update

from tests.oidc.provider import CLIENT_ID, Provider, client, running_provider, settings_for
from tests.store.conftest import NewDatabase
from visioregul.integration import accounts, audit
from visioregul.integration.app import create_app
from visioregul.integration.oidc import RelyingParty, SignInRefused
from visioregul.integration.practitioners import set_practitioner_id
from visioregul.integration.settings import DatabaseSettings, PscSettings
from visioregul.integration.store.models import (
    Account,
    AuditEntry,
    ConsoleLogin,
    ProviderSignIn,
    Role,
)
from visioregul.integration.web import appkeys
from visioregul.integration.web.console_login import CLOSE_LOGGED_OUT

from .conftest import PASSWORD, ClientFactory, make_settings

CARD = "810012345678"
"""The national identifier of the test practitioner (RPPS with PSC's prefix)."""
UNKNOWN_CARD = "810099999999"


@dataclass
class Setup:
    """The service, the provider and a browser-like client."""

    service: TestClient[web.Request, web.Application]
    base: str
    provider: Provider
    browser: httpx2.AsyncClient

    @property
    def app(self) -> web.Application:
        return self.service.app

    async def audit_of(self, action: str) -> list[AuditEntry]:
        async with self.app[appkeys.DB]() as db:
            return await audit.recent(db, action=action)


ServiceFactory = Callable[..., Awaitable[Setup]]


@pytest.fixture
async def psc(
    aiohttp_client: Any, tmp_path: Path, new_database: NewDatabase
) -> AsyncIterator[ServiceFactory]:
    """Starts the provider and the service registered with it; ``psc(**settings)``."""
    async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as browser:
        providers: list[Any] = []

        async def start(
            *,
            relying_party: Callable[[PscSettings, str], RelyingParty] | None = None,
            registration: dict[str, Any] | None = None,
            **psc: Any,
        ) -> Setup:
            port = unused_port()
            base = f"http://127.0.0.1:{port}"
            manager = running_provider(
                [client(base, **(registration or {})), client(base, "other-service")]
            )
            provider = await manager.__aenter__()
            providers.append(manager)
            settings = make_settings(tmp_path)
            settings.database = DatabaseSettings(url=await new_database())
            settings.service = settings.service.model_copy(update={"public_url": base})
            settings.psc = settings_for(provider, **psc)
            app = create_app(settings)
            if relying_party is not None:
                app[appkeys.RELYING_PARTY] = relying_party(
                    settings.psc, f"{base}/console/psc/callback"
                )
            service = await aiohttp_client(app, server_kwargs={"port": port})
            async with app[appkeys.DB].begin() as db:
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
            return Setup(service, base, provider, browser)

        yield start
        for manager in reversed(providers):
            await manager.__aexit__(None, None, None)


async def _follow(browser: httpx2.AsyncClient, response: httpx2.Response, stop: str) -> Any:
    """Follow redirects until one leads to ``stop`` (returned, not fetched) or a page."""
    for _ in range(10):
        if response.status_code not in (301, 302, 303, 307):
            return response
        location = str(response.url.join(response.headers["location"]))
        if location.startswith(stop):
            return location
        response = await browser.get(location)
    raise AssertionError("too many redirects")


async def to_provider_login(setup: Setup) -> httpx2.Response:
    """The login page's button, up to the provider's login page."""
    start = await setup.browser.get(f"{setup.base}/console/psc/start")
    assert start.status_code == 303, start.text
    assert start.headers["location"].startswith(f"{setup.provider.issuer}/auth?")
    page = await _follow(setup.browser, start, stop=setup.base)
    assert isinstance(page, httpx2.Response) and page.status_code == 200, page
    assert "Numéro de carte" in page.text
    return page


async def callback_url(setup: Setup, card: str = CARD) -> str:
    """Sign in at the provider with ``card``; the URL it sends the browser back to."""
    page = await to_provider_login(setup)
    action = re.search(r'action="([^"]+)"', page.text)
    assert action is not None
    answer = await setup.browser.post(
        str(page.url.join(action.group(1))), data={"card": card, "code": "1234"}
    )
    back = await _follow(setup.browser, answer, stop=f"{setup.base}/console/psc/callback")
    assert isinstance(back, str), back
    return back


async def signed_in_me(setup: Setup) -> httpx2.Response:
    return await setup.browser.get(f"{setup.base}/console/api/me")


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _assert_refused(response: httpx2.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Connexion avec Pro Santé Connect refusée" in response.text
    assert text in response.text
    assert "visioregul_session" not in response.headers.get("set-cookie", "")
    # Nothing of the tokens or the provider's answer in the page.
    assert "eyJ" not in response.text and "code=" not in response.text


async def test_given_a_known_practitioner_when_signing_in_then_the_console_opens(
    psc: ServiceFactory,
) -> None:
    setup = await psc()
    login_page = await setup.browser.get(f"{setup.base}/console/login")
    assert 'id="psc" class="login-psc">' in login_page.text
    assert "Se connecter avec Pro Santé Connect" in login_page.text
    back = await callback_url(setup)
    query = parse_qs(urlsplit(back).query)
    assert query["iss"] == [setup.provider.issuer]
    answer = await setup.browser.get(back)
    assert answer.status_code == 200, answer.text
    assert '<meta http-equiv="refresh" content="0;url=/console">' in answer.text
    assert "SameSite=Strict" in answer.headers["set-cookie"]
    me = await signed_in_me(setup)
    assert me.status_code == 200
    body = me.json()
    assert body["account"]["username"] == "mdupont"
    assert body["position"] == "PJSIP/1003"
    (entry,) = await setup.audit_of("console.login")
    assert entry.actor == "mdupont"
    assert entry.details["method"] == "psc"
    assert entry.details["practitioner_id"] == CARD
    assert entry.details["acr"] == "eidas1"
    async with setup.app[appkeys.DB]() as db:
        (login,) = (await db.scalars(select(ConsoleLogin))).all()
        assert login.provider_sub and login.provider_sub.startswith("psc-")
        assert login.provider_sid
        assert login.provider_id_token
        # The sign-in under way is gone: its answer cannot be used again.
        assert (await db.scalars(select(ProviderSignIn))).all() == []


async def test_given_plain_json_userinfo_and_client_secret_post_then_signing_in_works(
    psc: ServiceFactory,
) -> None:
    setup = await psc(
        registration={"signed_userinfo": False, "auth_method": "client_secret_post"},
        token_auth_method="client_secret_post",
    )
    answer = await setup.browser.get(await callback_url(setup))
    assert answer.status_code == 200, answer.text
    assert (await signed_in_me(setup)).json()["account"]["username"] == "mdupont"


async def test_given_an_unknown_practitioner_then_a_french_refusal_and_an_audit_entry(
    psc: ServiceFactory,
) -> None:
    setup = await psc()
    answer = await setup.browser.get(await callback_url(setup, UNKNOWN_CARD))
    _assert_refused(answer, 403, "aucun compte de la console ne lui est associé")
    assert (await signed_in_me(setup)).status_code == 401
    (entry,) = await setup.audit_of("console.login_refused")
    assert entry.details["reason"] == "unknown_practitioner"
    assert entry.details["practitioner_id"] == UNKNOWN_CARD
    assert await setup.audit_of("console.login") == []


async def test_given_an_english_browser_then_the_refusal_is_in_english(
    psc: ServiceFactory,
) -> None:
    setup = await psc()
    setup.browser.headers["Accept-Language"] = "en-GB,en;q=0.9"
    answer = await setup.browser.get(await callback_url(setup, UNKNOWN_CARD))
    assert answer.status_code == 403
    assert '<html lang="en"' in answer.text
    assert "Sign-in with Pro Santé Connect refused" in answer.text
    assert "no console account is linked to it" in answer.text
    assert "Back to sign-in" in answer.text


async def test_given_provisioning_then_an_unknown_practitioner_gets_an_account(
    psc: ServiceFactory,
) -> None:
    setup = await psc(provision_centre_id=1, provision_role="regulator")
    answer = await setup.browser.get(await callback_url(setup, UNKNOWN_CARD))
    assert answer.status_code == 200, answer.text
    body = (await signed_in_me(setup)).json()
    assert body["account"] == {
        "username": f"psc-{UNKNOWN_CARD}",
        "display_name": "Camille Martin",
        "role": "regulator",
    }
    (entry,) = await setup.audit_of("account.provisioned")
    assert entry.target == f"psc-{UNKNOWN_CARD}"

    # An identifier no account can hold (the realm lets any text through) is refused.
    async with httpx2.AsyncClient(follow_redirects=False) as other_browser:
        other = Setup(setup.service, setup.base, setup.provider, other_browser)
        answer = await other_browser.get(await callback_url(other, "81<b>x</b>"))
    _assert_refused(answer, 400, "n'a pas donné votre numéro RPPS ou ADELI")
    (refused,) = await setup.audit_of("console.login_refused")
    assert refused.details["reason"] == "identifier"


async def test_given_a_disabled_account_then_its_practitioner_is_refused(
    psc: ServiceFactory,
) -> None:
    setup = await psc()
    async with setup.app[appkeys.DB].begin() as db:
        await db.execute(update(Account).where(Account.username == "mdupont").values(disabled=True))
    answer = await setup.browser.get(await callback_url(setup))
    _assert_refused(answer, 403, "Votre compte est désactivé")
    (entry,) = await setup.audit_of("console.login_refused")
    assert (entry.actor, entry.details["reason"]) == ("mdupont", "disabled")


async def test_given_a_wrong_state_then_refused(psc: ServiceFactory) -> None:
    setup = await psc()
    back = await callback_url(setup)
    answer = await setup.browser.get(_with_query(back, state="forged-state"))
    _assert_refused(answer, 400, "ne correspond à aucune connexion commencée dans ce navigateur")
    # Another browser (no binding cookie) bringing the real answer is refused too.
    async with httpx2.AsyncClient() as stranger:
        other = await stranger.get(back)
    _assert_refused(other, 400, "ne correspond à aucune connexion commencée")
    reasons = [e.details["reason"] for e in await setup.audit_of("console.login_refused")]
    assert reasons == ["state", "state"]
    assert (await signed_in_me(setup)).status_code == 401


async def test_given_a_replayed_callback_then_refused(psc: ServiceFactory) -> None:
    setup = await psc()
    back = await callback_url(setup)
    assert (await setup.browser.get(back)).status_code == 200
    again = await setup.browser.get(back)
    _assert_refused(again, 400, "a déjà servi ou a expiré")
    (entry,) = await setup.audit_of("console.login_refused")
    assert entry.details["reason"] == "replayed"


async def test_given_a_wrong_nonce_then_refused(psc: ServiceFactory) -> None:
    setup = await psc()
    back = await callback_url(setup)
    # The sign-in on record expects another nonce than the one the provider put in the token.
    async with setup.app[appkeys.DB].begin() as db:
        await db.execute(update(ProviderSignIn).values(nonce="another-nonce"))
    answer = await setup.browser.get(back)
    _assert_refused(answer, 400, "ne correspond pas à cette connexion")
    (entry,) = await setup.audit_of("console.login_refused")
    assert entry.details["reason"] == "nonce"


async def test_given_another_issuer_in_the_answer_then_refused(psc: ServiceFactory) -> None:
    setup = await psc()
    back = await callback_url(setup)
    answer = await setup.browser.get(_with_query(back, iss="https://evil.example"))
    _assert_refused(answer, 400, "ne vient pas de Pro Santé Connect")
    (entry,) = await setup.audit_of("console.login_refused")
    assert entry.details["reason"] == "issuer"


async def test_given_an_expired_id_token_then_refused(psc: ServiceFactory) -> None:
    def late(settings: PscSettings, redirect: str) -> RelyingParty:
        """The service's clock an hour ahead of the provider's: every token has expired."""
        return RelyingParty(settings, redirect, clock=lambda: time.time() + 3600)

    setup = await psc(relying_party=late)
    answer = await setup.browser.get(await callback_url(setup))
    _assert_refused(answer, 400, "a expiré")
    (entry,) = await setup.audit_of("console.login_refused")
    assert entry.details["reason"] == "expired"


async def test_given_a_lower_level_than_asked_then_refused(psc: ServiceFactory) -> None:
    # The realm gives eidas1; a centre asking for a level it does not give is refused.
    setup = await psc(acr_values="eidas2")
    answer = await setup.browser.get(await callback_url(setup))
    _assert_refused(answer, 400, "au niveau demandé")
    (entry,) = await setup.audit_of("console.login_refused")
    assert entry.details["reason"] == "acr"


async def test_given_private_key_jwt_then_signing_in_works(
    psc: ServiceFactory, tmp_path: Path
) -> None:
    key = RSAKey.generate_key(2048, private=True)
    key_file = tmp_path / "psc-key.json"
    key_file.write_text(json.dumps(key.as_dict(private=True)))
    setup = await psc(
        registration={
            "auth_method": "private_key_jwt",
            "jwks": {"keys": [key.as_dict(private=False)]},
        },
        token_auth_method="private_key_jwt",
        private_key_file=key_file,
    )
    answer = await setup.browser.get(await callback_url(setup))
    assert answer.status_code == 200, answer.text
    assert (await signed_in_me(setup)).json()["account"]["username"] == "mdupont"


async def test_given_the_provider_refuses_then_the_page_says_so(psc: ServiceFactory) -> None:
    setup = await psc()
    back = await callback_url(setup)
    parts = urlsplit(back)
    state = parse_qs(parts.query)["state"][0]
    answer = await setup.browser.get(
        urlunsplit(parts._replace(query=urlencode({"state": state, "error": "access_denied"})))
    )
    _assert_refused(answer, 400, "n'a pas confirmé votre identité")


async def test_given_real_tokens_then_wrong_audience_issuer_and_signature_are_refused(
    psc: ServiceFactory,
) -> None:
    setup = await psc()
    back = await callback_url(setup)
    assert (await setup.browser.get(back)).status_code == 200
    async with setup.app[appkeys.DB]() as db:
        (login,) = (await db.scalars(select(ConsoleLogin))).all()
    assert login.provider_id_token is not None
    id_token = login.provider_id_token
    settings = setup.app[appkeys.SETTINGS].psc
    redirect = f"{setup.base}/console/psc/callback"
    decoded = await RelyingParty(settings, redirect).check_id_token(
        id_token, nonce=_nonce_of(id_token)
    )
    assert decoded["aud"] == CLIENT_ID

    other = RelyingParty(settings.model_copy(update={"client_id": "other-service"}), redirect)
    with pytest.raises(SignInRefused) as wrong_audience:
        await other.check_id_token(id_token, nonce=_nonce_of(id_token))
    assert wrong_audience.value.reason == "audience"

    elsewhere = RelyingParty(settings, redirect)
    await elsewhere.metadata()  # the real discovery, then another expected issuer
    elsewhere.settings = settings.model_copy(update={"issuer": "https://evil.example"})
    with pytest.raises(SignInRefused) as wrong_issuer:
        await elsewhere.check_id_token(id_token, nonce=_nonce_of(id_token))
    assert wrong_issuer.value.reason == "issuer"

    head, payload, signature = id_token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(SignInRefused) as bad_signature:
        await RelyingParty(settings, redirect).check_id_token(forged, _nonce_of(id_token))
    assert bad_signature.value.reason == "signature"


def _nonce_of(id_token: str) -> str:
    """The nonce a real ID token carries (read without checking: the test checks it next)."""
    payload = id_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["nonce"])


async def test_given_a_psc_login_when_signing_out_then_the_provider_signs_out_too(
    psc: ServiceFactory,
) -> None:
    setup = await psc()
    assert (await setup.browser.get(await callback_url(setup))).status_code == 200
    csrf = (await signed_in_me(setup)).json()["csrf_token"]
    out = await setup.browser.post(f"{setup.base}/console/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200, out.text
    url = out.json()["logout_url"]
    assert url.startswith(f"{setup.provider.issuer}/session/end?")
    query = parse_qs(urlsplit(url).query)
    assert query["post_logout_redirect_uri"] == [f"{setup.base}/console/login"]
    assert query["id_token_hint"][0].startswith("eyJ")
    assert (await signed_in_me(setup)).status_code == 401
    # The provider's confirmation, then back to the console's login page.
    confirm = await setup.browser.get(url)
    assert confirm.status_code == 200
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text)
    action = re.search(r'action="([^"]+)"', confirm.text)
    assert xsrf and action
    done = await setup.browser.post(
        str(confirm.url.join(action.group(1))), data={"xsrf": xsrf.group(1), "logout": "yes"}
    )
    assert await _follow(setup.browser, done, stop=setup.base) == f"{setup.base}/console/login"
    (entry,) = await setup.audit_of("console.logout")
    assert (entry.actor, entry.details) == ("mdupont", {"method": "psc"})


async def test_given_the_provider_ends_the_session_then_the_console_login_is_revoked(
    psc: ServiceFactory,
) -> None:
    setup = await psc()
    assert (await setup.browser.get(await callback_url(setup))).status_code == 200
    assert (await signed_in_me(setup)).status_code == 200
    cookie = setup.browser.cookies.get("visioregul_session", domain="127.0.0.1")
    async with aiohttp.ClientSession() as session:
        console = await session.ws_connect(
            f"{setup.base}/console/ws",
            headers={"Cookie": f"visioregul_session={cookie}", "Origin": setup.base},
        )
        hello = await asyncio.wait_for(console.receive_json(), 10)
        assert hello["type"] == "hello"
        # Signed out at the provider (another application, or its own page): back-channel
        # logout; the console's socket is closed at once.
        await _sign_out_at_provider(setup)
        closed = await asyncio.wait_for(console.receive(), 10)
        assert closed.type is aiohttp.WSMsgType.CLOSE
        assert closed.data == CLOSE_LOGGED_OUT
    assert (await signed_in_me(setup)).status_code == 401
    (entry,) = await setup.audit_of("console.logout")
    assert entry.actor == "mdupont"
    assert entry.details["by"] == "provider"


async def _sign_out_at_provider(setup: Setup) -> None:
    confirm = await setup.browser.get(f"{setup.provider.issuer}/session/end")
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text)
    action = re.search(r'action="([^"]+)"', confirm.text)
    assert xsrf and action, confirm.text
    await setup.browser.post(
        str(confirm.url.join(action.group(1))), data={"xsrf": xsrf.group(1), "logout": "yes"}
    )


async def test_given_bad_logout_tokens_then_each_is_refused_and_audited(
    psc: ServiceFactory,
) -> None:
    setup = await psc()
    assert (await setup.browser.get(await callback_url(setup))).status_code == 200
    async with setup.app[appkeys.DB]() as db:
        (login,) = (await db.scalars(select(ConsoleLogin))).all()
    url = f"{setup.base}/console/psc/backchannel-logout"
    async with httpx2.AsyncClient() as provider_side:
        for body in (
            {},
            {"logout_token": "not-a-jwt"},
            # A real ID token of the provider is no logout token (a nonce, no logout event).
            {"logout_token": login.provider_id_token or ""},
        ):
            answer = await provider_side.post(url, data=body)
            assert answer.status_code == 400, answer.text
            assert answer.json() == {"error": "invalid_request"}
            assert answer.headers["cache-control"] == "no-store"
    entries = await setup.audit_of("console.logout_refused")
    assert [e.details["reason"] for e in reversed(entries)] == [
        "logout_token",
        "signature",
        "logout_token",
    ]
    assert (await signed_in_me(setup)).status_code == 200


async def test_given_many_starts_from_one_address_then_they_are_limited(
    psc: ServiceFactory,
) -> None:
    setup = await psc()
    statuses = [
        (await setup.browser.get(f"{setup.base}/console/psc/start")).status_code for _ in range(31)
    ]
    assert statuses[:30] == [303] * 30
    assert statuses[30] == 429


async def test_given_the_provider_out_of_reach_then_the_page_offers_the_password(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: NewDatabase
) -> None:
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=await new_database())
    settings.psc = PscSettings(
        enabled=True,
        issuer=f"http://127.0.0.1:{unused_port()}",  # nothing listens there
        client_id=CLIENT_ID,
        client_secret="secret",  # type: ignore[arg-type]
        timeout=5,
    )
    service = await aiohttp_client(create_app(settings))
    answer = await service.get("/console/psc/start", allow_redirects=False)
    assert answer.status == 503
    text = await answer.text()
    assert "Pro Santé Connect ne répond pas" in text
    assert "connectez-vous avec votre identifiant et votre mot de passe" in text
    async with service.app[appkeys.DB]() as db:
        (entry,) = await audit.recent(db, action="console.login_refused")
    assert entry.details["reason"] == "provider_unreachable"


async def test_given_psc_disabled_then_its_routes_answer_404_and_no_button(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: NewDatabase
) -> None:
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=await new_database())
    service = await aiohttp_client(create_app(settings))
    page = await service.get("/console/login")
    assert 'id="psc" class="login-psc" hidden>' in await page.text()
    for path in ("/console/psc/start", "/console/psc/callback?state=x&code=y"):
        assert (await service.get(path, allow_redirects=False)).status == 404
    assert (await service.post("/console/psc/backchannel-logout")).status == 404
