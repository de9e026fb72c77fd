"""The CAD's deep link with two centres: another centre's call at the regulator's own desk is as
unknown to them as any call they do not have."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.store.conftest import NewDatabase
from visioregul.integration.app import create_app
from visioregul.integration.settings import CentreSettings, TelephonySettings
from visioregul.integration.telephony.events import CallAnswered, CallRinging
from visioregul.integration.web import appkeys

from .conftest import ClientFactory
from .test_cad_link import Client, cad_settings, mint, open_link, with_accounts


def answer(client: Client, call_id: str, line: str, position: str) -> None:
    registry = client.app[appkeys.REGISTRY]
    at = datetime.now(UTC)
    registry.apply(CallRinging(call_id, line, "+33612345678", "PJSIP/trunk-1", call_id, at))
    registry.apply(CallAnswered(call_id, position, at))


async def test_given_another_centres_call_at_the_desk_then_the_deep_link_does_not_open_its_card(
    aiohttp_client: ClientFactory, tmp_path: Path, new_database: NewDatabase
) -> None:
    settings = cad_settings(tmp_path, await new_database())
    settings.telephony = TelephonySettings(source="none", lines=["15", "1515"])
    # The regulator is the default centre's, at desk 1001; the 1515 line is SAMU 973's.
    settings.centres = [CentreSettings(code="samu973", name="SAMU 973", lines=["1515"])]
    client = await with_accounts(await aiohttp_client(create_app(settings)))
    answer(client, "1733400000.71", "1515", "PJSIP/1001")
    answer(client, "1733400000.72", "15", "PJSIP/1001")

    refused = await open_link(client, mint(call="1733400000.71"))
    assert refused.status == 303
    assert refused.headers["Location"] == "/console?notice=cad_call_unknown"
    opened = await open_link(client, mint(call="1733400000.72"))
    assert opened.headers["Location"] == "/console#/call/1733400000.72"
