"""Each centre's time zone, through the real application: a regulator of a centre in Guyane gets
invitations, a console, stills' names and reports in ``America/Cayenne``, one of the default
centre in the service's ``Europe/Paris``."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from PIL import Image
from sqlalchemy import select, update

from tests.store.conftest import NewDatabase
from visioregul.integration import accounts, appkeys
from visioregul.integration.app import create_app
from visioregul.integration.sessions.models import Invitation, SessionFile
from visioregul.integration.sessions.services import Actor
from visioregul.integration.settings import (
    CentreSettings,
    ConsoleSettings,
    DatabaseSettings,
    ServiceSettings,
)
from visioregul.integration.store.models import Account, Centre, Role

from .conftest import PASSWORD, ClientFactory, make_settings

Client = TestClient[web.Request, web.Application]

pytestmark = [pytest.mark.timeout(60)]

CAYENNE = "America/Cayenne"


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: NewDatabase
) -> Client:
    """The service with the default centre (Paris, desk 1001) and SAMU 973 (Cayenne, desk
    1101); ``cayenne`` is a regulator of SAMU 973, ``paris`` one of the default centre."""
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=await new_database())
    settings.service = ServiceSettings(
        data_dir=tmp_path, public_url="http://127.0.0.1:8015", time_zone="Europe/Paris"
    )
    settings.console = ConsoleSettings(api_keys=settings.console.api_keys, positions=["PJSIP/1001"])
    settings.centres = [
        CentreSettings(code="samu973", name="SAMU 973", time_zone=CAYENNE, positions=["PJSIP/1101"])
    ]
    client = await aiohttp_client(create_app(settings))
    async with client.app[appkeys.DB].begin() as db:
        cayenne = await db.scalar(select(Centre.id).where(Centre.code == "samu973"))
        for username in ("paris", "cayenne"):
            await accounts.ensure_account(
                db, username, PASSWORD, display_name=username.title(), role=Role.REGULATOR
            )
        # Given no desk of their own, each takes their centre's.
        await db.execute(
            update(Account).where(Account.username == "cayenne").values(centre_id=cayenne)
        )
    return client


async def _login(client: Client, username: str) -> str:
    response = await client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD},
        headers={"Origin": str(client.make_url("/")).rstrip("/")},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    me = await (await client.get("/console/api/me")).json()
    return str(me["csrf_token"])


async def _me(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get("/console/api/me")).json()
    return body


async def _invite(client: Client, csrf: str, destination: str) -> tuple[str, str]:
    """Open a session inviting ``destination``; its id and the SMS's text once sent."""
    response = await client.post(
        "/console/api/sessions", json={"destination": destination}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 201, await response.text()
    session_id = str((await response.json())["id"])
    wanted = "+33" + destination.replace(" ", "")[1:]
    for _ in range(200):
        messages = (await (await client.get("/console/api/outbox")).json())["messages"]
        sent = [m["text"] for m in messages if m["to"] == wanted]
        if sent:
            return session_id, sent[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no SMS to {wanted}")


def _clock(at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%H}h{local:%M}"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


async def test_given_a_regulator_of_a_centre_in_guyane_then_the_sms_console_stills_and_report_are_in_its_zone(  # noqa: E501
    client: Client,
) -> None:
    csrf = await _login(client, "cayenne")
    me = await _me(client)
    assert (me["position"], me["time_zone"]) == ("PJSIP/1101", CAYENNE)

    session_id, sms = await _invite(client, csrf, "06 12 34 56 78")

    async with client.app[appkeys.DB]() as db:
        expires_at = await db.scalar(
            select(Invitation.expires_at).where(Invitation.session_id == session_id)
        )
    assert expires_at is not None
    # Four hours apart: the link's end is written as Cayenne reads its clocks.
    assert _clock(expires_at, CAYENNE) in sms
    assert _clock(expires_at, "Europe/Paris") not in sms

    stills = client.app[appkeys.STILLS]
    kept = await stills.keep(session_id, Actor("cayenne", "PJSIP/1101"), _jpeg())
    # 02:30 UTC on 5 December: still the 4th in Cayenne, already the 5th in Paris.
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(
            update(SessionFile)
            .where(SessionFile.id == kept.id)
            .values(taken_at=datetime(2026, 12, 5, 2, 30, tzinfo=UTC))
        )
    listed = await (await client.get(f"/console/api/sessions/{session_id}/stills")).json()
    assert [still["filename"] for still in listed["stills"]] == ["visio-2026-12-04-1.jpg"]
    download = await client.get(f"/console/api/sessions/{session_id}/stills/{kept.id}")
    assert download.status == 200
    assert (
        download.headers["Content-Disposition"] == 'attachment; filename="visio-2026-12-04-1.jpg"'
    )

    report = await client.get(f"/console/sessions/{session_id}/report")
    assert report.status == 200
    page = await report.text()
    assert "SAMU 973" in page
    assert CAYENNE in page
    assert "04/12/2026 23:30:00" in page


async def test_given_a_regulator_of_the_default_centre_then_the_service_zone_applies(
    client: Client,
) -> None:
    csrf = await _login(client, "paris")
    me = await _me(client)
    assert (me["position"], me["time_zone"]) == ("PJSIP/1001", "Europe/Paris")
    session_id, sms = await _invite(client, csrf, "06 22 33 44 55")
    async with client.app[appkeys.DB]() as db:
        expires_at = await db.scalar(
            select(Invitation.expires_at).where(Invitation.session_id == session_id)
        )
    assert expires_at is not None
    assert _clock(expires_at, "Europe/Paris") in sms
    assert _clock(expires_at, CAYENNE) not in sms


async def test_given_a_centres_zone_changed_when_the_directory_is_reloaded_then_new_texts_follow(
    client: Client,
) -> None:
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(
            update(Centre).where(Centre.code == "samu973").values(time_zone="Asia/Tokyo")
        )
    async with client.app[appkeys.DB]() as db:
        await client.app[appkeys.CENTRES].reload(db)
    await _login(client, "cayenne")
    assert (await _me(client))["time_zone"] == "Asia/Tokyo"
