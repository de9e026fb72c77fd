"""Two service instances on one PostgreSQL, watching the same sandbox Asterisk.

Both hear every call and every press of the desk phone's key; the side effects happen once: one
session, one SMS, one audit line, one answer to the phone. Run through AMI and through ARI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from panoramisk import Manager
from sqlalchemy import select

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from tests.store.conftest import NewDatabase, backend, new_database  # noqa: F401  (fixtures)
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.store.claims import ActionClaim
from visioregul.integration.store.models import AuditEntry, OutboxMessage
from visioregul.integration.telephony.registry import LiveCallRegistry

from .service import Client, service_settings, until, wait_link_up
from .test_feature_code import (  # noqa: F401  (fixture)
    BEEPS,
    admin,
    ended_cleanly,
    live_channel,
    sessions_of,
    tones_played,
    wait_var,
)

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.timeout(120),
    pytest.mark.parametrize(
        "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
    ),
]


@pytest.mark.parametrize("source", ["ami", "ari"])
async def test_given_two_instances_when_star_8_is_pressed_then_one_sms_and_one_session(
    source: str,
    sandbox: SandboxAsterisk,
    admin: Manager,  # noqa: F811
    aiohttp_client: object,
    tmp_path: Path,
    new_database: NewDatabase,  # noqa: F811
) -> None:
    url = await new_database()
    instances: list[Client] = []
    for name in ("visio-a", "visio-b"):
        settings = service_settings(sandbox, source, tmp_path / name)
        settings.database = DatabaseSettings(url=url)
        settings.service.instance_id = name
        # As the settings file would give it (an application per instance, see the settings).
        settings.telephony.ari.app = f"visioregul-{name}"
        client: Client = await aiohttp_client(create_app(settings))  # type: ignore[operator]
        await wait_link_up(client)
        instances.append(client)
    first, second = instances

    phone = await start_phone(sandbox, "1001", answer_delay_ms=200, feature_code_after_ms=1000)
    call = await place_call(sandbox, "+33612345678", "151001", duration_ms=6000)
    for client in instances:  # both see the call, so either could have shown the offer
        registry = client.app[appkeys.REGISTRY]

        def at_1001(registry: LiveCallRegistry = registry) -> bool:
            return bool(registry.calls(position="PJSIP/1001"))

        await until(at_1001, 10, "the call at 1001")
    call_id = first.app[appkeys.REGISTRY].calls(position="PJSIP/1001")[0].call_id
    regulator = await live_channel(sandbox, "1001")

    assert await wait_var(admin, regulator, "VISIOREGUL_INVITE") == "sent"
    await ended_cleanly(call, phone)

    body = await sessions_of(second, call_id)
    assert body["total"] == 1
    async with first.app[appkeys.DB]() as db:
        sms = list(await db.scalars(select(OutboxMessage)))
        audit = [
            entry
            for entry in await db.scalars(select(AuditEntry))
            if entry.action.startswith("feature_code.")
        ]
        claims = list(await db.scalars(select(ActionClaim)))
    assert [(m.channel, m.to) for m in sms] == [("sms", "+33612345678")]
    assert [(a.action, a.target) for a in audit] == [("feature_code.sent", call_id)]
    assert [claim.key.startswith("feature-code:") for claim in claims] == [True]
    assert claims[0].instance in {"visio-a", "visio-b"}
    assert tones_played(sandbox, regulator) == [BEEPS]
