"""The regulator changes their own password: the current one required, the length rules, an
Argon2id hash, the account's other console logins revoked (their sockets closed), the audit log."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from visioregul.integration import accounts, audit
from visioregul.integration.store.models import ConsoleLogin
from visioregul.integration.web import appkeys
from visioregul.integration.web.console_login import CLOSE_LOGGED_OUT

from .conftest import PASSWORD, login, public_origin

Client = TestClient[web.Request, web.Application]

NEW_PASSWORD = "une phrase de passe neuve"


async def change(client: Client, token: str, current: str, new: str) -> Any:
    return await client.post(
        "/console/api/password",
        json={"current_password": current, "new_password": new},
        headers={"X-CSRF-Token": token},
    )


async def test_given_the_current_password_then_the_new_one_works_and_other_logins_end(
    client: Client,
) -> None:
    # The same account signed in at another desk: another browser, its own cookies.
    async with aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as other:
        signed_in = await other.post(
            "/console/login",
            data={"username": "regulateur", "password": PASSWORD, "position": "PJSIP/1002"},
            headers={"Origin": str(client.make_url("/")).rstrip("/")},
            allow_redirects=False,
        )
        assert signed_in.headers["Location"] == "/console"
        other_socket = await other.ws_connect(
            "/console/ws", headers={"Origin": public_origin(client)}
        )
        token = await login(client, position="PJSIP/1001")
        response = await change(client, token, PASSWORD, NEW_PASSWORD)
        assert response.status == 200, await response.text()
        assert await response.json() == {"changed": True, "revoked_logins": 1}
        # This console goes on; the other one is signed out, its socket closed.
        assert (await client.get("/console/api/me")).status == 200
        assert (await other.get("/console/api/me")).status == 401
        message = await other_socket.receive(timeout=5)
        while message.type is WSMsgType.TEXT:  # its hello, sent before the change
            message = await other_socket.receive(timeout=5)
        assert (message.type, message.data) == (WSMsgType.CLOSE, CLOSE_LOGGED_OUT), message
        await other_socket.close()
    async with client.app[appkeys.DB].begin() as db:
        account = await accounts.get_account_by_username(db, "regulateur")
        assert account is not None
        assert account.password_hash.startswith("$argon2id$")
        assert await accounts.authenticate(db, "regulateur", NEW_PASSWORD) is not None
        assert await accounts.authenticate(db, "regulateur", PASSWORD) is None
        logins = (await db.execute(ConsoleLogin.__table__.select())).all()
        (entry,) = await audit.recent(db, action="console.password_changed")
    assert len(logins) == 1
    assert entry.actor == "regulateur"
    assert entry.details["revoked_logins"] == 1


async def test_given_a_wrong_current_password_then_refused_in_french_and_audited(
    client: Client,
) -> None:
    token = await login(client)
    response = await change(client, token, "not the password at all", NEW_PASSWORD)
    assert response.status == 400
    body = await response.json()
    assert body["error_id"] == "wrong_password"
    assert body["message"] == "Mot de passe actuel incorrect."
    async with client.app[appkeys.DB]() as db:
        (entry,) = await audit.recent(db, action="console.password_change_refused")
        assert await accounts.authenticate(db, "regulateur", PASSWORD) is not None
    assert entry.details["reason"] == "wrong_password"


async def test_given_the_length_rules_then_short_long_and_same_passwords_are_refused(
    client: Client,
) -> None:
    token = await login(client)
    cases = [
        ("court", "weak_password", "Mot de passe trop court\u00a0: 12 caractères au moins."),
        ("x" * 1025, "password_too_long", "Mot de passe trop long\u00a0: 1024 caractères au plus."),
        (PASSWORD, "same_password", "Le nouveau mot de passe doit être différent de l'actuel."),
    ]
    for new, error_id, message in cases:
        response = await change(client, token, PASSWORD, new)
        assert response.status == 400
        body = await response.json()
        assert (body["error_id"], body["message"]) == (error_id, message)


async def test_given_no_csrf_token_or_no_login_then_refused(client: Client) -> None:
    assert (await change(client, "", PASSWORD, NEW_PASSWORD)).status == 401
    await login(client)
    assert (await change(client, "forged", PASSWORD, NEW_PASSWORD)).status == 403
    response = await client.post(
        "/console/api/password", json={"current_password": 1}, headers={"X-CSRF-Token": "x"}
    )
    assert response.status == 403


async def test_given_repeated_wrong_passwords_then_the_account_is_delayed(client: Client) -> None:
    token = await login(client)
    statuses = [
        (await change(client, token, f"wrong password {n}", NEW_PASSWORD)).status for n in range(7)
    ]
    assert statuses[:5] == [400] * 5
    assert statuses[-1] == 429


async def test_the_page_is_french_and_needs_a_login(client: Client) -> None:
    response = await client.get("/console/password", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/console/login"
    await login(client)
    page = await (await client.get("/console/password")).text()
    assert "Changer mon mot de passe" in page
    assert 'autocomplete="current-password"' in page
