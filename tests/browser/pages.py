"""What the console's browser tests share: a service whose links point at itself, a logged-in
console page that records every browser error, and screenshots kept in two places."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import unused_port
from playwright.async_api import BrowserContext, ConsoleMessage, Page, expect

from tests.integration.service import PASSWORD, Client, add_account
from visioregul.integration.app import create_app
from visioregul.integration.settings import Settings

SHOTS_COPY = "VISIOREGUL_SHOTS_COPY"
"""When set, screenshots are also copied to this folder (to look at them after a run)."""

FAILED_LOAD = re.compile(r"status of (\d{3})")


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
