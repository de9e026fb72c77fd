"""Session events across instances, through PostgreSQL's ``LISTEN/NOTIFY`` (no other broker).

The instance that writes an event announces it inside the same transaction (``pg_notify``):
PostgreSQL delivers the notice only if the transaction commits, and in commit order. Every other
instance listens on one connection of its own, reads the event back and hands it to its session
listeners marked ``elsewhere``: its consoles and CAD sockets follow the session, its rooms close
when it ends, while what must happen once (webhooks, counting) stays with the writer.

A notice carries ids only (a payload is public to every listener of the database and limited
to 8000 bytes): never a number or a name. While the listening connection is down (PostgreSQL
restarting), notices are missed: the instance logs it and says so to its listeners with
:data:`RESYNC`, and reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .journal import SessionUpdate
from .models import SessionEvent, VisioSession

__all__ = ["CHANNEL", "SessionFanout"]

log = logging.getLogger(__name__)

CHANNEL = "visioregul_sessions"
"""The notification channel of session events."""

_RETRY_MIN = 0.5
_RETRY_MAX = 10.0
_HEARTBEAT = 5.0
"""How often the listening connection is checked: a partition closes no socket by itself."""
_HEARTBEAT_TIMEOUT = 3.0


class SessionFanout:
    """Announces this instance's session events and hears the others'."""

    def __init__(
        self,
        url: str,
        instance: str,
        db: async_sessionmaker[AsyncSession],
        deliver: Callable[[SessionUpdate], None],
        on_gap: Callable[[], None] = lambda: None,
        on_resync: Callable[[], None] = lambda: None,
    ) -> None:
        """``deliver`` gets each event written by another instance; ``on_gap`` is called when
        notices may have been missed (the listening connection was lost)."""
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.instance = instance
        self._db = db
        self._deliver = deliver
        self._on_gap = on_gap
        self._on_resync = on_resync
        self._gap = False
        """Notices were missed: the listeners are told to read again once heard anew."""
        self._notices: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Whether this instance hears the others now."""
        return self._connected.is_set()

    async def announce(self, db: AsyncSession, updates: Sequence[SessionUpdate]) -> None:
        """Tell the other instances, inside ``db``'s transaction, of the events it wrote."""
        await db.flush()  # the events' ids
        for update in updates:
            payload = json.dumps(
                {"i": self.instance, "s": update.session.id, "e": update.event.id},
                separators=(",", ":"),
            )
            await db.execute(select(func.pg_notify(CHANNEL, payload)))

    def start(self) -> None:
        """Listen in the background until :meth:`close`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="session-fanout")

    async def wait_connected(self) -> None:
        """Until this instance hears the others."""
        await self._connected.wait()

    async def close(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        worker = asyncio.create_task(self._read_forever(), name="session-fanout-reader")
        delay = _RETRY_MIN
        try:
            while True:
                try:
                    await self._listen()
                    delay = _RETRY_MIN
                except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                    log.warning("session events of other instances unheard: %r", exc)
                if self._connected.is_set():
                    self._connected.clear()
                    self._gap = True
                    self._on_gap()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def _listen(self) -> None:
        connection: asyncpg.Connection[Any] = await asyncpg.connect(self._dsn, timeout=10)
        lost = asyncio.get_running_loop().create_future()

        def on_notice(_: object, __: int, channel: str, payload: object) -> None:
            self._receive(str(payload))

        def on_lost(_: object) -> None:
            if not lost.done():
                lost.set_result(None)

        try:
            connection.add_termination_listener(on_lost)
            await connection.add_listener(CHANNEL, on_notice)
            self._connected.set()
            log.info("hearing the session events of other instances")
            if self._gap:
                # What was written meanwhile is in the store now: read it again.
                self._gap = False
                self._on_resync()
            while not lost.done():
                await asyncio.wait([lost], timeout=_HEARTBEAT)
                if not lost.done():
                    # No answer in time: the server or the path to it is gone; listen anew.
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), _HEARTBEAT_TIMEOUT)
        finally:
            if not connection.is_closed():
                await connection.close(timeout=2)

    def _receive(self, payload: str) -> None:
        try:
            notice = json.loads(payload)
            instance, session_id, event_id = notice["i"], notice["s"], notice["e"]
        except (ValueError, KeyError, TypeError):
            log.warning("malformed session notice ignored")
            return
        if instance != self.instance and isinstance(event_id, int):
            self._notices.put_nowait((str(session_id), event_id))

    async def _read_forever(self) -> None:
        # One at a time: listeners hear the events in the order they were committed.
        while True:
            session_id, event_id = await self._notices.get()
            try:
                update = await self._load(session_id, event_id)
            except Exception:  # the store is unreachable: this event is missed, not the rest
                log.warning("session event %s of session %s unread", event_id, session_id)
                self._on_gap()
                self._on_resync()
                continue
            if update is not None:
                self._deliver(update)

    async def _load(self, session_id: str, event_id: int) -> SessionUpdate | None:
        async with self._db() as db:
            session = await db.get(VisioSession, session_id)
            event = await db.get(SessionEvent, event_id)
        if session is None or event is None:
            return None  # purged meanwhile
        return SessionUpdate(session=session, event=event, elsewhere=True)
