"""The caller's position: requests, answers, refusals and the follow's throttle."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

import pytest

from visioregul.integration.sessions.journal import Actor
from visioregul.integration.sessions.location import (
    InvalidLocation,
    LocationFlood,
    LocationNoAnswer,
    LocationPhoneGone,
    LocationUnasked,
    Locator,
    SessionLocation,
)
from visioregul.integration.store.models import Base

REGULATOR = Actor("regulateur", "PJSIP/1001")
FIX = {"latitude": 49.894067, "longitude": 2.295753, "accuracy": 12.0}


class World:
    """The locator with its log (a list) and a page (a queue of what it was sent)."""

    def __init__(self, timeout: float = 2.0) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.rows: list[Base] = []
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.now = 1000.0
        self.locator = Locator(
            self._record,
            self._record_rows,
            self,
            timeout=timeout,
            clock=lambda: self.now,
        )

    async def address(self, latitude: float, longitude: float) -> str | None:
        return "8 Boulevard du Port 80000 Amiens"

    async def _record(
        self, session_id: str, actor: Actor, kind: str, details: dict[str, Any]
    ) -> None:
        self.events.append((kind, details))

    async def _record_rows(
        self,
        session_id: str,
        actor: Actor,
        kind: str,
        details: dict[str, Any],
        rows: Sequence[Base],
    ) -> None:
        self.events.append((kind, details))
        self.rows.extend(rows)

    async def send(self, message: dict[str, Any]) -> None:
        await self.sent.put(message)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


async def _ask(world: World, follow: bool = False) -> tuple[asyncio.Task[Any], str]:
    task = asyncio.create_task(world.locator.ask("s1", REGULATOR, "r1", follow=follow))
    message = await asyncio.wait_for(world.sent.get(), 2)
    assert message == {"type": "location.ask", "v": 1, "id": "r1", "follow": follow}
    return task, message["id"]


async def test_given_an_answer_then_the_fix_is_kept_with_its_address() -> None:
    world = World()
    world.locator.attach("s1", world.send)
    task, request = await _ask(world)
    world.locator.answer("s1", request, fix=FIX)
    outcome = await asyncio.wait_for(task, 2)
    assert outcome.ok
    assert outcome.details["address"] == "8 Boulevard du Port 80000 Amiens"
    assert outcome.details["imprecise"] is False
    assert world.kinds() == ["location.asked", "location.received"]
    row = world.rows[0]
    assert isinstance(row, SessionLocation)
    assert (row.latitude, row.longitude, row.accuracy, row.source) == (
        49.894067,
        2.295753,
        12.0,
        "asked",
    )


async def test_given_a_refusal_on_the_phone_then_a_failed_outcome_in_the_log() -> None:
    world = World()
    world.locator.attach("s1", world.send)
    task, request = await _ask(world)
    world.locator.answer("s1", request, fix=None, error="denied")
    outcome = await asyncio.wait_for(task, 2)
    assert (outcome.ok, outcome.error) == (False, "denied")
    assert world.events[-1] == ("location.failed", {"id": "r1", "follow": False, "error": "denied"})


@pytest.mark.parametrize(
    "fix",
    [
        {"latitude": 91, "longitude": 2, "accuracy": 10},
        {"latitude": 48, "longitude": -181, "accuracy": 10},
        {"latitude": math.nan, "longitude": 2, "accuracy": 10},
        {"latitude": 48, "longitude": 2, "accuracy": -1},
        {"latitude": 48, "longitude": 2, "accuracy": 1e9},
        {"latitude": "48", "longitude": 2, "accuracy": 10, "extra": 1},
    ],
    ids=["lat>90", "lon<-180", "nan", "negative-accuracy", "huge-accuracy", "extra-field"],
)
async def test_given_absurd_values_then_refused_and_nothing_kept(fix: dict[str, Any]) -> None:
    world = World()
    world.locator.attach("s1", world.send)
    task, request = await _ask(world)
    with pytest.raises(InvalidLocation):
        world.locator.answer("s1", request, fix=fix)
    outcome = await asyncio.wait_for(task, 2)
    assert not outcome.ok
    assert world.rows == []


async def test_given_no_page_then_phone_gone() -> None:
    world = World()
    with pytest.raises(LocationPhoneGone):
        await world.locator.ask("s1", REGULATOR, "r1")
    assert world.events[-1][1]["error"] == "absent"


async def test_given_the_page_goes_away_while_waiting_then_phone_gone() -> None:
    world = World()
    detach = world.locator.attach("s1", world.send)
    task, _ = await _ask(world)
    detach()
    with pytest.raises(LocationPhoneGone):
        await asyncio.wait_for(task, 2)


async def test_given_no_answer_then_no_answer_error() -> None:
    world = World(timeout=0.1)
    world.locator.attach("s1", world.send)
    task, _ = await _ask(world)
    with pytest.raises(LocationNoAnswer):
        await asyncio.wait_for(task, 2)
    assert world.events[-1][1]["error"] == "timeout"


async def test_given_a_position_nobody_asked_for_then_refused() -> None:
    world = World()
    world.locator.attach("s1", world.send)
    with pytest.raises(LocationUnasked):
        world.locator.answer("s1", "never-asked", fix=FIX)
    with pytest.raises(LocationUnasked):
        await world.locator.update("s1", FIX)
    assert world.rows == []


async def test_given_a_flood_of_requests_then_refused() -> None:
    world = World()
    for number in range(10):
        with pytest.raises(LocationPhoneGone):
            await world.locator.ask("s1", REGULATOR, f"r{number}")
    with pytest.raises(LocationFlood):
        await world.locator.ask("s1", REGULATOR, "r10")


async def test_given_the_patient_agrees_to_follow_then_updates_are_throttled() -> None:
    world = World()
    world.locator.attach("s1", world.send)
    task, request = await _ask(world, follow=True)
    world.locator.answer("s1", request, fix=FIX)
    await asyncio.wait_for(task, 2)
    assert not world.locator.following("s1")
    # The patient's first update starts the follow.
    assert await world.locator.update("s1", FIX)
    assert world.locator.following("s1")
    # Same place, 2 s later: not kept; 30 m away: kept; same place 10 s later: kept.
    world.now += 2
    assert not await world.locator.update("s1", FIX)
    moved = FIX | {"latitude": FIX["latitude"] + 0.0003}
    assert await world.locator.update("s1", moved)
    world.now += 10
    assert await world.locator.update("s1", moved)
    assert world.kinds().count("location.received") == 4
    assert "location.follow_started" in world.kinds()
    await world.locator.stop("s1", REGULATOR)
    assert await asyncio.wait_for(world.sent.get(), 2) == {"type": "location.stop", "v": 1}
    with pytest.raises(LocationUnasked):
        await world.locator.update("s1", FIX)
