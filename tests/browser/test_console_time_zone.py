"""A centre in Réunion seen from a browser set to New York: times and dates are the centre's,
numbers of the plan read as French, numbers that cannot receive an SMS refused in French. No
telephony: the regulator invites without a call."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import BrowserContext, Playwright, expect

from visioregul.integration.settings import DatabaseSettings, Settings, TelephonySettings

from .conftest import launch
from .pages import log_in, start_service

pytestmark = [pytest.mark.timeout(120)]

REUNION = ZoneInfo("Indian/Reunion")
BROWSER_ZONE = "America/New_York"


@pytest.fixture
async def new_york_browser(
    playwright_driver: Playwright, chromium: str, tmp_path: Path
) -> AsyncIterator[BrowserContext]:
    """A Chromium whose clock is in New York (eight or nine hours from Réunion)."""
    context = await launch(
        playwright_driver, chromium, tmp_path / "chromium-profile", timezone_id=BROWSER_ZONE
    )
    try:
        yield context
    finally:
        await context.close()


def reunion_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(REUNION).strftime("%H:%M:%S")


async def test_given_a_centre_in_reunion_then_the_console_shows_reunion_times(
    new_york_browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"),
        telephony=TelephonySettings(source="none", region="RE"),
    )
    assert settings.service.time_zone == "Indian/Reunion"
    client = await start_service(aiohttp_client, settings, tmp_path)
    console = await log_in(new_york_browser, client, artifacts)
    page = console.page
    browser_zone = await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert browser_zone == BROWSER_ZONE

    # A freephone number cannot receive the SMS: the card says why, in French.
    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("0800 12 34 56")
    await card.locator("[data-field=submit]").click()
    await expect(card.locator("[data-field=error]")).to_have_text(
        "Le 0 800 12 34 56 est un numéro gratuit de service\u00a0: il ne peut pas recevoir de SMS."
        " Demandez un numéro de mobile ou une adresse e-mail."
    )

    # A Réunion mobile typed in its national form, from the empty card.
    await card.locator(".invite-input").fill("0692 12 34 56")
    await card.locator("[data-field=submit]").click()
    room = page.locator("#stage .room")
    await expect(room.locator("[data-field=title]")).to_have_text("Visio — 06 92 12 34 56")
    await expect(room.locator("[data-field=status]")).to_contain_text("SMS simulé à")

    # Every time of the timeline is the Réunion time of its event.
    times = page.locator("#room-side .timeline time.timeline-time")
    await expect(times.first).to_be_visible()
    shown = [
        (await item.get_attribute("datetime") or "", await item.inner_text())
        for item in await times.all()
    ]
    assert shown and all(text == reunion_time(at) for at, text in shown), shown
    session_id = re.sub(r".*#/session/", "", page.url)
    response = await page.request.get(f"{console.base}/console/api/sessions/{session_id}")
    session = await response.json()
    simulated = next(e for e in session["timeline"] if e["type"] == "invitation.simulated")
    await expect(room.locator("[data-field=status]")).to_contain_text(
        f"SMS simulé à {reunion_time(simulated['at'])}"
    )
    await console.shot("console-reunion-times")

    # The history: the session's date and time, in Réunion, in "today" too.
    await page.locator("#history-open").click()
    row = page.locator(f"tr[data-session-id='{session_id}']")
    created = datetime.fromisoformat(session["created_at"]).astimezone(REUNION)
    await expect(row.locator(".history-date")).to_have_text(created.strftime("%d/%m/%Y"))
    await expect(row.locator(".history-time")).to_have_text(created.strftime("%H:%M:%S"))
    assert console.unexpected_problems(400) == []
