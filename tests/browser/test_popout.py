"""The patient's video out of the room, end to end in real Chromium: « Fenêtre séparée » opens
a second window of the console on the same session, live on its own subscription; it says
« Vidéo terminée » when the visio ends. « Image dans l'image » moves the room's video into a
Document Picture-in-Picture window, and back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from .pages import COUNT_FRAMES, camera_on, invite_by_sms, open_link

pytestmark = [pytest.mark.timeout(150)]

VIDEO_STATE = """(video) => ({ paused: video.paused, readyState: video.readyState,
  connected: video.isConnected, hidden: document.hidden, focus: document.hasFocus(),
  tracks: video.srcObject
    ? video.srcObject.getTracks().map((t) => t.readyState + '/' + t.muted) : null,
  size: [video.videoWidth, video.videoHeight], time: video.currentTime })"""


async def frames(window: Page, video: Locator, wanted: int) -> int:
    """``wanted`` frames presented by ``video`` in ``window``, brought to the front first: a
    window behind the others may present no frame at all."""
    await window.bring_to_front()
    try:
        return int(await asyncio.wait_for(video.evaluate(COUNT_FRAMES, wanted), 30))
    except TimeoutError:
        state = await video.evaluate(VIDEO_STATE)
        raise AssertionError(f"no {wanted} frames in 30 s: {state}") from None


async def test_given_a_live_visio_when_popping_out_then_a_second_window_stays_live_until_the_end(
    browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page
    patient = await open_link(browser, link)
    await camera_on(patient)
    room = page.locator("#stage .room")
    await expect(room.locator("[data-field=video]")).to_have_attribute("data-playing", "true")
    session_id = page.url.rsplit("/", 1)[-1]

    # « Fenêtre séparée »: a second window on the same session, one more live subscriber.
    tools = room.locator("[data-field=tools]")
    async with browser.expect_page() as opened:
        await tools.get_by_role("button", name="Fenêtre séparée").click()
    popup = await opened.value
    popup_problems: list[str] = []
    popup.on("pageerror", lambda error: popup_problems.append(str(error)))
    await popup.wait_for_load_state()
    assert popup.url == f"{console.base}/console/sessions/{session_id}/video"
    await expect(popup.locator("#popout-video")).to_have_attribute("data-playing", "true")
    await expect(popup.locator("#popout-status")).to_have_text("Vidéo en direct")
    feed = popup.locator("#popout-feed")
    assert await frames(popup, feed, 10) >= 10
    assert await feed.evaluate("(video) => video.videoWidth") > 0
    await expect(popup).to_have_title("Vidéo du patient — Vidéo en direct")
    await console.shot("popout-window", popup)
    # The room's own video goes on beside it.
    assert await frames(page, room.locator("[data-field=video-feed]"), 5) >= 5

    # « Image dans l'image »: the room's video moves to a picture-in-picture window, and back.
    pip_button = tools.get_by_role("button", name="Image dans l'image")
    await expect(pip_button).to_be_visible()
    await pip_button.click()
    await expect(room.locator(".room-video-pip")).to_have_text(
        "La vidéo est dans la fenêtre «\u00a0Image dans l'image\u00a0»."
    )
    assert await room.locator("[data-field=video-feed]").count() == 0
    await expect(room.get_by_role("button", name="Plein écran")).to_be_hidden()
    await console.shot("popout-pip-room")
    await tools.get_by_role("button", name="Remettre la vidéo ici").click()
    await expect(room.locator("[data-field=video-feed]")).to_have_count(1)
    assert await frames(page, room.locator("[data-field=video-feed]"), 5) >= 5
    await expect(tools.locator("[data-popout=status]")).to_be_hidden()
    await expect(room.locator(".room-video-pip")).to_have_count(0)

    # The patient stops the video, then sends it again: the window waits, then shows it again.
    await patient.get_by_role("button", name="Terminer").click()
    await expect(popup.locator("#popout-status")).to_have_text("En attente de la vidéo du patient…")
    await expect(popup.locator("#popout-video")).to_have_attribute("data-playing", "false")
    await console.shot("popout-window-waiting", popup)
    await patient.locator("[data-view-name=left] [data-action=retry]").click()
    await expect(popup.locator("#popout-status")).to_have_text("Vidéo en direct")
    assert await frames(popup, feed, 10) >= 10

    # The visio ends: the separate window says so, and stops.
    await page.bring_to_front()
    await room.locator("[data-field=end]").click()
    await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
    await expect(popup.locator("#popout-status")).to_have_text("Vidéo terminée")
    await expect(popup.locator("#popout-video")).to_have_attribute("data-playing", "false")
    await expect(popup.locator("#popout-feed")).to_be_hidden()
    await console.shot("popout-window-ended", popup)
    assert popup_problems == []
    assert console.unexpected_problems() == []


async def test_given_an_unknown_session_or_no_login_then_its_video_window_is_refused(
    browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    """The separate window's page is as the room: an unknown session (or another centre's) is
    refused, and so is a browser without a console login."""
    console, _link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    response = await console.page.request.get(f"{console.base}/console/sessions/{'f' * 32}/video")
    assert response.status == 404
    assert (await response.json())["error_id"] == "session_not_found"
    anonymous = await console.page.request.get(
        f"{console.base}/console/sessions/{'f' * 32}/video", headers={"Cookie": ""}
    )
    assert anonymous.status == 401
