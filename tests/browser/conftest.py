"""Real headless Chromium (Debian's package) driven by Playwright for Python."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Playwright, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"

# A bound on each wait for the page, not a timing: two cores shared with Asterisk, the service and
# several Chromium processes can take longer than Playwright's default 5 s to run a page's script.
expect.set_options(timeout=15_000)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$VISIOREGUL_ARTIFACTS`` when set (kept after the run)."""
    folder = Path(os.environ.get("VISIOREGUL_ARTIFACTS") or tmp_path / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium; fails (never skips) when it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run tests/services/chromium.sh (make test does)")
    return CHROMIUM


async def launch(
    playwright: Playwright,
    chromium: str,
    profile: Path,
    timezone_id: str | None = None,
    *,
    language: str = "fr-FR",
    cameras: int = 1,
    home: Path | None = None,
    extra_args: Sequence[str] = (),
) -> BrowserContext:
    """A Chromium with a fake camera, French (or ``language``), 1280x720, its profile in
    ``profile``; its clock in ``timezone_id`` when given (else the machine's); ``cameras`` fake
    cameras (a phone has two); ``HOME=home`` when given (its NSS database decides which TLS
    authorities it trusts); ``extra_args`` after the usual flags."""
    return await playwright.chromium.launch_persistent_context(
        timezone_id=timezone_id,
        user_data_dir=str(profile),
        executable_path=chromium,
        headless=False,
        ignore_default_args=True,
        viewport={"width": 1280, "height": 720},
        locale=language,
        env={**os.environ, "HOME": str(home)} if home is not None else None,
        args=[
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--use-fake-device-for-media-stream=device-count={cameras}",
            "--use-fake-ui-for-media-stream",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            f"--lang={language}",
            f"--user-data-dir={profile}",
            *extra_args,
            "--remote-debugging-pipe",
            "about:blank",
        ],
    )


@pytest.fixture
async def playwright_driver() -> AsyncIterator[Playwright]:
    """Playwright's driver, for one test."""
    async with async_playwright() as playwright:
        yield playwright


@pytest.fixture
async def browser(
    playwright_driver: Playwright, chromium: str, tmp_path: Path
) -> AsyncIterator[BrowserContext]:
    """A Chromium with a fake camera, French, 1280x720."""
    context = await launch(playwright_driver, chromium, tmp_path / "chromium-profile")
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def second_browser(
    playwright_driver: Playwright, chromium: str, tmp_path: Path
) -> AsyncIterator[BrowserContext]:
    """Another Chromium (its own cookies: another console account)."""
    context = await launch(playwright_driver, chromium, tmp_path / "chromium-profile-2")
    try:
        yield context
    finally:
        await context.close()
