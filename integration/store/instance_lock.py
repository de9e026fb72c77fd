"""One service instance per SQLite database.

SQLite keeps the service's state for one process: rooms, limits and live consoles are in that
process's memory, and a second instance on the same file would answer for sessions it does not
hold. Several instances need PostgreSQL. The lock is an exclusive ``flock`` on a file beside the
database, released by the kernel when the process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["AnotherInstance", "single_instance"]


class AnotherInstance(Exception):
    """Another instance already serves this SQLite database."""

    def __init__(self, database: Path) -> None:
        super().__init__(
            f"another VisioRegul instance already serves the SQLite database {database}: "
            "SQLite serves one instance only; several instances need PostgreSQL "
            "(database.url = postgresql+asyncpg://...)"
        )


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None  # a URI (often in memory): nothing shared on disk to protect
    return Path(database).expanduser().resolve()


@contextlib.contextmanager
def single_instance(url: str) -> Iterator[None]:
    """Hold the SQLite database at ``url`` for this instance (nothing for PostgreSQL).

    Raises :class:`AnotherInstance` when another instance holds it.
    """
    database = _sqlite_file(url)
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(
        database.with_name(database.name + ".instance-lock"), os.O_RDWR | os.O_CREAT, 0o600
    )
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AnotherInstance(database) from None
        yield
    finally:
        os.close(descriptor)
