"""The French plan and the centre's time zone through the real HTTP service (outbox, SQLite)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from visioregul.integration import accounts, appkeys
from visioregul.integration.app import create_app
from visioregul.integration.store.models import Role

from .conftest import PASSWORD, ClientFactory, login, make_settings

Client = TestClient[web.Request, web.Application]
NBSP = "\u00a0"
ASK = "Demandez un numéro de mobile ou une adresse e-mail."


async def centre(aiohttp_client: ClientFactory, tmp_path: Path, region: str) -> Client:
    """A service for a centre in ``region``, with one regulator signed in."""
    app = create_app(make_settings(tmp_path, region=region))
    client = await aiohttp_client(app)
    async with app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db, "regulateur", PASSWORD, display_name="Dr Martin", role=Role.REGULATOR
        )
    return client


async def invite(client: Client, token: str, destination: str) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/console/api/sessions",
        json={"destination": destination},
        headers={"X-CSRF-Token": token, "Accept-Language": "fr"},
    )
    return response.status, await response.json()


async def sms_to(client: Client, number: str) -> dict[str, Any]:
    """The outbox message sent to ``number`` (waited for)."""
    for _ in range(100):
        body = await (await client.get("/console/api/outbox")).json()
        for message in body["messages"]:
            if message["to"] == number:
                return dict(message)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message to {number}")


REFUSALS = [
    ("01 45 67 89 01", "landline_number", f"Le 01 45 67 89 01 est un numéro fixe{NBSP}:"),
    ("0262 16 12 34", "landline_number", f"Le 02 62 16 12 34 est un numéro fixe{NBSP}:"),
    (
        "0800 12 34 56",
        "freephone_number",
        f"Le 0 800 12 34 56 est un numéro gratuit de service{NBSP}:",
    ),
    ("0891123456", "premium_number", f"Le 0 891 12 34 56 est un numéro surtaxé{NBSP}:"),
    (
        "08 10 12 34 56",
        "special_number",
        f"Le 0 810 12 34 56 est un numéro spécial (service à tarif partagé){NBSP}:",
    ),
    ("15", "short_number", f"Le 15 est un numéro court{NBSP}:"),
    ("3624", "short_number", f"Le 3624 est un numéro court{NBSP}:"),
    ("116 117", "short_number", f"Le 116117 est un numéro court{NBSP}:"),
    (
        "+49 30 12345678",
        "foreign_number_without_sms",
        f"Le +49 30 12345678 est un numéro étranger qui n'est pas un mobile{NBSP}:",
    ),
]


@pytest.mark.parametrize("region", ["FR", "RE"])
async def test_given_a_number_that_cannot_receive_sms_then_refused_in_french_and_nothing_written(
    aiohttp_client: ClientFactory, tmp_path: Path, region: str
) -> None:
    client = await centre(aiohttp_client, tmp_path, region)
    token = await login(client)
    for destination, error_id, opening in REFUSALS:
        status, body = await invite(client, token, destination)
        assert (status, body["error_id"]) == (400, error_id), destination
        expected = f"{opening} il ne peut pas recevoir de SMS. {ASK}"
        assert body["message"] == expected, destination
    history = await (await client.get("/console/api/sessions")).json()
    assert history == {"total": 0, "sessions": []}
    outbox = await (await client.get("/console/api/outbox")).json()
    assert outbox == {"messages": []}


@pytest.mark.parametrize(
    ("region", "typed", "e164"),
    [
        ("FR", "06 92 12 34 56", "+262692123456"),
        ("FR", "0639 01 23 45", "+262639012345"),
        ("FR", "0690.00.12.34", "+590690001234"),
        ("FR", "+596 696 20 12 34", "+596696201234"),
        ("FR", "694201234", "+594694201234"),
        ("RE", "06 12 34 56 78", "+33612345678"),
        ("RE", "612345678", "+33612345678"),
        ("RE", "0692-12-34-56", "+262692123456"),
    ],
)
async def test_given_a_mobile_of_the_plan_then_the_sms_goes_to_it_whatever_the_centre(
    aiohttp_client: ClientFactory, tmp_path: Path, region: str, typed: str, e164: str
) -> None:
    client = await centre(aiohttp_client, tmp_path, region)
    token = await login(client)
    status, body = await invite(client, token, typed)
    assert status == 201, body
    message = await sms_to(client, e164)
    assert message["channel"] == "sms"


@pytest.mark.parametrize(("region", "zone"), [("FR", "Europe/Paris"), ("RE", "Indian/Reunion")])
async def test_given_a_centre_then_the_console_is_told_its_time_zone(
    aiohttp_client: ClientFactory, tmp_path: Path, region: str, zone: str
) -> None:
    client = await centre(aiohttp_client, tmp_path, region)
    await login(client)
    me = await (await client.get("/console/api/me")).json()
    assert me["time_zone"] == zone


async def test_given_a_centre_in_reunion_then_the_sms_says_the_expiry_in_reunion_time(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client = await centre(aiohttp_client, tmp_path, "RE")
    token = await login(client)
    status, body = await invite(client, token, "0692 12 34 56")
    assert status == 201, body
    session = await (await client.get(f"/console/api/sessions/{body['id']}")).json()
    expires = datetime.fromisoformat(session["invitations"][0]["expires_at"])
    reunion = expires.astimezone(ZoneInfo("Indian/Reunion"))
    paris = expires.astimezone(ZoneInfo("Europe/Paris"))
    assert f"{reunion:%H}h{reunion:%M}" != f"{paris:%H}h{paris:%M}"  # two or three hours apart
    text = (await sms_to(client, "+262692123456"))["text"]
    assert f"valable jusqu'à {reunion:%H}h{reunion:%M}" in text, text
