"""Positions are declared, and an account takes only its own."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.store.conftest import NewDatabase
from visioregul.integration import accounts, audit, console_logins
from visioregul.integration.app import create_app
from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.store.models import Role
from visioregul.integration.web import appkeys
from visioregul.integration.web.console_login import COOKIE_NAME

from .conftest import CAD_KEY, PASSWORD, ClientFactory, login, make_settings

Client = TestClient[web.Request, web.Application]


def _origin(client: Client) -> dict[str, str]:
    return {"Origin": str(client.make_url("/")).rstrip("/")}


async def test_given_an_account_with_two_positions_then_me_offers_them_and_binds_the_default(
    client: Client,
) -> None:
    await login(client)
    me = await (await client.get("/console/api/me")).json()
    assert (me["position"], me["positions"]) == ("PJSIP/1001", ["PJSIP/1001", "PJSIP/1002"])


async def test_given_a_position_not_of_the_account_when_logging_in_then_refused(
    client: Client,
) -> None:
    response = await client.post(
        "/console/login",
        data={"username": "regulateur", "password": PASSWORD, "position": "PJSIP/1003"},
        headers=_origin(client),
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/console/login?error=position_not_allowed"
    assert "Set-Cookie" not in response.headers
    async with client.app[appkeys.DB]() as db:
        refused = await audit.recent(db, action="console.login_refused")
    assert refused[0].details["position"] == "PJSIP/1003"
    await login(client, position="1002")
    me = await (await client.get("/console/api/me")).json()
    assert me["position"] == "PJSIP/1002"


async def test_given_a_position_not_of_the_account_when_changing_then_refused_in_french(
    client: Client,
) -> None:
    csrf = await login(client)
    for position in ("PJSIP/1003", "PJSIP/trunk"):
        response = await client.post(
            "/console/api/position", json={"position": position}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status == 400
        body = await response.json()
        assert body["error_id"] == "position_not_allowed"
        assert body["message"] == (
            "Ce poste n'est pas l'un des vôtres\u00a0: choisissez un poste de votre compte."
        )
    me = await (await client.get("/console/api/me")).json()
    assert me["position"] == "PJSIP/1001"


async def test_given_an_account_given_no_position_then_it_may_take_any_declared_one(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: NewDatabase
) -> None:
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=await new_database())
    settings.console.positions = ["PJSIP/1001", "PJSIP/1007"]
    client = await aiohttp_client(create_app(settings))
    async with client.app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db, "regulateur", PASSWORD, display_name="R", role=Role.REGULATOR
        )
        # Declared at start from the settings (the migration's default ones are not).
        assert await accounts.declared_positions(db) == ["PJSIP/1001", "PJSIP/1007"]
    csrf = await login(client)
    me = await (await client.get("/console/api/me")).json()
    # Several and no default: none bound, the console asks (a select of these).
    assert (me["position"], me["positions"]) == (None, ["PJSIP/1001", "PJSIP/1007"])
    response = await client.post(
        "/console/api/position", json={"position": "PJSIP/1007"}, headers={"X-CSRF-Token": csrf}
    )
    assert (await response.json())["position"] == "PJSIP/1007"


async def test_given_a_cad_key_then_it_opens_sessions_at_its_regulators_positions_only(
    client: Client,
) -> None:
    auth = {"Authorization": f"Bearer {CAD_KEY}", "Accept-Language": "en"}
    response = await client.post(
        "/api/v1/sessions",
        json={"destination": "+33612345678", "position": "PJSIP/1003"},
        headers=auth,
    )
    assert response.status == 403
    assert (await response.json())["error_id"] == "position_not_allowed"
    response = await client.post(
        "/api/v1/sessions", json={"destination": "+33612345678", "position": "1002"}, headers=auth
    )
    assert response.status == 201
    assert (await response.json())["created_by"].endswith(":regulateur")


async def test_given_a_login_bound_to_a_position_the_account_lost_then_it_must_choose_again(
    client: Client,
) -> None:
    async with client.app[appkeys.DB]() as db:
        account = await accounts.get_account_by_username(db, "regulateur")
    assert account is not None
    codec = client.app[appkeys.LOGIN_COOKIES]
    async with client.app[appkeys.DB].begin() as db:
        login_id = await console_logins.open_login(db, account.id, codec.max_age)
    client.session.cookie_jar.update_cookies(
        {COOKIE_NAME: codec.dumps(codec.new(account.id, login_id, "PJSIP/1003"))}
    )
    me = await (await client.get("/console/api/me")).json()
    assert me["position"] is None
    response = await client.get("/console/ws")
    assert response.status == 400
    assert (await response.json())["error_id"] == "no_position"
