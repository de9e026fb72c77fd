"""The administrators' console: a centre's accounts, positions and settings, every centre for a
platform administrator; each action in the audit log; other centres answered like unknown ones."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from visioregul.integration import accounts, audit
from visioregul.integration.settings import CentreSettings
from visioregul.integration.store.models import Role
from visioregul.integration.web import appkeys
from visioregul.integration.web.console_login import CLOSE_LOGGED_OUT

from .conftest import PASSWORD, ClientFactory, public_origin

Client = TestClient[web.Request, web.Application]
API = "/console/admin/api"
TEMPORARY = "provisoire-123456"
FR = {"Accept-Language": "fr"}


async def add(app: web.Application, username: str, role: Role, centre_id: int = 1) -> int:
    """An account of ``centre_id`` with the test password; its id."""
    async with app[appkeys.DB].begin() as db:
        account = await accounts.create_account(
            db, username, PASSWORD, display_name=username.title(), role=role
        )
        account.centre_id = centre_id
        await db.flush()
        return account.id


async def second_centre(app: web.Application) -> int:
    """Another centre, with a position of its own; the centre's id."""
    async with app[appkeys.DB].begin() as db:
        await db.execute(text("INSERT INTO centres (code, name) VALUES ('samu-973', 'SAMU 973')"))
        centre_id = int(await db.scalar(text("SELECT id FROM centres WHERE code = 'samu-973'")))
        await db.execute(
            text("INSERT INTO positions (centre_id, endpoint) VALUES (:c, 'PJSIP/1901')"),
            {"c": centre_id},
        )
    return centre_id


async def sign_in(client: Client, username: str, password: str = PASSWORD) -> tuple[str, str]:
    """Sign in through the form; where it lands and the CSRF token."""
    client.session.cookie_jar.clear()
    response = await client.post(
        "/console/login",
        data={"username": username, "password": password, "position": ""},
        headers={"Origin": public_origin(client)},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    me = await (await client.get("/console/api/me")).json()
    return response.headers["Location"], me["csrf_token"]


async def post(client: Client, token: str, path: str, body: Any) -> Any:
    return await client.post(path, json=body, headers={"X-CSRF-Token": token, **FR})


async def get(client: Client, path: str) -> Any:
    return await client.get(path, headers=FR)


async def account_id(client: Client, username: str) -> int:
    async with client.app[appkeys.DB]() as db:
        account = await accounts.get_account_by_username(db, username)
    assert account is not None
    return account.id


async def test_given_a_centre_admin_when_creating_an_account_then_it_must_change_its_password(
    client: Client,
) -> None:
    await add(client.app, "chef", Role.ADMIN)
    landing, token = await sign_in(client, "chef")
    assert landing == "/console/admin"
    # An administrator has no calls: the console sends them to the administration too.
    page = await client.get("/console", allow_redirects=False)
    assert (page.status, page.headers["Location"]) == (303, "/console/admin")
    page = await client.get("/console/admin")
    assert page.status == 200
    assert "Administration" in await page.text()
    overview = await (await get(client, f"{API}/centres")).json()
    assert [c["code"] for c in overview["centres"]] == ["default"]
    assert overview["platform"] is False
    assert "platform_admin" not in overview["roles"]
    assert "America/Cayenne" in overview["time_zones"]

    created = await post(
        client,
        token,
        f"{API}/centres/1/accounts",
        {
            "username": "Nouvelle.ARM",
            "display_name": "Nouvelle ARM",
            "role": "regulator",
            "positions": ["PJSIP/1002"],
            "password": TEMPORARY,
        },
    )
    assert created.status == 201, await created.text()
    body = await created.json()
    assert body["username"] == "nouvelle.arm"
    assert body["positions"] == ["PJSIP/1002"]
    assert body["must_change_password"] is True
    listed = await (await get(client, f"{API}/centres/1/accounts")).json()
    rows = {a["username"]: a for a in listed["accounts"]}
    assert set(rows) == {"chef", "nouvelle.arm", "regulateur"}
    assert rows["regulateur"]["last_login_at"] is None
    assert rows["chef"]["last_login_at"] is not None
    assert rows["regulateur"]["locked_out"] is False

    # The new account signs in on its password page, can do nothing else until it changes it.
    landing, arm = await sign_in(client, "nouvelle.arm", TEMPORARY)
    assert landing == "/console/password"
    me = await (await client.get("/console/api/me")).json()
    assert me["must_change_password"] is True
    refused = await get(client, "/console/api/sessions")
    assert refused.status == 403
    assert (await refused.json())["error_id"] == "password_change_required"
    page = await client.get("/console", allow_redirects=False)
    assert page.headers["Location"] == "/console/password"
    changed = await post(
        client,
        arm,
        "/console/api/password",
        {"current_password": TEMPORARY, "new_password": "ma phrase à moi"},
    )
    assert changed.status == 200, await changed.text()
    assert (await get(client, "/console/api/sessions")).status == 200
    assert (await client.get("/console", allow_redirects=False)).status == 200

    async with client.app[appkeys.DB]() as db:
        (entry,) = await audit.recent(db, action="account.created")
    assert (entry.actor, entry.target) == ("chef", "nouvelle.arm")
    assert entry.details["centre_id"] == 1
    assert entry.details["centre"] == "default"


async def test_given_bad_values_then_each_is_refused_in_french_and_nothing_is_created(
    client: Client,
) -> None:
    await add(client.app, "chef", Role.ADMIN)
    _landing, token = await sign_in(client, "chef")
    good: dict[str, Any] = {
        "username": "arm2",
        "display_name": "ARM 2",
        "role": "regulator",
        "positions": [],
        "password": TEMPORARY,
    }
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"username": "é"}, 400, "invalid_username", "Identifiant invalide"),
        ({"password": "court"}, 400, "weak_password", "12 caractères"),
        ({"display_name": " "}, 400, "invalid_display_name", "Nom invalide"),
        ({"positions": ["PJSIP/7777"]}, 400, "position_not_declared", "PJSIP/7777"),
        ({"role": "platform_admin"}, 403, "role_not_allowed", "ce rôle"),
        ({"role": "chef"}, 403, "role_not_allowed", "ce rôle"),
        ({"username": "regulateur"}, 409, "username_taken", "déjà pris"),
    ]
    for change, status, error_id, words in cases:
        response = await post(client, token, f"{API}/centres/1/accounts", good | change)
        body = await response.json()
        assert (response.status, body["error_id"]) == (status, error_id), (change, body)
        assert words in body["message"], body
    listed = await (await get(client, f"{API}/centres/1/accounts")).json()
    assert {a["username"] for a in listed["accounts"]} == {"chef", "regulateur"}
    # No CSRF token: refused before anything.
    response = await client.post(f"{API}/centres/1/accounts", json=good)
    assert (response.status, (await response.json())["error_id"]) == (403, "csrf")


