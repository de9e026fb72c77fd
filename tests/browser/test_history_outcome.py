"""The history's « Résultat » filter in real Chromium: visios that ended differently, each found
by how it ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from tests.integration.service import Client
from visioregul.integration import appkeys
from visioregul.integration.sessions.services import Actor

from .pages import log_in, settings, start_service
from .pages import loopback_ice as loopback_ice  # the fixture, used by name below

pytestmark = [pytest.mark.timeout(90)]

PATIENT = Actor("patient")


async def ended_visios(client: Client) -> dict[str, str]:
    """Three ended visios (video seen, photos only, link not opened) and one running."""
    service = client.app[appkeys.SESSION_SERVICE]
    regulator = Actor("regulateur", "PJSIP/1001")
    ids: dict[str, str] = {}
    for name, number in (
        ("seen", "0611111111"),
        ("photos", "0622222222"),
        ("unopened", "0633333333"),
        ("running", "0644444444"),
    ):
        ids[name] = (await service.open_session(regulator, number)).session.id
    await service.record(ids["seen"], PATIENT, "link.opened")
    await service.record(ids["seen"], PATIENT, "camera.allowed")
    await service.record(ids["seen"], PATIENT, "video.live")
    await service.record(ids["photos"], PATIENT, "video.photo_mode", {"reason": "no_frames"})
    await service.record(ids["photos"], PATIENT, "photo.taken")
    for name in ("seen", "photos", "unopened"):
        await service.end(ids[name], regulator)
    return ids


async def test_given_visios_that_ended_differently_then_resultat_finds_each(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    await ended_visios(client)
    page = console.page
    await page.locator("#history-open").click()
    history = page.locator("#stage .history")
    rows = history.locator("tbody tr")
    await expect(rows).to_have_count(4)
    count = history.locator("[data-field=count]")

    outcome = history.get_by_label("Résultat")
    await outcome.select_option(label="Vidéo vue")
    await expect(count).to_have_text("1 visio")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("06\u00a011\u00a011\u00a011\u00a011")
    await expect(rows.first).to_contain_text("Vidéo établie")
    await console.shot("history-outcome-video")

    await outcome.select_option(label="Sans vidéo")
    await expect(count).to_have_text("2 visios")
    await expect(rows).to_have_count(2)
    await expect(history.locator("tbody")).not_to_contain_text("06\u00a011\u00a011")
    await expect(history.locator("tbody")).not_to_contain_text("06\u00a044\u00a044")
    await console.shot("history-outcome-no-video")

    await outcome.select_option(label="Lien non ouvert")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("06\u00a033\u00a033\u00a033\u00a033")

    # « Effacer » brings every visio back, the one still running included.
    await history.get_by_role("button", name="Effacer").click()
    await expect(outcome).to_have_value("")
    await expect(rows).to_have_count(4)
    assert not console.unexpected_problems(), console.problems
