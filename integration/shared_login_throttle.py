"""The console login throttle every instance counts together, in the store (PostgreSQL).

Behind a load balancer sending each request to any instance, a throttle in each process's memory
would give an attacker one series of attempts per instance, and an administrator's unlock would
free the account on one instance only. Here each key has one row in ``login_failures``: a failure
is one atomic UPSERT (``count + 1``, or 1 again after ``forget_after`` seconds of quiet), so that
failures arriving at the same moment on several instances all count; every time is PostgreSQL's
own clock (``now()``), so that the instances' clocks need not agree. The rules are those of
:class:`~.login_throttle.LoginThrottle`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, case, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from .login_throttle import account_keys, delay_after
from .ratelimit import RateLimitExceeded
from .store.models import Base, UTCDateTime, utcnow

__all__ = ["LoginFailures", "StoreLoginThrottle", "purge_login_failures", "stored_key"]

_KEEP = timedelta(days=1)
"""Rows without a failure for this long are purged (far longer than ``forget_after``)."""


class LoginFailures(Base):
    """The failed logins in a row counted against one key."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """``ip:<address>``, ``user:<username>`` or ``password:<username>``."""
    count: Mapped[int] = mapped_column(Integer)
    """Failures in a row (the last ones less than ``forget_after`` apart)."""
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """The last failure, by the database's clock."""


_ELAPSED = func.extract("epoch", func.now() - LoginFailures.last_at)
"""Seconds since a key's last failure, by the database's clock."""


@dataclass
class StoreLoginThrottle:
    """A :class:`~.login_throttle.LoginLimiter` counting in ``login_failures``."""

    db: Callable[[], async_sessionmaker[AsyncSession]]
    """The store (read when used: the application opens it after building this)."""
    free_failures: int = 5
    """Failures allowed in a row before delays start (typing mistakes)."""
    max_delay: float = 300.0
    """The longest delay imposed between two attempts, in seconds."""
    forget_after: float = 900.0
    """A key with no failure for this long starts afresh."""

    async def check(self, *keys: str) -> None:
        """Raise ``RateLimitExceeded`` when any key must still wait before its next attempt."""
        wait = 0.0
        for count, elapsed in await self._recent(keys):
            wait = max(wait, delay_after(count, self.free_failures, self.max_delay) - elapsed)
        if wait > 0:
            raise RateLimitExceeded(retry_after=max(1, math.ceil(wait)))

    async def failed(self, *keys: str) -> None:
        """Count one failed login for each key, atomically whatever other instances do."""
        # Sorted: two instances locking the same rows take them in the same order.
        rows = [
            {"key": key, "count": 1, "last_at": func.now()}
            for key in sorted({stored_key(key) for key in keys})
        ]
        if not rows:
            return
        statement = insert(LoginFailures).values(rows)
        quiet = LoginFailures.last_at <= func.now() - timedelta(seconds=self.forget_after)
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "count": case((quiet, 1), else_=LoginFailures.count + 1),
                "last_at": func.now(),
            },
        )
        async with self.db().begin() as db:
            await db.execute(statement)

    async def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (the username that just signed in)."""
        async with self.db().begin() as db:
            await db.execute(delete(LoginFailures).where(LoginFailures.key == stored_key(key)))

    async def locked_out(self, key: str) -> bool:
        """Whether ``key``'s attempts are delayed: enough recent failures that each further
        attempt must wait (until an unlock, a success or ``forget_after`` without failure)."""
        return any(
            delay_after(count, self.free_failures, self.max_delay) > 0
            for count, _elapsed in await self._recent((key,))
        )

    async def unlock(self, username: str) -> bool:
        """Forget every failure counted against the account ``username`` (its sign-ins and its
        password changes) on every instance; those of client addresses stay. Whether anything
        was forgotten."""
        async with self.db().begin() as db:
            forgotten = await db.scalars(
                delete(LoginFailures)
                .where(LoginFailures.key.in_([stored_key(key) for key in account_keys(username)]))
                .returning(LoginFailures.key)
            )
            return bool(forgotten.all())

    async def _recent(self, keys: tuple[str, ...]) -> list[tuple[int, float]]:
        """The failure count and the seconds since the last failure of each key among ``keys``
        that failed less than ``forget_after`` seconds ago."""
        if not keys:
            return []
        async with self.db()() as db:
            rows = await db.execute(
                select(LoginFailures.count, _ELAPSED).where(
                    LoginFailures.key.in_([stored_key(key) for key in keys]),
                    LoginFailures.last_at > func.now() - timedelta(seconds=self.forget_after),
                )
            )
            return [(int(count), float(elapsed)) for count, elapsed in rows]


def stored_key(key: str) -> str:
    """A key as stored: its SHA-256. A hostile form's username may hold anything (a NUL, which
    PostgreSQL's text refuses; thousands of characters), and the table needs no address or
    username in clear to count them."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


async def purge_login_failures(db: AsyncSession) -> int:
    """Forget keys without a failure for a day; return how many."""
    result = await db.execute(delete(LoginFailures).where(LoginFailures.last_at < utcnow() - _KEEP))
    return int(getattr(result, "rowcount", 0) or 0)