async def test_given_a_centre_admin_then_another_centre_is_answered_like_an_unknown_one(
    client: Client,
) -> None:
    await add(client.app, "chef", Role.ADMIN)
    other = await second_centre(client.app)
    foreign = await add(client.app, "arm973", Role.REGULATOR, other)
    _landing, token = await sign_in(client, "chef")
    for centre in (str(other), "99"):
        response = await get(client, f"{API}/centres/{centre}/accounts")
        assert (response.status, (await response.json())["error_id"]) == (404, "centre_not_found")
    # Another centre's account through one's own centre: exactly as an account that is not there.
    answers = []
    for target in (foreign, 999_999):
        for suffix, body in (
            ("", {"display_name": "X", "role": "regulator", "positions": []}),
            ("/password", {"password": TEMPORARY}),
            ("/unlock", {}),
            ("/state", {"disabled": True}),
        ):
            response = await post(client, token, f"{API}/centres/1/accounts/{target}{suffix}", body)
            answers.append((suffix, response.status, await response.json()))
    assert answers[:4] == answers[4:]
    assert {(status, body["error_id"]) for _s, status, body in answers} == {
        (404, "account_not_found")
    }
    response = await post(
        client, token, f"{API}/centres/{other}", {"name": "Pris", "time_zone": ""}
    )
    assert response.status == 404
    response = await post(client, token, f"{API}/centres", {"code": "x1", "name": "X"})
    assert (response.status, (await response.json())["error_id"]) == (403, "forbidden")
    async with client.app[appkeys.DB]() as db:
        account = await accounts.get_account(db, foreign)
    assert account is not None and not account.disabled


