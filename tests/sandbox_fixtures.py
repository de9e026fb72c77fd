"""Pytest plugin: one sandbox Asterisk for the whole test session.

Registered from ``tests/conftest.py`` (``pytest_plugins``). Tests that place calls take the
``sandbox`` fixture and are marked ``asterisk``. When the sandbox is not installed the tests fail,
naming the script that installs it: they are never skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.sandbox import SandboxAsterisk, SandboxNotInstalled, SandboxPorts
from tests.sandbox.sipp import stop_leftovers


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SandboxAsterisk]:
    """A running sandbox Asterisk, started once per session on ports free at that moment.

    Its configuration and logs stay in pytest's temporary folder (``asterisk*``) after the run.
    """
    kept = tmp_path_factory.mktemp("asterisk")
    # The chroot sees the host's /tmp only; elsewhere the controller makes its own folder there.
    work_dir = kept if kept.is_relative_to("/tmp") else None
    asterisk = SandboxAsterisk(SandboxPorts.pick_free(), work_dir=work_dir)
    not_installed = ""
    try:
        await asterisk.start()
    except SandboxNotInstalled as exc:
        not_installed = str(exc)
    if not_installed:
        pytest.fail(not_installed, pytrace=False)
    try:
        yield asterisk
    finally:
        await asterisk.stop()


@pytest_asyncio.fixture(autouse=True)
async def sandbox_isolation(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After a test that used the sandbox: its sipp still running are stopped and every channel
    still up is hung up, so that a test that failed half-way cannot ring the next one's phones."""
    yield
    sandbox = request.node.funcargs.get("sandbox") if hasattr(request.node, "funcargs") else None
    if not isinstance(sandbox, SandboxAsterisk):
        return
    await stop_leftovers()
    if sandbox.is_running:
        await sandbox.hang_up_everything()
