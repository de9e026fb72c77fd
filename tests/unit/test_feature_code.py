"""The phone key: AMI and ARI events to ``FeatureCodePressed``, Telephony's listeners, the answer.

The answer is decided by ``FeatureCode`` against a real session service on SQLite (telephony
off); the channel variable it writes is recorded by a stand-in writer.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.sessions.feature_code import REFUSED, SENT, FeatureCode
from visioregul.integration.sessions.models import VisioSession
from visioregul.integration.settings import (
    AmiSettings,
    DatabaseSettings,
    ServiceSettings,
    Settings,
    TelephonySettings,
)
from visioregul.integration.store.models import AuditEntry, OutboxMessage
from visioregul.integration.telephony.ami import fact_from_ami
from visioregul.integration.telephony.ari import fact_from_ari
from visioregul.integration.telephony.events import CallAnswered, CallEnded, CallRinging
from visioregul.integration.telephony.facts import (
    ChannelSnapshot,
    ChannelTagged,
    FeatureCodePressed,
    MalformedEvent,
)
from visioregul.integration.telephony.registry import LiveCallRegistry
from visioregul.integration.telephony.service import Telephony
from visioregul.integration.telephony.tracker import CallTracker

AT = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
CALL = "1795931701.0"
REGULATOR = "PJSIP/1001-00000001"

# As the sandbox's Asterisk 22 sends them (dialplan/sandbox/EVENTS.md).
AMI_INVITE = {
    "Event": "UserEvent",
    "Privilege": "user,all",
    "UserEvent": "VisioRegulInvite",
    "CallId": CALL,
    "Channel": REGULATOR,
    "ChannelState": "6",
    "ChannelStateDesc": "Up",
    "CallerIDNum": "1001",
    "ConnectedLineNum": "+33612345678",
    "Context": "visioregul-feature",
    "Exten": "s",
    "Priority": "4",
    "Uniqueid": "1795931701.1",
    "Linkedid": CALL,
}
ARI_INVITE = {
    "type": "ChannelUserevent",
    "eventname": "VisioRegulInvite",
    "userevent": {"eventname": "VisioRegulInvite", "CallId": CALL},
    "channel": {
        "id": "1795931701.1",
        "name": REGULATOR,
        "state": "Up",
        "caller": {"name": "Position 1001", "number": "1001"},
        "connected": {"name": "", "number": "+33612345678"},
        "dialplan": {"context": "visioregul-feature", "exten": "s", "priority": 4},
    },
    "application": "visioregul",
}


def pressed(call_id: str = CALL, channel: str = REGULATOR) -> FeatureCodePressed:
    snapshot = ChannelSnapshot(uniqueid="1795931701.1", linkedid=call_id, name=channel)
    return FeatureCodePressed(channel=snapshot, call_id=call_id, at=AT)


# -- adapters --------------------------------------------------------------------------------


def test_given_the_ami_user_event_then_feature_code_pressed_on_the_regulators_channel() -> None:
    fact = fact_from_ami(AMI_INVITE, AT)
    assert isinstance(fact, FeatureCodePressed)
    assert fact.call_id == CALL
    assert fact.channel.name == REGULATOR
    assert fact.channel.uniqueid == "1795931701.1"
    assert fact.channel.up is True
    assert fact.at == AT


def test_given_a_press_id_then_every_adapter_reads_it_and_an_older_dialplan_gives_none() -> None:
    press = "1795931701.1-1795931705-48213"
    from_ami = fact_from_ami({**AMI_INVITE, "Press": press}, AT)
    ari_body = {**ARI_INVITE["userevent"], "Press": press}  # type: ignore[dict-item]
    from_ari = fact_from_ari({**ARI_INVITE, "userevent": ari_body}, AT)
    older = fact_from_ami(AMI_INVITE, AT)
    assert isinstance(from_ami, FeatureCodePressed) and isinstance(from_ari, FeatureCodePressed)
    assert isinstance(older, FeatureCodePressed)
    assert (from_ami.press_id, from_ari.press_id, older.press_id) == (press, press, None)


def test_given_an_ami_event_without_call_id_then_the_linkedid_is_the_call() -> None:
    event = {key: value for key, value in AMI_INVITE.items() if key != "CallId"}
    fact = fact_from_ami(event, AT)
    assert isinstance(fact, FeatureCodePressed)
    assert fact.call_id == CALL


def test_given_an_ami_event_without_channel_then_malformed() -> None:
    event = {key: value for key, value in AMI_INVITE.items() if key != "Uniqueid"}
    with pytest.raises(MalformedEvent):
        fact_from_ami(event, AT)


def test_given_other_ami_user_events_then_tag_or_nothing() -> None:
    assert fact_from_ami({**AMI_INVITE, "UserEvent": "SomethingElse"}, AT) is None
    tagged = fact_from_ami({**AMI_INVITE, "UserEvent": "VisioRegulCall", "Line": "15"}, AT)
    assert isinstance(tagged, ChannelTagged)


def test_given_the_ari_user_event_then_feature_code_pressed_on_the_regulators_channel() -> None:
    fact = fact_from_ari(ARI_INVITE, AT)
    assert isinstance(fact, FeatureCodePressed)
    assert fact.call_id == CALL
    assert fact.channel.name == REGULATOR
    # ARI's channel objects carry no Linkedid: CallId stands for it.
    assert fact.channel.linkedid == CALL
    assert fact.channel.connected_number == "+33612345678"


@pytest.mark.parametrize(
    "event",
    [
        {**ARI_INVITE, "userevent": {"eventname": "VisioRegulInvite"}},
        {key: value for key, value in ARI_INVITE.items() if key != "channel"},
    ],
    ids=["no CallId", "no channel"],
)
def test_given_an_incomplete_ari_event_then_malformed(event: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        fact_from_ari(event, AT)


def test_given_other_ari_user_events_then_nothing() -> None:
    assert fact_from_ari({**ARI_INVITE, "eventname": "SomethingElse"}, AT) is None


# -- Telephony and the tracker ---------------------------------------------------------------


def test_given_a_press_then_the_tracker_changes_nothing() -> None:
    tracker = CallTracker()
    assert tracker.apply(pressed()) == []
    assert tracker.channels == {} and tracker.calls == {}


def test_given_listeners_when_a_key_is_pressed_then_each_hears_it_once() -> None:
    telephony = Telephony(TelephonySettings(source="none"), LiveCallRegistry())
    heard: list[FeatureCodePressed] = []

    def broken(_fact: FeatureCodePressed) -> None:
        raise RuntimeError("broken listener")

    telephony.on_feature_code(broken)
    unsubscribe = telephony.on_feature_code(heard.append)
    fact = pressed()
    telephony.fact(fact)
    assert heard == [fact]
    assert telephony.registry.calls() == []
    unsubscribe()
    unsubscribe()  # twice is safe
    telephony.fact(fact)
    assert heard == [fact]


# -- the answer ------------------------------------------------------------------------------


@dataclass
class Writer:
    """Records the variables the handler writes; fails on demand."""

    written: list[tuple[str, str, str]] = field(default_factory=list)
    error: Exception | None = None

    async def __call__(
        self, channel: str, name: str, value: str, *, timeout: float | None = None
    ) -> None:
        assert timeout is not None and 0 < timeout <= 3.0
        if self.error is not None:
            raise self.error
        self.written.append((channel, name, value))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def app(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[web.Application]:
    settings = Settings(
        service=ServiceSettings(data_dir=tmp_path),
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"),
        # No Asterisk: the pairing write fails at once (nothing listens on that port).
        telephony=TelephonySettings(source="none", ami=AmiSettings(port=free_port())),
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    yield client.app


def feature_code(app: web.Application, writer: Writer) -> FeatureCode:
    return FeatureCode(app[appkeys.SESSION_SERVICE], app[appkeys.REGISTRY], app[appkeys.DB], writer)


def answered_call(app: web.Application, caller: str, call_id: str = CALL) -> None:
    registry = app[appkeys.REGISTRY]
    registry.apply(CallRinging(call_id, "15", caller, "PJSIP/operator-00000000", call_id, AT))
    registry.apply(CallAnswered(call_id, "PJSIP/1001", AT))


async def outbox(app: web.Application) -> list[str]:
    """The numbers of the SMS in the outbox, once there is one (delivery runs in the background)."""
    numbers: list[str] = []
    for _ in range(100):
        async with app[appkeys.DB]() as db:
            numbers = [m.to for m in await db.scalars(select(OutboxMessage))]
        if numbers:
            break
        await asyncio.sleep(0.05)
    return numbers


async def audit_lines(app: web.Application) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    async with app[appkeys.DB]() as db:
        entries = await db.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.actor, e.action, e.target, dict(e.details)) for e in entries]


async def test_given_a_mobile_caller_when_pressed_then_session_sms_and_sent(
    app: web.Application,
) -> None:
    writer = Writer()
    answered_call(app, "0612345678")
    outcome = await feature_code(app, writer).handle(pressed())
    assert outcome.answer == SENT and outcome.reason is None and outcome.answered
    assert writer.written == [(REGULATOR, "VISIOREGUL_INVITE", "sent")]
    async with app[appkeys.DB]() as db:
        session = await db.get(VisioSession, outcome.session_id)
        assert session is not None
        assert (session.call_id, session.created_by, session.position) == (
            CALL,
            "position:PJSIP/1001",
            "PJSIP/1001",
        )
    assert await outbox(app) == ["+33612345678"]
    assert await audit_lines(app) == [
        (
            "position:PJSIP/1001",
            "feature_code.sent",
            CALL,
            {"channel": REGULATOR, "answered": True, "session_id": outcome.session_id},
        )
    ]


@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        ("0145678901", "landline"),
        ("0800123456", "freephone"),
        ("0891123456", "premium"),
        ("3624", "short"),
        ("anonymous", "withheld"),
        ("12", "invalid"),
    ],
)
async def test_given_a_caller_without_mobile_when_pressed_then_refused_with_the_reason(
    app: web.Application, caller: str, reason: str
) -> None:
    writer = Writer()
    answered_call(app, caller)
    outcome = await feature_code(app, writer).handle(pressed())
    assert (outcome.answer, outcome.reason, outcome.session_id) == (REFUSED, reason, None)
    assert writer.written == [(REGULATOR, "VISIOREGUL_INVITE", "refused")]
    async with app[appkeys.DB]() as db:
        assert list(await db.scalars(select(VisioSession))) == []
    assert await audit_lines(app) == [
        (
            "position:PJSIP/1001",
            "feature_code.refused",
            CALL,
            {"channel": REGULATOR, "answered": True, "reason": reason},
        )
    ]


async def test_given_an_unknown_or_ended_call_when_pressed_then_refused(
    app: web.Application,
) -> None:
    writer = Writer()
    handler = feature_code(app, writer)
    assert (await handler.handle(pressed("nope"))).reason == "call_not_found"
    answered_call(app, "0612345678")
    app[appkeys.REGISTRY].apply(CallEnded(CALL, AT))
    assert (await handler.handle(pressed())).reason == "call_ended"
    assert [value for _c, _n, value in writer.written] == ["refused", "refused"]


async def test_given_two_presses_at_once_then_one_session_and_one_refusal(
    app: web.Application,
) -> None:
    writer = Writer()
    handler = feature_code(app, writer)
    answered_call(app, "0612345678")
    first, second = await asyncio.gather(handler.handle(pressed()), handler.handle(pressed()))
    assert (first.answer, second.answer, second.reason) == (SENT, REFUSED, "in_progress")
    # Once the first is done, the key works again (a new session, a new SMS).
    assert (await handler.handle(pressed())).answer == SENT


async def test_given_the_destination_limit_reached_then_refused(app: web.Application) -> None:
    writer = Writer()
    handler = feature_code(app, writer)
    answered_call(app, "0612345678")
    limit = app[appkeys.SETTINGS].messaging.per_destination_per_hour
    for _ in range(limit):
        assert (await handler.handle(pressed())).answer == SENT
    outcome = await handler.handle(pressed())
    assert (outcome.answer, outcome.reason) == (REFUSED, "too_many_invitations_destination")


async def test_given_asterisk_unreachable_when_answering_then_logged_and_audited(
    app: web.Application,
) -> None:
    writer = Writer(error=ConnectionError("AMI link is not up"))
    answered_call(app, "0612345678")
    outcome = await feature_code(app, writer).handle(pressed())
    # The session is open and the SMS goes; the phone, without an answer, plays the error tone.
    assert (outcome.answer, outcome.answered) == (SENT, False)
    assert (await audit_lines(app))[0][3]["answered"] is False


async def test_given_a_press_from_telephony_then_handled_in_the_background(
    app: web.Application,
) -> None:
    writer = Writer()
    handler = feature_code(app, writer)
    answered_call(app, "0145678901")
    handler.on_pressed(pressed())
    for _ in range(100):
        if writer.written:
            break
        await asyncio.sleep(0.02)
    assert writer.written == [(REGULATOR, "VISIOREGUL_INVITE", "refused")]
    await handler.close()
    await handler.close()  # twice is safe