async def test_given_a_centre_admin_then_a_platform_admin_account_is_out_of_reach(
    client: Client,
) -> None:
    await add(client.app, "chef", Role.ADMIN)
    platform = await add(client.app, "plateforme", Role.PLATFORM_ADMIN)
    _landing, token = await sign_in(client, "chef")
    for suffix, body in (
        ("/password", {"password": TEMPORARY}),
        ("/state", {"disabled": True}),
        ("", {"display_name": "X", "role": "admin", "positions": []}),
    ):
        response = await post(client, token, f"{API}/centres/1/accounts/{platform}{suffix}", body)
        assert (response.status, (await response.json())["error_id"]) == (403, "role_not_allowed")


async def test_given_an_admin_when_acting_on_themselves_then_clearly_refused(
    client: Client,
) -> None:
    own = await add(client.app, "chef", Role.ADMIN)
    _landing, token = await sign_in(client, "chef")
    for suffix, body in (
        ("/state", {"disabled": True}),
        ("", {"display_name": "Chef", "role": "regulator", "positions": []}),
        ("/password", {"password": TEMPORARY}),
    ):
        response = await post(client, token, f"{API}/centres/1/accounts/{own}{suffix}", body)
        answer = await response.json()
        assert (response.status, answer["error_id"]) == (409, "self_change_refused"), answer
        assert "votre propre compte" in answer["message"]
    # Their own name, keeping their role: allowed.
    response = await post(
        client,
        token,
        f"{API}/centres/1/accounts/{own}",
        {"display_name": "Chef de salle", "role": "admin", "positions": []},
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["display_name"] == "Chef de salle"


async def test_given_a_reset_password_then_the_account_consoles_close_and_it_must_change_it(
    client: Client,
) -> None:
    await add(client.app, "chef", Role.ADMIN)
    target = await account_id(client, "regulateur")
    async with aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as desk:
        signed_in = await desk.post(
            "/console/login",
            data={"username": "regulateur", "password": PASSWORD, "position": "PJSIP/1001"},
            headers={"Origin": public_origin(client)},
            allow_redirects=False,
        )
        assert signed_in.headers["Location"] == "/console"
        socket = await desk.ws_connect("/console/ws", headers={"Origin": public_origin(client)})
        _landing, token = await sign_in(client, "chef")
        response = await post(
            client, token, f"{API}/centres/1/accounts/{target}/password", {"password": TEMPORARY}
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        assert (body["must_change_password"], body["revoked_logins"]) == (True, 1)
        message = await socket.receive(timeout=5)
        while message.type is WSMsgType.TEXT:
            message = await socket.receive(timeout=5)
        assert (message.type, message.data) == (WSMsgType.CLOSE, CLOSE_LOGGED_OUT)
        assert (await desk.get("/console/api/me")).status == 401
        await socket.close()
    landing, _token = await sign_in(client, "regulateur", TEMPORARY)
    assert landing == "/console/password"
    async with client.app[appkeys.DB]() as db:
        (entry,) = await audit.recent(db, action="account.password_reset")
    assert (entry.actor, entry.target, entry.details["revoked_logins"]) == ("chef", "regulateur", 1)


async def test_given_a_locked_out_account_when_unlocked_then_its_delay_is_gone(
    client: Client,
) -> None:
    await add(client.app, "chef", Role.ADMIN)
    target = await account_id(client, "regulateur")
    throttle = client.app[appkeys.LOGIN_LIMITER]
    client.session.cookie_jar.clear()
    for _ in range(throttle.free_failures + 1):
        await client.post(
            "/console/login",
            data={"username": "regulateur", "password": "wrong password here"},
            headers={"Origin": public_origin(client)},
            allow_redirects=False,
        )
    # The failures came from this client's address too, which an unlock leaves as it is: as if
    # the administrator were at another desk, forget the address's (the account's stay).
    assert await throttle.locked_out("ip:127.0.0.1")
    await throttle.succeeded("ip:127.0.0.1")
    _landing, token = await sign_in(client, "chef")
    listed = await (await get(client, f"{API}/centres/1/accounts")).json()
    assert {a["username"]: a["locked_out"] for a in listed["accounts"]}["regulateur"] is True
    response = await post(client, token, f"{API}/centres/1/accounts/{target}/unlock", {})
    assert response.status == 200, await response.text()
    assert (await response.json())["locked_out"] is False
    landing, _token = await sign_in(client, "regulateur")
    assert landing == "/console"
    async with client.app[appkeys.DB]() as db:
        (entry,) = await audit.recent(db, action="account.unlocked")
    assert (entry.actor, entry.target, entry.details["was_locked"]) == ("chef", "regulateur", True)


async def test_given_a_deactivated_account_then_its_console_closes_and_it_can_come_back(
    client: Client,
) -> None:
    await add(client.app, "chef", Role.ADMIN)
    target = await account_id(client, "regulateur")
    async with aiohttp.ClientSession(
        base_url=str(client.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as desk:
        await desk.post(
            "/console/login",
            data={"username": "regulateur", "password": PASSWORD, "position": "PJSIP/1001"},
            headers={"Origin": public_origin(client)},
            allow_redirects=False,
        )
        socket = await desk.ws_connect("/console/ws", headers={"Origin": public_origin(client)})
        _landing, token = await sign_in(client, "chef")
        path = f"{API}/centres/1/accounts/{target}/state"
        assert (await post(client, token, path, {})).status == 400  # says which, or nothing
        response = await post(client, token, path, {"disabled": True})
        assert response.status == 200, await response.text()
        assert (await response.json())["disabled"] is True
        message = await socket.receive(timeout=5)
        while message.type is WSMsgType.TEXT:
            message = await socket.receive(timeout=5)
        assert (message.type, message.data) == (WSMsgType.CLOSE, CLOSE_LOGGED_OUT)
        await socket.close()
    response = await post(client, token, path, {"disabled": False})
    assert (await response.json())["disabled"] is False
    landing, _token = await sign_in(client, "regulateur")
    assert landing == "/console"
    async with client.app[appkeys.DB]() as db:
        actions = [e.action for e in await audit.recent(db) if e.target == "regulateur"]
    assert actions[:2] == ["account.enabled", "account.disabled"]


async def test_given_positions_then_added_by_the_pattern_and_never_removed_from_under_an_account(
    client: Client,
) -> None:
    await add(client.app, "chef", Role.ADMIN)
    _landing, token = await sign_in(client, "chef")
    positions = f"{API}/centres/1/positions"
    listed = await (await get(client, positions)).json()
    holders = {p["endpoint"]: p["accounts"] for p in listed["positions"]}
    assert holders["PJSIP/1001"] == holders["PJSIP/1002"] == ["regulateur"]
    desks = client.app[appkeys.TELEPHONY].positions
    assert "PJSIP/1009" not in desks.declared
    response = await post(client, token, positions, {"position": "PJSIP/1009"})
    assert (response.status, await response.json()) == (201, {"position": "PJSIP/1009"})
    # The telephony knows the new desk at once: a call answered there is that centre's.
    assert "PJSIP/1009" in desks.declared
    response = await post(client, token, positions, {"position": "pas un poste !"})
    assert (response.status, (await response.json())["error_id"]) == (400, "invalid_position")
    # An account with one position left: removing it would give it every desk; refused.
    target = await account_id(client, "regulateur")
    await post(
        client,
        token,
        f"{API}/centres/1/accounts/{target}",
        {"display_name": "Dr Martin", "role": "regulator", "positions": ["PJSIP/1001"]},
    )
    response = await post(client, token, f"{positions}/remove", {"position": "PJSIP/1001"})
    body = await response.json()
    assert (response.status, body["error_id"]) == (409, "position_in_use")
    assert "regulateur" in body["message"]
    for endpoint in ("PJSIP/1002", "PJSIP/1009"):
        response = await post(client, token, f"{positions}/remove", {"position": endpoint})
        assert response.status == 200, await response.text()
    response = await post(client, token, f"{positions}/remove", {"position": "PJSIP/1009"})
    assert (await response.json())["error_id"] == "position_not_declared"
    assert "PJSIP/1009" not in desks.declared
    listed = await (await get(client, positions)).json()
    remaining = [p["endpoint"] for p in listed["positions"]]
    assert "PJSIP/1001" in remaining
    assert "PJSIP/1002" not in remaining
    assert "PJSIP/1009" not in remaining


async def test_given_a_platform_admin_then_every_centre_is_managed_and_centres_are_created(
    client: Client,
) -> None:
    await add(client.app, "plateforme", Role.PLATFORM_ADMIN)
    other = await second_centre(client.app)
    directory = client.app[appkeys.CENTRES]
    landing, token = await sign_in(client, "plateforme")
    assert landing == "/console/admin"
    overview = await (await get(client, f"{API}/centres")).json()
    assert overview["platform"] is True
    assert [c["code"] for c in overview["centres"]] == ["default", "samu-973"]
    assert "platform_admin" in overview["roles"]

    response = await post(
        client,
        token,
        f"{API}/centres/{other}",
        {"name": "SAMU 973 Guyane", "time_zone": "America/Cayenne"},
    )
    assert (await response.json())["time_zone"] == "America/Cayenne"
    # The service's directory of centres follows at once (times in the centre's messages).
    assert directory.time_zone(other) == "America/Cayenne"
    response = await post(
        client, token, f"{API}/centres/{other}", {"name": "X", "time_zone": "Mars/Base"}
    )
    body = await response.json()
    assert (response.status, body["error_id"]) == (400, "invalid_time_zone")
    assert "Mars/Base" in body["message"]
    response = await post(
        client, token, f"{API}/centres/{other}", {"name": "SAMU 973", "time_zone": ""}
    )
    assert (await response.json())["time_zone"] is None
    assert directory.time_zone(other) == client.app[appkeys.SETTINGS].service.time_zone

    created = await post(
        client,
        token,
        f"{API}/centres",
        {"code": "samu-974", "name": "SAMU 974", "time_zone": "Indian/Reunion"},
    )
    assert created.status == 201, await created.text()
    centre = await created.json()
    again = await post(client, token, f"{API}/centres", {"code": "samu-974", "name": "Bis"})
    assert (again.status, (await again.json())["error_id"]) == (409, "centre_code_taken")
    bad = await post(client, token, f"{API}/centres", {"code": "a b", "name": "Bis"})
    assert (await bad.json())["error_id"] == "invalid_centre_code"
    assert directory.time_zone(centre["id"]) == "Indian/Reunion"

    positions = f"{API}/centres/{centre['id']}/positions"
    assert (await post(client, token, positions, {"position": "PJSIP/1974"})).status == 201
    assert directory.of_position("PJSIP/1974") == centre["id"]
    response = await post(
        client,
        token,
        f"{API}/centres/{centre['id']}/accounts",
        {
            "username": "chef974",
            "display_name": "Chef 974",
            "role": "admin",
            "positions": ["PJSIP/1974"],
            "password": TEMPORARY,
        },
    )
    assert response.status == 201, await response.text()
    async with client.app[appkeys.DB]() as db:
        account = await accounts.get_account_by_username(db, "chef974")
        assert account is not None and account.centre_id == centre["id"]
        assert await accounts.account_positions_of(db, account) == ["PJSIP/1974"]
        entries = await audit.recent(db, action="centre.created")
    assert entries[0].details["centre"] == "samu-974"


async def test_given_regulators_then_the_administration_is_closed_to_them(client: Client) -> None:
    await sign_in(client, "regulateur")
    page = await client.get("/console/admin", allow_redirects=False)
    assert (page.status, page.headers["Location"]) == (303, "/console")
    for method, path in (("GET", f"{API}/centres"), ("GET", f"{API}/centres/1/accounts")):
        response = await client.request(method, path)
        assert (response.status, (await response.json())["error_id"]) == (403, "forbidden")
    client.session.cookie_jar.clear()
    page = await client.get("/console/admin", allow_redirects=False)
    assert (page.status, page.headers["Location"]) == (303, "/console/login")


async def test_given_a_centre_of_the_configuration_file_then_its_settings_are_changed_there(
    aiohttp_client: ClientFactory, app: web.Application
) -> None:
    settings = app[appkeys.SETTINGS]
    settings.centres = [CentreSettings(code="samu31", name="SAMU 31", time_zone="Europe/Paris")]
    client = await aiohttp_client(app)
    await add(client.app, "plateforme", Role.PLATFORM_ADMIN)
    _landing, token = await sign_in(client, "plateforme")
    overview = await (await get(client, f"{API}/centres")).json()
    (declared,) = [c for c in overview["centres"] if c["code"] == "samu31"]
    response = await post(
        client, token, f"{API}/centres/{declared['id']}", {"name": "Autre", "time_zone": ""}
    )
    body = await response.json()
    assert (response.status, body["error_id"]) == (409, "centre_in_configuration")
    assert "fichier de configuration" in body["message"]
    # Its desks and accounts are still managed here.
    positions = f"{API}/centres/{declared['id']}/positions"
    assert (await post(client, token, positions, {"position": "PJSIP/1311"})).status == 201
