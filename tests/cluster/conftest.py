"""The ``cluster`` fixtures: three instances on an empty PostgreSQL database behind nginx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from .harness import Cluster, fresh_postgres_database
from .harness import cluster as start_cluster


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Note on the test which of its phases failed, for the cluster fixtures' teardown."""
    report = yield
    item.stash.setdefault(_FAILED, set())
    if report.failed:
        item.stash[_FAILED].add(report.when)
    return report


_FAILED = pytest.StashKey[set[str]]()


@pytest.fixture
def cluster_root(tmp_path: Path) -> Path:
    """Where the cluster's configurations, shared data and logs are kept after the test."""
    return tmp_path / "cluster"


@pytest.fixture
async def cluster(request: pytest.FixtureRequest, cluster_root: Path) -> AsyncIterator[Cluster]:
    """Three instances (``visio-1``..``visio-3``, telephony off) on an empty PostgreSQL
    database, behind nginx configured from the shipped example: ``visio-1`` first, then the
    other two at once. Each instance's log end is printed when the test fails."""
    async with _cluster(request, cluster_root, together=False) as running:
        yield running


@pytest.fixture
async def cluster_started_at_once(
    request: pytest.FixtureRequest, cluster_root: Path
) -> AsyncIterator[Cluster]:
    """As ``cluster``, the three instances started at the same moment on the empty database."""
    async with _cluster(request, cluster_root, together=True) as running:
        yield running


@asynccontextmanager
async def _cluster(
    request: pytest.FixtureRequest, root: Path, *, together: bool
) -> AsyncIterator[Cluster]:
    async with (
        fresh_postgres_database() as url,
        start_cluster(root, url, together=together) as running,
    ):
        try:
            yield running
        finally:
            if request.node.stash.get(_FAILED, set()):
                print(running.logs())
