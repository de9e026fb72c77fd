"""The service from ``create_app``, against the session's sandbox Asterisk, for AMI and for ARI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.sandbox.asterisk import SandboxAsterisk
from visioregul.integration.app import create_app

from .service import Client, service_settings, wait_link_up


@pytest.fixture(params=["ami", "ari"])
async def client(
    request: pytest.FixtureRequest,
    sandbox: SandboxAsterisk,
    aiohttp_client: object,
    tmp_path: Path,
) -> AsyncIterator[Client]:
    """The service, its telephony link up; each test using it runs once per source."""
    app = create_app(service_settings(sandbox, request.param, tmp_path))
    client: Client = await aiohttp_client(app)  # type: ignore[operator]
    await wait_link_up(client)
    yield client
