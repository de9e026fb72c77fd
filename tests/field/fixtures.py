"""Pytest plugin: the network lab, the service in it, and scenes (registered from
``tests/conftest.py``).

``lab`` is built once per test session and ``field_service`` once per module, each removed at its
end, even after a failure (and a run killed half-way leaves namespaces that the next one removes
first). A test on a profile takes ``field_scene`` and runs
``await field_scene.video_from_call("4g")``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import async_playwright

from tests.sandbox.asterisk import SandboxAsterisk
from tests.turn_server import TurnServer, running_turn

from .lab import RELAY_ADDRESS, SERVICE_NS, Lab, LabUnavailable
from .scenario import Scene
from .service import FieldService, start_service


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The two namespaces and their link, unshaped; fails (never skips) when ``ip``, ``nft`` or
    ``/dev/net/tun`` is missing."""
    lab = Lab(tmp_path_factory.mktemp("lab"))
    unavailable = ""
    try:
        lab.start()
    except LabUnavailable as exc:
        unavailable = str(exc)
    if unavailable:
        pytest.fail(unavailable, pytrace=False)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="session")
def field_service_sections() -> dict[str, dict[str, Any]]:
    """Settings added to the lab's service, by section: none. Override this fixture to give it
    more (a relay's ``video.turn_urls`` and ``video.turn_secret``)."""
    return {}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def field_turn(
    lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TurnServer]:
    """coturn on the service namespace's second address: UDP and TCP 3478, TLS 443, as a centre
    runs it beside the web front (a firewall that passes only TCP 443 reaches both)."""
    folder = tmp_path_factory.mktemp("field-turn")
    async with running_turn(RELAY_ADDRESS, folder, netns=SERVICE_NS) as turn:
        yield turn


# Per module: a live service observes the sandbox Asterisk's every call (and answers *8), so it
# must be gone before other modules' telephony tests, which expect no service or their own.
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def field_service(
    lab: Lab,
    sandbox: SandboxAsterisk,
    tmp_path_factory: pytest.TempPathFactory,
    field_service_sections: dict[str, dict[str, Any]],
    field_turn: TurnServer,
) -> AsyncIterator[FieldService]:
    """The service in the lab's service namespace, its telephony link up on the sandbox, handing
    the lab's coturn (UDP, TCP and TLS URLs) to the pages."""
    workdir = tmp_path_factory.mktemp("field-service")
    sections = {name: dict(values) for name, values in field_service_sections.items()}
    video = sections.setdefault("video", {})
    video.setdefault("turn_urls", field_turn.urls())
    video.setdefault("turn_secret", field_turn.secret)
    service = start_service(lab, sandbox, workdir, sections)
    try:
        await service.wait_ready()
        yield service
    finally:
        service.stop()


@pytest.fixture
async def field_scene(
    lab: Lab,
    field_service: FieldService,
    field_turn: TurnServer,
    sandbox: SandboxAsterisk,
    tmp_path: Path,
) -> AsyncIterator[Scene]:
    """A scene for one test: the console's Chromium (in the service's namespace) opened on first
    use; each scenario launches its own phone Chromium."""
    artifacts = Path(os.environ.get("VISIOREGUL_ARTIFACTS") or tmp_path / "artifacts")
    await asyncio.to_thread(artifacts.mkdir, parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        scene = Scene(lab, field_service, sandbox, playwright, tmp_path, artifacts, field_turn)
        try:
            yield scene
        finally:
            await scene.close()
            lab.use("unshaped")
