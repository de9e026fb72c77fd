"""Fixtures for the messaging tests.

The outbox's tests run on SQLite and on PostgreSQL with the store's fixtures (see
``tests/store/conftest.py``: ``VISIOREGUL_TEST_POSTGRES_URL`` must be set).
"""

from __future__ import annotations

import socket

import pytest

# Re-exported so that pytest finds them here: a test asking for ``sessionmaker`` gets a migrated
# database of each kind.
from tests.store.conftest import (  # noqa: F401
    backend,
    empty_url,
    engine,
    migrated_url,
    new_database,
    sessionmaker,
)


@pytest.fixture
def closed_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
