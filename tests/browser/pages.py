"""What the console's browser tests share: a service whose links point at itself, a logged-in
console page that records every browser error, the session it opened, a patient invited by SMS
and their phone-sized page, and screenshots kept in two places."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from aiohttp.test_utils import unused_port
from playwright.async_api import BrowserContext, ConsoleMessage, Locator, Page, expect

from tests.integration.service import PASSWORD, Client, add_account
from visioregul.integration.app import create_app
from visioregul.integration.settings import DatabaseSettings, Settings, TelephonySettings

SHOTS_COPY = "VISIOREGUL_SHOTS_COPY"
"""When set, screenshots are also copied to this folder (to look at them after a run)."""

FAILED_LOAD = re.compile(r"status of (\d{3})")

FIRST_FRAME_AT = """(video) => new Promise((resolve) => {
  video.requestVideoFrameCallback(() => resolve(Date.now()));
})"""
"""Resolves with the wall-clock time of the first frame presented."""


COUNT_FRAMES = """(video, wanted) => new Promise((resolve) => {
  let count = 0;
  const step = () => {
    count += 1;
    if (count >= wanted) { resolve(count); } else { video.requestVideoFrameCallback(step); }
  };
  video.requestVideoFrameCallback(step);
})"""
"""Resolves once ``wanted`` frames have been presented in the console's ``<video>``."""

PATIENT_NUMBER = "06 12 34 56 78"
"""The mobile number the tests invite by SMS."""

Event = dict[str, Any]
"""A session event as the console's API lists it (``type``, ``actor``, ``details``...)."""


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's peers gather 127.0.0.1 (aioice skips loopback; the tests run offline).

    Autouse in each test module that imports it."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def settings(tmp_path: Path) -> Settings:
    """SMS and e-mail to the outbox, no telephony."""
    return Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"),
        telephony=TelephonySettings(source="none"),
    )


async def start_service(aiohttp_client: Any, settings: Settings, tmp_path: Path) -> Client:
    """The service on a known port, so that the links it sends lead back to it."""
    port = unused_port()
    public = settings.service.model_copy(
        update={"data_dir": tmp_path, "public_url": f"http://127.0.0.1:{port}"}
    )
    app = create_app(settings.model_copy(update={"service": public}))
    client: Client = await aiohttp_client(app, server_kwargs={"port": port})
    return client


@dataclass
class ConsolePage:
    """A console page and the errors the browser reported on it."""

    page: Page
    base: str
    artifacts: Path
    problems: list[str] = field(default_factory=list)

    def unexpected_problems(self, *allowed_statuses: int) -> list[str]:
        """Errors other than failed loads with one of ``allowed_statuses`` (refusals the page
        handled, like a landline number's 400)."""
        unexpected = []
        for problem in self.problems:
            status = FAILED_LOAD.search(problem)
            if status and int(status.group(1)) in allowed_statuses:
                continue
            unexpected.append(problem)
        return unexpected

    async def shot(self, name: str, page: Page | None = None, *, full_page: bool = True) -> Path:
        """A screenshot in the artifacts folder (and the copy folder when set)."""
        path = self.artifacts / f"{name}.png"
        await (page or self.page).screenshot(path=path, full_page=full_page)
        _keep_copy(path)
        return path

    async def session_id(self) -> str:
        """The id of the newest session the console lists."""
        listing: Any = await (
            await self.page.request.get(f"{self.base}/console/api/sessions")
        ).json()
        return str(listing["sessions"][0]["id"])

    async def timeline(self) -> list[Event]:
        """The newest session's log, oldest first, from the console's API."""
        session_id = await self.session_id()
        detail: Any = await (
            await self.page.request.get(f"{self.base}/console/api/sessions/{session_id}")
        ).json()
        timeline: list[Event] = detail["timeline"]
        return timeline

    async def wait_event(self, wanted: Callable[[Event], bool], what: str) -> Event:
        """The first event of the newest session's log that is ``wanted``, waited for."""
        for _ in range(300):
            for event in await self.timeline():
                if wanted(event):
                    return event
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {what} in the timeline")


def _keep_copy(path: Path) -> None:
    copy = os.environ.get(SHOTS_COPY)
    if copy:
        Path(copy).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(copy) / path.name)


def watch(page: Page, problems: list[str]) -> None:
    """Record the page's console errors and uncaught exceptions in ``problems``."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))


async def log_in(
    browser: BrowserContext,
    client: Client,
    artifacts: Path,
    *,
    username: str = "regulateur",
    position: str = "1001",
    display_name: str | None = None,
) -> ConsolePage:
    """A console page, logged in, then at ``position`` chosen in the console's select (the
    account may take every declared position: it is given none)."""
    await add_account(client, username, display_name)
    base = str(client.make_url("/")).rstrip("/")
    page = await browser.new_page()
    console = ConsolePage(page, base, artifacts)
    watch(page, console.problems)
    await page.goto(f"{base}/console/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form [type=submit]")
    await page.wait_for_url(f"{base}/console")
    # Several positions and none bound: the console asks, offering the account's only.
    await expect(page.locator("#position-dialog")).to_be_visible()
    await page.select_option("#position-input", f"PJSIP/{position}")
    await page.click("#position-submit")
    await expect(page.locator("#position-dialog")).to_be_hidden()
    await expect(page.locator("#position-label")).to_contain_text(position)
    return console


async def patient_link(page: Page, base: str) -> str:
    """The link of the newest outbox message, read with the console's cookies."""
    for _ in range(100):
        body: Any = await (await page.request.get(f"{base}/console/api/outbox")).json()
        if body["messages"]:
            text = str(body["messages"][0]["text"])
            return text[text.index("http") :].split()[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no message in the outbox")


async def invite_by_sms(
    browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
    service: Settings | None = None,
) -> tuple[ConsolePage, str]:
    """The service (``service``, else :func:`settings`), a logged-in console that invited
    :data:`PATIENT_NUMBER` by SMS (the room open), and the link the patient received."""
    client = await start_service(aiohttp_client, service or settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    card = console.page.locator("#stage .call-card")
    await card.locator(".invite-input").fill(PATIENT_NUMBER)
    await card.locator("[data-field=submit]").click()
    return console, await patient_link(console.page, console.base)


async def open_link(
    browser: BrowserContext,
    link: str,
    *init_scripts: str,
    problems: list[str] | None = None,
    size: tuple[int, int] = (390, 844),
) -> Page:
    """The patient's phone opening the link: a page of ``size`` running ``init_scripts`` first,
    its console errors collected into ``problems`` when given."""
    patient = await browser.new_page()
    if problems is not None:
        watch(patient, problems)
    for script in init_scripts:
        await patient.add_init_script(script)
    await patient.set_viewport_size({"width": size[0], "height": size[1]})
    await patient.goto(link)
    return patient


async def start_camera(patient: Page) -> None:
    """Tap "Activer la caméra"."""
    await patient.get_by_role("button", name="Activer la caméra").click()


async def camera_on(patient: Page) -> None:
    """Tap "Activer la caméra" and wait until the page says the regulator sees the scene."""
    await start_camera(patient)
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")


def feed(page: Page) -> Locator:
    """The room's video element."""
    return page.locator("#stage .room [data-field=video-feed]")
