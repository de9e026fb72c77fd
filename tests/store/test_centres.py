"""Centres declared at start from ``[[centres]]``, and the directory that tells a call's centre."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.integration.centres import CentreDirectory, all_positions, declare_centres
from visioregul.integration.positions import declare_positions
from visioregul.integration.settings import (
    CentreSettings,
    ConsoleSettings,
    ServiceSettings,
    Settings,
    TelephonySettings,
)
from visioregul.integration.store.models import DEFAULT_CENTRE_ID, Centre, Position
from visioregul.integration.telephony.events import (
    CallAnswered,
    CallEnded,
    CallRinging,
    CallTransferred,
)
from visioregul.integration.telephony.numbers import parse_caller
from visioregul.integration.telephony.registry import CallState, LiveCall, LiveCallRegistry
from visioregul.integration.web.notifier import Connection, Notifier


def _settings(**centres: CentreSettings) -> Settings:
    return Settings(
        service=ServiceSettings(time_zone="Europe/Paris"),
        telephony=TelephonySettings(lines=["15", "15-973"]),
        console=ConsoleSettings(positions=["PJSIP/1001"]),
        centres=list(centres.values()),
    )


CAYENNE = CentreSettings(
    code="samu973",
    name="SAMU 973",
    time_zone="America/Cayenne",
    lines=["15-973"],
    positions=["PJSIP/1101", "PJSIP/1102"],
)


def _call(line: str, position: str | None, previous: tuple[str, ...] = ()) -> LiveCall:
    return LiveCall(
        call_id="1700000000.1",
        line=line,
        caller=parse_caller("+33612345678"),
        channel="PJSIP/operator-00000001",
        uniqueid="1700000000.1",
        state=CallState.ANSWERED,
        started_at=datetime.now(UTC),
        position=position,
        previous_positions=previous,
    )


async def _centres(db: AsyncSession) -> list[tuple[int, str, str, str | None]]:
    rows = await db.scalars(select(Centre).order_by(Centre.id))
    return [(c.id, c.code, c.name, c.time_zone) for c in rows]


async def test_given_centres_when_declared_twice_then_added_once_and_updated_by_code(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as db:
        ids = await declare_centres(db, _settings(cayenne=CAYENNE))
    cayenne = ids["samu973"]
    assert ids["default"] == DEFAULT_CENTRE_ID != cayenne
    renamed = _settings(
        default=CentreSettings(code="default", name="SAMU 31", time_zone="Europe/Paris"),
        cayenne=CAYENNE.model_copy(update={"name": "SAMU 973 Guyane", "positions": []}),
    )
    async with sessionmaker.begin() as db:
        assert await declare_centres(db, renamed) == ids
    async with sessionmaker() as db:
        assert await _centres(db) == [
            (DEFAULT_CENTRE_ID, "default", "SAMU 31", "Europe/Paris"),
            (cayenne, "samu973", "SAMU 973 Guyane", "America/Cayenne"),
        ]
        desks = await db.execute(
            select(Position.centre_id, Position.endpoint).order_by(Position.endpoint)
        )
        # Desks gone from the settings stay: nothing is deleted at start.
        assert list(desks) == [
            (DEFAULT_CENTRE_ID, "PJSIP/1001"),
            (cayenne, "PJSIP/1101"),
            (cayenne, "PJSIP/1102"),
        ]
        assert await all_positions(db) == ["PJSIP/1001", "PJSIP/1101", "PJSIP/1102"]


async def test_given_the_directory_then_a_call_is_its_lines_centre_else_its_desks(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = _settings(cayenne=CAYENNE)
    directory = CentreDirectory.from_settings(settings)
    # Before it is loaded: everything is the default centre's, in the service's zone.
    assert directory.of_call(_call("15-973", "PJSIP/1101")) == DEFAULT_CENTRE_ID
    async with sessionmaker.begin() as db:
        cayenne = (await declare_centres(db, settings))["samu973"]
        await directory.reload(db)
    assert directory.time_zone(DEFAULT_CENTRE_ID) == "Europe/Paris"
    assert directory.time_zone(cayenne) == "America/Cayenne"
    assert directory.time_zone(999) == "Europe/Paris"
    assert directory.of_line("15-973") == cayenne
    assert directory.of_line("15") is None
    # The line first, whichever desk has the call.
    assert directory.of_call(_call("15-973", "PJSIP/1001")) == cayenne
    assert directory.of_call(_call("15-973", None)) == cayenne
    # A line no centre claims: the desk's centre, or the last desk's once it left.
    assert directory.of_call(_call("15", "PJSIP/1102")) == cayenne
    assert directory.of_call(_call("15", None, ("PJSIP/1001", "PJSIP/1101"))) == cayenne
    assert directory.of_call(_call("15", "PJSIP/1001")) == DEFAULT_CENTRE_ID
    assert directory.of_call(_call("15", None)) == DEFAULT_CENTRE_ID


async def test_given_a_zone_or_desk_changed_in_the_store_when_reloaded_then_the_directory_follows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = _settings(cayenne=CAYENNE)
    directory = CentreDirectory.from_settings(settings)
    async with sessionmaker.begin() as db:
        cayenne = (await declare_centres(db, settings))["samu973"]
        await directory.reload(db)
    assert directory.of_position("PJSIP/1103") is None
    async with sessionmaker.begin() as db:
        centre = await db.get(Centre, cayenne)
        assert centre is not None
        centre.time_zone = "America/Martinique"
        await declare_positions(db, ["PJSIP/1103"], centre_id=cayenne)
    assert directory.time_zone(cayenne) == "America/Cayenne"
    async with sessionmaker() as db:
        await directory.reload(db)
    assert directory.time_zone(cayenne) == "America/Martinique"
    assert directory.of_position("PJSIP/1103") == cayenne
    assert directory.of_call(_call("15", "PJSIP/1103")) == cayenne


def _drain(connection: Connection) -> list[tuple[str, str | None]]:
    out = []
    while not connection.queue.empty():
        message = connection.queue.get_nowait()
        assert message is not None
        out.append((message["type"], message["call"]["call_id"]))
    return out


async def test_given_two_centres_then_the_notifier_sends_each_call_to_its_centre(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = _settings(cayenne=CAYENNE)
    directory = CentreDirectory.from_settings(settings)
    async with sessionmaker.begin() as db:
        cayenne = (await declare_centres(db, settings))["samu973"]
        await directory.reload(db)
    registry = LiveCallRegistry()
    notifier = Notifier(centres=directory)
    registry.subscribe(notifier.on_call)
    at_1001 = Connection("PJSIP/1001", centre_id=DEFAULT_CENTRE_ID)
    at_1101 = Connection("PJSIP/1101", centre_id=cayenne)
    cad_paris = Connection(None, centre_id=DEFAULT_CENTRE_ID)
    cad_cayenne = Connection(None, centre_id=cayenne)
    cad_anyone = Connection(None)
    listeners = (at_1001, at_1101, cad_paris, cad_cayenne, cad_anyone)
    for connection in listeners:
        notifier.attach(connection)
    at = datetime.now(UTC)

    # Guyane's line answered at the Paris desk: Guyane's call, and nothing reaches Paris.
    registry.apply(CallRinging("g1", "15-973", "+594694123456", "PJSIP/trunk-1", "g1", at))
    registry.apply(CallAnswered("g1", "PJSIP/1001", at))
    # A line no centre claims: the desk's centre; moved to Guyane's desk, Paris sees it go.
    registry.apply(CallRinging("p1", "15", "+33612345678", "PJSIP/trunk-2", "p1", at))
    registry.apply(CallAnswered("p1", "PJSIP/1001", at))
    registry.apply(CallTransferred("p1", "PJSIP/1001", "PJSIP/1101", at))
    registry.apply(CallEnded("p1", at))

    assert _drain(at_1001) == [("offer", "p1"), ("call.moved", "p1")]
    assert _drain(at_1101) == [("offer", "p1"), ("call.updated", "p1")]
    assert _drain(cad_cayenne) == [
        ("call.ringing", "g1"),
        ("call.answered", "g1"),
        ("call.transferred", "p1"),
        ("call.ended", "p1"),
    ]
    assert _drain(cad_paris) == [
        ("call.ringing", "p1"),
        ("call.answered", "p1"),
        ("call.transferred", "p1"),
    ]
    assert [kind for kind, _ in _drain(cad_anyone)] == [
        "call.ringing",
        "call.answered",
        "call.ringing",
        "call.answered",
        "call.transferred",
        "call.ended",
    ]


async def test_given_a_single_centre_installation_when_centres_are_declared_then_their_desks_win(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Desks the default centre declared before (``console.positions``) stay there, but a call
    at one of them is the centre's that now declares it."""
    async with sessionmaker.begin() as db:
        await declare_centres(db, Settings(console=ConsoleSettings(positions=["PJSIP/1101"])))
    settings = _settings(cayenne=CAYENNE.model_copy(update={"positions": ["PJSIP/1101"]}))
    directory = CentreDirectory.from_settings(settings)
    async with sessionmaker.begin() as db:
        cayenne = (await declare_centres(db, settings))["samu973"]
        await declare_positions(db, ["PJSIP/1102"], centre_id=DEFAULT_CENTRE_ID)
        await declare_positions(db, ["PJSIP/1102"], centre_id=cayenne)
        await directory.reload(db)
        assert await all_positions(db) == ["PJSIP/1001", "PJSIP/1101", "PJSIP/1102"]
    assert directory.of_position("PJSIP/1101") == cayenne
    # Declared in the store only (an administrator's page), in both: not the default's copy.
    assert directory.of_position("PJSIP/1102") == cayenne
    assert directory.of_call(_call("15", "PJSIP/1101")) == cayenne
