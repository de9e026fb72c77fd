"""History search over 100,000 sessions in 10 centres, on SQLite and on PostgreSQL.

The database is migrated (so the indexes are the shipped ones), then filled in bulk: sessions
spread over a year, in 10 centres, 20 regulators, every state, a caller's number on most, a
patient invitation each and three events each (what the outcomes read). Each query shape of the
history is then run as the console runs it (one page of 20, the total, the outcomes of the page)
for one centre, ``VISIOREGUL_BENCH_HISTORY_RUNS`` times (30), with varied values, and p50/p95
are printed per shape. Target: p95 under 200 ms.

A benchmark: it prints its figures and asserts only that each search found what it should.
Environment: ``VISIOREGUL_BENCH_HISTORY_SESSIONS`` (100000).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.store.conftest import NewDatabase, backend, new_database  # noqa: F401  (fixtures)
from visioregul.integration.sessions.history import (
    SessionFilter,
    find_sessions,
    session_outcomes,
)
from visioregul.integration.sessions.models import Invitation, SessionEvent, VisioSession
from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.store.db import create_engine, make_sessionmaker, upgrade
from visioregul.integration.store.models import Centre

SESSIONS = int(os.environ.get("VISIOREGUL_BENCH_HISTORY_SESSIONS", "100000"))
RUNS = int(os.environ.get("VISIOREGUL_BENCH_HISTORY_RUNS", "30"))
CENTRES = 10
REGULATORS = 20
STATES = ["ended"] * 6 + ["expired"] * 2 + ["invited", "video_live", "link_opened"]
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
BATCH = 5000


def _number(index: int) -> str:
    return f"+3361{index % 10_000_000:07d}"


async def _fill(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    rng = random.Random(15)
    async with sessionmaker.begin() as db:
        await db.execute(
            insert(Centre),
            [{"id": c, "code": f"samu{c}", "name": f"SAMU {c}"} for c in range(2, CENTRES + 1)],
        )
    for start in range(0, SESSIONS, BATCH):
        sessions, invitations, events = [], [], []
        for index in range(start, min(start + BATCH, SESSIONS)):
            session_id = f"{index:032x}"
            created = NOW - timedelta(seconds=rng.randrange(365 * 86400))
            state = rng.choice(STATES)
            sessions.append(
                {
                    "id": session_id,
                    "centre_id": index % CENTRES + 1,
                    "state": state,
                    "created_at": created,
                    "updated_at": created,
                    "created_by": f"regulateur{index % REGULATORS}",
                    "position": f"PJSIP/{1000 + index % 50}",
                    "call_id": f"1733{index:08d}.{index % 97}",
                    "caller_number": _number(index) if index % 5 else None,
                    "ended_at": created + timedelta(minutes=9) if state == "ended" else None,
                }
            )
            invitations.append(
                {
                    "id": f"{index:031x}i",
                    "session_id": session_id,
                    "role": "patient",
                    "channel": "sms",
                    "destination": _number(index + 7),
                    "token_hash": f"{index:064x}",
                    "created_at": created,
                    "created_by": f"regulateur{index % REGULATORS}",
                    "expires_at": created + timedelta(hours=2),
                    "delivery_status": "delivered",
                }
            )
            for offset, kind in enumerate(("invitation.delivered", "link.opened", "video.live")):
                events.append(
                    {
                        "session_id": session_id,
                        "at": created + timedelta(seconds=offset + 1),
                        "actor": "system",
                        "type": kind,
                        "details": {},
                    }
                )
        async with sessionmaker.begin() as db:
            await db.execute(insert(VisioSession), sessions)
            await db.execute(insert(Invitation), invitations)
            await db.execute(insert(SessionEvent), events)


def _shapes() -> dict[str, Callable[[int], SessionFilter]]:
    """Each query shape, given a run number (values vary from run to run)."""
    centre = 3

    def base(**fields: object) -> SessionFilter:
        return SessionFilter(centre_id=centre, limit=20, **fields)  # type: ignore[arg-type]

    def week(run: int) -> datetime:
        return NOW - timedelta(days=7 * (run % 40 + 1))

    return {
        "last 7 days": lambda run: base(since=NOW - timedelta(days=7)),
        "everything, page 1": lambda run: base(),
        "everything, page 50": lambda run: base(offset=20 * 49),
        "date range (a week)": lambda run: base(since=week(run), until=week(run) + timedelta(7)),
        "state (open ones)": lambda run: base(states=("invited", "video_live", "link_opened")),
        "state ended, 30 days": lambda run: base(states=("ended",), since=NOW - timedelta(days=30)),
        "regulator": lambda run: base(regulator=f"regulateur{(centre - 1 + 10 * (run % 2))}"),
        "caller's or invited number": lambda run: base(number=_number(centre - 1 + 10 * run)),
        "call id": lambda run: base(
            call_id=f"1733{centre - 1 + 10 * run:08d}.{(centre - 1 + 10 * run) % 97}"
        ),
        "regulator + state + 90 days": lambda run: base(
            regulator=f"regulateur{centre - 1}",
            states=("ended",),
            since=NOW - timedelta(days=90),
        ),
    }


async def _page(sessionmaker: async_sessionmaker[AsyncSession], filters: SessionFilter) -> int:
    """One history page as the API serves it: the page, its total, its outcomes."""
    rows, total = await find_sessions(sessionmaker, filters)
    await session_outcomes(sessionmaker, [session.id for session, _ in rows])
    assert all(session.centre_id == filters.centre_id for session, _ in rows)
    return total


async def _timed(call: Awaitable[int]) -> tuple[float, int]:
    started = time.perf_counter()
    total = await call
    return (time.perf_counter() - started) * 1000, total


async def test_history_search_over_100000_sessions_in_10_centres(
    backend: str,  # noqa: F811
    new_database: NewDatabase,  # noqa: F811
) -> None:
    url = await new_database()
    await upgrade(url)
    engine = create_engine(DatabaseSettings(url=url))
    sessionmaker = make_sessionmaker(engine)
    try:
        started = time.perf_counter()
        await _fill(sessionmaker)
        if backend == "postgres":
            # What autovacuum does to a table in service: statistics, and the visibility map
            # that lets counts read the index alone.
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("VACUUM ANALYZE")
        else:
            async with engine.begin() as connection:
                await connection.exec_driver_sql("ANALYZE")
        print(
            f"\n[{backend}] {SESSIONS} sessions in {CENTRES} centres filled in "
            f"{time.perf_counter() - started:.1f} s; {RUNS} runs per shape"
        )
        print(f"{'query shape':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'matches':>8}")
        for name, shape in _shapes().items():
            await _page(sessionmaker, shape(0))  # warm the caches and the plan
            timings: list[float] = []
            totals: list[int] = []
            for run in range(RUNS):
                elapsed, total = await _timed(_page(sessionmaker, shape(run)))
                timings.append(elapsed)
                totals.append(total)
            timings.sort()
            p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            print(
                f"{name:32} {statistics.median(timings):8.1f} {p95:8.1f} "
                f"{timings[-1]:8.1f} {statistics.median(totals):8.0f}"
            )
            assert max(totals) > 0, name
    finally:
        await engine.dispose()
    await asyncio.sleep(0)
