"""Real Chromium pages through the load balancer of three instances: the regulator's console and
the patient's phone see the video whichever instances nginx sends them to; the room's holder
killed with ``kill -9``, the video comes back on another instance and both pages say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.browser.conftest import (  # noqa: F401  (fixtures)
    artifacts,
    browser,
    chromium,
    playwright_driver,
    second_browser,
)
from tests.browser.pages import PATIENT_NUMBER, camera_on, feed, open_link, patient_link

from .harness import PASSWORD, USERNAME, Cluster
from .test_failover import holder_of, until

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

_FRAMES = "video => video.getVideoPlaybackQuality().totalVideoFrames"


async def _console(browser: BrowserContext, lb_url: str) -> Page:  # noqa: F811
    page = await browser.new_page()
    await page.goto(f"{lb_url}/console/login")
    await page.fill("#username", USERNAME)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form [type=submit]")
    await page.wait_for_url(f"{lb_url}/console")
    dialog = page.locator("#position-dialog")
    if await dialog.is_visible():
        await page.select_option("#position-input", "PJSIP/1001")
        await page.click("#position-submit")
    await expect(page.locator("#position-label")).to_contain_text("1001")
    return page


async def test_given_the_holder_killed_then_chromium_pages_see_the_video_again(
    cluster: Cluster,
    browser: BrowserContext,  # noqa: F811
    second_browser: BrowserContext,  # noqa: F811
    artifacts: Path,  # noqa: F811
) -> None:
    console = await _console(browser, cluster.lb_url)
    card = console.locator("#stage .call-card")
    await card.locator(".invite-input").fill(PATIENT_NUMBER)
    await card.locator("[data-field=submit]").click()
    link = await patient_link(console, cluster.lb_url)

    patient = await open_link(second_browser, link)
    await camera_on(patient)
    room = console.locator("#stage .room")
    video = room.locator("[data-field=video]")
    await expect(video).to_have_attribute("data-playing", "true", timeout=20000)
    await console.screenshot(path=str(artifacts / "cluster-console-before.png"))

    session_id = await _only_session(cluster)
    holder = await holder_of(cluster, session_id)
    assert holder in cluster.names
    before = await feed(console).evaluate(_FRAMES)
    await cluster.kill(holder)

    # The page reconnects through nginx to a surviving instance, which takes the room over.
    await expect(console.locator("#room-side .timeline")).to_contain_text(
        "Vidéo rétablie sur un autre serveur", timeout=30000
    )
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit", timeout=30000)
    await expect(video).to_have_attribute("data-playing", "true", timeout=30000)

    async def frames_again() -> bool:
        return int(await feed(console).evaluate(_FRAMES)) > before + 30

    await until(frames_again, "frames decoded in the console again")
    moved_to = await holder_of(cluster, session_id)
    assert moved_to not in (None, holder)
    await console.screenshot(path=str(artifacts / "cluster-console-after.png"))
    await console.locator("#room-side .timeline").screenshot(
        path=str(artifacts / "cluster-timeline-after.png")
    )
    await patient.screenshot(path=str(artifacts / "cluster-patient-after.png"))


async def _only_session(cluster: Cluster) -> str:
    """The one session of the test's database."""
    engine = create_async_engine(cluster.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as db:
            return str(await db.scalar(text("SELECT id FROM visio_sessions")))
    finally:
        await engine.dispose()
