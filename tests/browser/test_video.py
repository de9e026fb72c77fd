"""The patient's camera seen in the regulators' consoles, end to end in real Chromium.

The patient is a phone-sized page of a Chromium with a fake camera: it opens the link from the
outbox and taps "Activer la caméra". The regulator's console shows the video in the room; a
second console (another account, another browser) opening the same session sees it too. No
telephony: the regulator invites without a call.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Playwright, expect

from tests.web.patient import fetch_like_robots

from .conftest import launch
from .pages import (
    COUNT_FRAMES,
    FIRST_FRAME_AT,
    camera_on,
    feed,
    invite_by_sms,
    log_in,
    loopback_ice,
    open_link,
    patient_link,
    settings,
    start_service,
)

__all__ = ["loopback_ice"]

pytestmark = [pytest.mark.timeout(120)]


async def test_given_the_patient_turns_the_camera_on_then_both_consoles_see_the_scene(
    browser: BrowserContext,
    second_browser: BrowserContext,
    playwright_driver: Playwright,
    chromium: str,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    """Robots fetch the link, the patient opens it in an in-app view then in the phone's
    browser, which takes it over and sends the video that two consoles see."""
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    page = console.page

    # The regulator invites the caller by SMS: the room opens, waiting for the video.
    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    room = page.locator("#stage .room")
    video_area = room.locator("[data-field=video]")
    await expect(room.locator("[data-field=video-title]")).to_have_text(
        "En attente de la vidéo du patient…"
    )
    await expect(video_area).to_have_attribute("data-playing", "false")
    link = await patient_link(page, console.base)

    # Link previewers and mail scanners fetch the link first: nothing happens.
    assert {status for _, status, _ in await fetch_like_robots(link)} == {200}
    await expect(room.locator("[data-field=state]")).to_have_text("Lien envoyé")

    # The patient taps it in the e-mail app's in-app view first: its page opens the link...
    in_app_view = await launch(playwright_driver, chromium, tmp_path / "in-app-view")
    in_app = await open_link(in_app_view, link)
    await expect(in_app.get_by_role("button", name="Activer la caméra")).to_be_enabled()
    await expect(room.locator("[data-field=state]")).to_have_text("Lien ouvert")

    # ...then goes on to the phone's browser, which takes the link over: consent in two lines
    # and one button; the in-app view says where the video went.
    problems: list[str] = []
    patient = await open_link(browser, link, problems=problems)
    start = patient.get_by_role("button", name="Activer la caméra")
    await expect(start).to_be_visible()
    await expect(in_app.locator("h2", has_text="ouvert dans un autre navigateur")).to_be_visible()
    await expect(page.locator("#room-side .timeline")).to_contain_text(
        "Lien repris sur un autre navigateur"
    )
    await console.shot("video-link-taken-over", in_app)
    await expect(patient.locator(".consent")).to_contain_text("sans le son")
    await expect(patient.locator(".consent")).to_contain_text("Rien n'est enregistré")
    await console.shot("video-patient-consent", patient)

    first_frame = asyncio.create_task(feed(page).evaluate(FIRST_FRAME_AT))
    clicked_at = await patient.evaluate("Date.now()")
    await start.click()
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
    await expect(patient.locator("#preview")).to_have_js_property("muted", True)
    shown_at = await asyncio.wait_for(first_frame, 20)
    elapsed = shown_at - clicked_at
    print(f"\ntime from the patient's tap to the first frame in the console: {elapsed} ms")

    await expect(video_area).to_have_attribute("data-playing", "true")
    await expect(room.locator("[data-field=video-title]")).to_be_hidden()
    frames = await asyncio.wait_for(feed(page).evaluate(COUNT_FRAMES, 10), 20)
    assert frames >= 10
    size = await feed(page).evaluate("(v) => [v.videoWidth, v.videoHeight]")
    assert size[0] > 0 and size[1] > 0
    await expect(room.locator("[data-field=state]")).to_have_text("Vidéo en cours", timeout=10000)
    # The status line follows the latest step, not the link's any more.
    await expect(room.locator("[data-field=status]")).to_contain_text(
        "Vidéo du patient reçue depuis"
    )
    await console.shot("video-patient-live", patient)
    await console.shot("video-room-live")
    # The picture has the room's space at 1280x720, and goes full screen on demand.
    box = await feed(page).bounding_box()
    assert box is not None and box["height"] >= 340, box
    await page.bring_to_front()
    fullscreen = room.get_by_role("button", name="Plein écran")
    await fullscreen.click()
    leave = room.get_by_role("button", name="Quitter le plein écran")
    await expect(leave).to_have_attribute("aria-pressed", "true")
    assert await video_area.evaluate("(area) => document.fullscreenElement === area")
    await console.shot("video-room-fullscreen", full_page=False)
    await leave.click()
    await expect(fullscreen).to_have_attribute("aria-pressed", "false")
    assert await video_area.evaluate("() => document.fullscreenElement === null")

    # The video is published: the link is the phone's browser's now, any other is refused.
    await in_app.reload()
    await expect(in_app.locator("h1")).to_have_text("Ce lien n'est plus valable.")
    stranger = await launch(playwright_driver, chromium, tmp_path / "third-browser")
    try:
        third = await open_link(stranger, link)
        await expect(third.locator("h1")).to_have_text("Ce lien n'est plus valable.")
    finally:
        await stranger.close()
        await in_app_view.close()

    # Another regulator (the doctor) opens the same session: the same video.
    doctor = await log_in(
        second_browser,
        client,
        artifacts,
        username="medecin",
        position="1002",
        display_name="Dr Anne Martin",
    )
    sessions: Any = await (await page.request.get(f"{console.base}/console/api/sessions")).json()
    session_id = sessions["sessions"][0]["id"]
    await doctor.page.goto(f"{doctor.base}/console#/session/{session_id}")
    await expect(doctor.page.locator("#stage .room [data-field=video]")).to_have_attribute(
        "data-playing", "true", timeout=20000
    )
    started = time.monotonic()
    assert await asyncio.wait_for(feed(doctor.page).evaluate(COUNT_FRAMES, 10), 20) >= 10
    assert time.monotonic() - started < 20
    await doctor.shot("video-room-doctor")

    # The patient stops: the video goes, the session stays; the timeline tells it all.
    await patient.get_by_role("button", name="Terminer").click()
    await expect(patient.locator("h2", has_text="Vidéo arrêtée")).to_be_visible()
    timeline = page.locator("#room-side .timeline")
    await expect(timeline).to_contain_text("Caméra autorisée par le patient")
    await expect(timeline).to_contain_text("Vidéo du patient reçue")
    await expect(timeline).to_contain_text("Le patient a arrêté la vidéo")
    # People by their names; the regulator's own watching is not news in their own timeline.
    await expect(timeline).to_contain_text("Dr Anne Martin regarde la visio")
    await expect(timeline).not_to_contain_text("regulateur regarde la visio")
    doctor_timeline = doctor.page.locator("#room-side .timeline")
    await expect(doctor_timeline).to_contain_text("regulateur regarde la visio")
    await expect(doctor_timeline).not_to_contain_text("Dr Anne Martin regarde la visio")
    await expect(video_area).to_have_attribute("data-playing", "false", timeout=10000)
    await expect(room.locator("[data-field=video-step]")).to_contain_text(
        "Le patient a arrêté la vidéo."
    )
    # One status: the latest step, never a green link line under a stopped video.
    await expect(room.locator("[data-field=status]")).to_contain_text(
        "Le patient a arrêté la vidéo à"
    )
    await expect(room.locator("[data-field=status]")).not_to_have_attribute("data-tone", "good")
    await console.shot("video-room-after")

    # The regulator ends the visio: every console watching shows it ended, no black box.
    await room.locator("[data-field=end]").click()
    await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
    for console_page in (page, doctor.page):
        ended = console_page.locator("#stage .room")
        await expect(ended.locator("[data-field=video-title]")).to_have_text(
            "Visio terminée", timeout=15000
        )
        await expect(ended.locator("[data-field=video-feed]")).to_be_hidden()
    await doctor.page.bring_to_front()
    await doctor.shot("video-room-doctor-ended")
    assert not problems, problems
    assert not console.unexpected_problems(), console.problems
    assert not doctor.unexpected_problems(), doctor.problems


DENY_CAMERA = """(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.__cameraRefused = true;
  navigator.mediaDevices.getUserMedia = (constraints) => {
    window.__constraints = constraints;
    if (window.__cameraRefused) {
      return Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    }
    return real(constraints);
  };
})();"""
"""A page-side stand-in: the camera is refused until ``window.__cameraRefused`` is false."""


async def test_given_the_camera_refused_then_instructions_then_retry_works(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page

    patient = await open_link(browser, link, DENY_CAMERA)
    await patient.get_by_role("button", name="Activer la caméra").click()
    await expect(patient.locator("h2", has_text="La caméra est bloquée")).to_be_visible()
    # Debian's Chromium says "Chrome/" in its user agent: Chrome's instructions alone.
    await expect(patient.locator("[data-browser=chrome]")).to_be_visible()
    await expect(patient.locator("[data-browser=ios]")).to_be_hidden()
    constraints = await patient.evaluate("window.__constraints")
    assert constraints["audio"] is False
    assert constraints["video"]["facingMode"] == {"ideal": "environment"}
    await console.shot("video-patient-denied", patient)
    timeline = page.locator("#room-side .timeline")
    await expect(timeline).to_contain_text("Caméra refusée sur le téléphone (NotAllowedError")
    # The room says what happened and what to tell the caller, for the caller's browser.
    room = page.locator("#stage .room")
    await expect(room.locator("[data-field=state]")).to_have_text("Caméra refusée")
    await expect(room.locator("[data-field=state]")).to_have_attribute("data-tone", "warning")
    await expect(room.locator("[data-field=video-title]")).to_have_text(
        "Le patient a refusé l'accès à sa caméra"
    )
    await expect(room.locator("[data-field=video-help]")).to_contain_text("Chrome\u00a0: toucher")
    await expect(room.locator("[data-field=status]")).to_contain_text(
        "Caméra refusée par le patient"
    )
    await expect(room.locator("[data-field=status]")).to_have_attribute("data-tone", "failed")
    await page.bring_to_front()  # the patient's page is in front: the console would not paint
    await console.shot("video-room-camera-denied")
    await patient.bring_to_front()

    # The patient allows the camera in the settings, then "Réessayer".
    await patient.evaluate("window.__cameraRefused = false")
    await patient.get_by_role("button", name="Réessayer").click()
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
    await expect(page.locator("#stage .room [data-field=video]")).to_have_attribute(
        "data-playing", "true", timeout=20000
    )
    await expect(timeline).to_contain_text("Caméra autorisée par le patient")
    await expect(room.locator("[data-field=video-help]")).to_be_hidden()

    # The regulator ends the visio while the video flows: the room shows the end, no black box.
    await room.locator("[data-field=end]").click()
    await page.locator("#end-dialog").get_by_role("button", name="Terminer la visio").click()
    await expect(room.locator("[data-field=video]")).to_have_attribute("data-playing", "false")
    await expect(room.locator("[data-field=video-title]")).to_have_text("Visio terminée")
    await expect(room.locator("[data-field=video-feed]")).to_be_hidden()
    await page.bring_to_front()
    await console.shot("video-room-ended")
    # Back on the card: the visio is said over, with no way back into it.
    await room.locator("[data-field=back]").click()
    card = page.locator("#stage .call-card")
    await expect(card.locator("[data-field=result]")).to_contain_text("Visio terminée à")
    await expect(card.get_by_role("button", name="Retourner dans la visio")).to_have_count(0)


async def test_given_the_page_reloaded_during_the_video_then_the_camera_resumes_without_a_tap(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page
    # The permission a phone keeps once the patient allowed the camera for the site.
    await browser.grant_permissions(["camera"], origin=console.base)

    problems: list[str] = []
    patient = await open_link(browser, link, problems=problems)
    await camera_on(patient)
    video_area = page.locator("#stage .room [data-field=video]")
    await expect(video_area).to_have_attribute("data-playing", "true", timeout=20000)

    # A stray reload: straight back to the video, no consent screen, no tap.
    await patient.reload()
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit", timeout=20000)
    await expect(patient.get_by_role("button", name="Activer la caméra")).to_be_hidden()
    assert await asyncio.wait_for(feed(page).evaluate(COUNT_FRAMES, 10), 20) >= 10

    # Once the patient stopped, a reload asks again: stopping is a decision.
    await patient.get_by_role("button", name="Terminer").click()
    await expect(patient.locator("h2", has_text="Vidéo arrêtée")).to_be_visible()
    await patient.reload()
    await expect(patient.get_by_role("button", name="Activer la caméra")).to_be_visible()
    await patient.wait_for_timeout(1000)
    await expect(patient.get_by_role("button", name="Activer la caméra")).to_be_visible()
    assert not problems, problems


PAGE_VISIBILITY = """(() => {
  window.__visibility = 'visible';
  Object.defineProperty(document, 'visibilityState', {
    configurable: true,
    get: () => window.__visibility,
  });
})();"""
"""A page-side stand-in for the phone hiding the page (the patient goes to the phone app)."""

CAMERA_TAKEN_BACK = """() => {
  // What a phone does to a page's camera in the background: it ends the track.
  const track = document.getElementById('preview').srcObject.getVideoTracks()[0];
  window.__lostTrack = track;
  track.stop();
  track.dispatchEvent(new Event('ended'));
}"""

SEEN_AGAIN = """() => {
  window.__visibility = 'visible';
  document.dispatchEvent(new Event('visibilitychange'));
}"""

CAMERA_BACK = """() => {
  const stream = document.getElementById('preview').srcObject;
  const track = stream && stream.getVideoTracks()[0];
  return Boolean(track && track !== window.__lostTrack && track.readyState === 'live');
}"""


async def camera_back(patient: Page) -> None:
    """Wait until the page shows a new, live camera (the page's CSP forbids wait_for_function)."""
    for _ in range(100):
        if await patient.evaluate(CAMERA_BACK):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the camera did not start again")


async def test_given_the_camera_stopped_in_the_background_then_it_starts_again_on_return(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page

    problems: list[str] = []
    patient = await open_link(browser, link, PAGE_VISIBILITY, problems=problems)
    await camera_on(patient)
    video_area = page.locator("#stage .room [data-field=video]")
    await expect(video_area).to_have_attribute("data-playing", "true", timeout=20000)

    # The patient goes to the phone app: the page is hidden and the phone ends the camera.
    await patient.evaluate("window.__visibility = 'hidden'")
    await patient.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await patient.evaluate(CAMERA_TAKEN_BACK)
    await patient.wait_for_timeout(500)
    assert not await patient.evaluate(CAMERA_BACK), "nothing is opened while hidden"

    # Back to the browser: the camera starts again by itself, on the same connection.
    await patient.evaluate(SEEN_AGAIN)
    await camera_back(patient)
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
    assert await asyncio.wait_for(feed(page).evaluate(COUNT_FRAMES, 10), 20) >= 10

    # Taken back while the page is in view (another app): opened again at once.
    await patient.evaluate(CAMERA_TAKEN_BACK)
    await camera_back(patient)
    assert await asyncio.wait_for(feed(page).evaluate(COUNT_FRAMES, 10), 20) >= 10
    timeline = page.locator("#room-side .timeline")
    await expect(timeline).not_to_contain_text("Caméra indisponible")
    await expect(patient.locator("h2", has_text="Vidéo arrêtée")).to_be_hidden()
    assert not problems, problems


async def test_given_the_link_then_the_whole_page_is_small_and_from_the_service_only(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    """A cheap phone on one bar of 4G: under 100 KB transferred, nothing from elsewhere."""
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)

    patient = await browser.new_page()
    responses: list[Any] = []
    sockets: list[str] = []
    patient.on("response", lambda response: responses.append(response))
    patient.on("websocket", lambda socket: sockets.append(socket.url))
    await patient.goto(link)
    await expect(patient.get_by_role("button", name="Activer la caméra")).to_be_enabled()
    await patient.wait_for_load_state("networkidle")
    # The socket opened before the page's code loaded is the page's one and only socket, and
    # its welcome was heard.
    await patient.wait_for_function("performance.getEntriesByName('visioregul:welcome').length")
    assert sockets == [link.replace("http", "ws", 1) + "/ws"]

    transferred = 0
    for response in responses:
        assert response.url.startswith(console.base), f"loaded from elsewhere: {response.url}"
        sizes = await response.request.sizes()
        transferred += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    print(f"\npatient page: {len(responses)} responses, {transferred} bytes transferred")
    assert len(responses) >= 3, "the page, its script and its style at least"
    assert transferred < 100_000


PHONE_BROWSERS = {
    "ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 15_8 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/15.6 Mobile/15E148 Safari/604.1",
    "chrome": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "samsung": "Mozilla/5.0 (Linux; Android 13; SM-A145R) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    "firefox": "Mozilla/5.0 (Android 14; Mobile; rv:131.0) Gecko/131.0 Firefox/131.0",
}
"""User agents of the phones' browsers the page supports, as they send them."""

BROWSER_NAMES = {
    "ios": "iPhone",
    "chrome": "Chrome",
    "samsung": "Samsung Internet",
    "firefox": "Firefox",
}
"""How the room's instructions name each browser."""


@pytest.mark.parametrize("family", sorted(PHONE_BROWSERS))
async def test_given_the_camera_refused_then_the_instructions_of_the_patients_browser(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path, family: str
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page

    user_agent = PHONE_BROWSERS[family]
    pretend = (
        f"Object.defineProperty(Navigator.prototype, 'userAgent', {{ get: () => {user_agent!r} }});"
    )
    patient = await open_link(browser, link, pretend, DENY_CAMERA, size=(360, 740))
    await patient.get_by_role("button", name="Activer la caméra").click()

    await expect(patient.locator("h2", has_text="La caméra est bloquée")).to_be_visible()
    for other in ("ios", "chrome", "samsung", "firefox", "other"):
        instructions = patient.locator(f"[data-browser={other}]")
        if other == family:
            await expect(instructions).to_be_visible()
        else:
            await expect(instructions).to_be_hidden()
    await console.shot(f"video-patient-denied-{family}", patient)
    # The regulator learns which browser refused, to guide the patient by voice.
    timeline = page.locator("#room-side .timeline")
    await expect(timeline).to_contain_text(f"NotAllowedError ({family})")
    # The room shows the regulator the steps of that very browser, to read out.
    help_text = page.locator("#stage .room [data-field=video-help]")
    await expect(help_text).to_contain_text(BROWSER_NAMES[family])


FITS_ON_SCREEN = """() => {
  const end = document.getElementById('end').getBoundingClientRect();
  const preview = document.getElementById('preview').getBoundingClientRect();
  return {
    scrolls: document.documentElement.scrollHeight > window.innerHeight + 1,
    endVisible: end.bottom <= window.innerHeight && end.height > 0,
    previewHeight: preview.height,
  };
}"""


START_ON_SCREEN = """() => {
  const start = document.getElementById('start').getBoundingClientRect();
  return { bottom: start.bottom, height: start.height, viewport: window.innerHeight };
}"""


async def test_given_the_phone_turned_or_small_then_the_video_and_terminer_fit_on_screen(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    console, link = await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts)
    page = console.page

    # On the smallest phones (320x568), "Activer la caméra" is there without scrolling.
    patient = await open_link(browser, link, size=(320, 568))
    await expect(patient.get_by_role("button", name="Activer la caméra")).to_be_enabled()
    start = await patient.evaluate(START_ON_SCREEN)
    assert start["height"] > 0 and start["bottom"] <= start["viewport"], start
    await console.shot("video-patient-consent-320x568", patient, full_page=False)
    await patient.set_viewport_size({"width": 390, "height": 844})
    await camera_on(patient)

    # Upright, turned sideways, and the smallest phones still sold (320x568).
    for width, height in ((390, 844), (844, 390), (320, 568)):
        await patient.set_viewport_size({"width": width, "height": height})
        await patient.wait_for_timeout(300)
        fit = await patient.evaluate(FITS_ON_SCREEN)
        assert not fit["scrolls"], (width, height)
        assert fit["endVisible"], (width, height)
        assert fit["previewHeight"] >= 200, (width, height, fit)
        await console.shot(f"video-patient-live-{width}x{height}", patient)
        # Turning the phone changes nothing for the regulator: frames keep coming.
        assert await asyncio.wait_for(feed(page).evaluate(COUNT_FRAMES, 5), 20) >= 5
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
