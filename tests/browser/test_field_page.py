"""The patient's page in field conditions, in real Chromium on a phone-sized page: a link opened
in an app's in-app view (a real user agent, set by Chromium's own override), a browser without
camera access, a weak link that makes the sender lower its picture, and a new connection after
the network changed or the service's side of the connection was closed."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from visioregul.integration import appkeys
from visioregul.media import MediaEvent

from .pages import (
    COUNT_FRAMES,
    ConsolePage,
    camera_on,
    feed,
    log_in,
    loopback_ice,
    patient_link,
    settings,
    start_service,
)

__all__ = ["loopback_ice"]

pytestmark = [pytest.mark.timeout(120)]

PHONE = (360, 740)

FACEBOOK_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/442.0.0.39.118;]"
)
INSTAGRAM_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 Instagram 305.0.0.24.109 (iPhone14,2; iOS 17_0; fr_FR; fr; scale=3.00; "
    "1170x2532; 533431014)"
)

NO_CAMERA_API = "Object.defineProperty(navigator, 'mediaDevices', { value: undefined });"
"""A browser without ``getUserMedia`` (an old one, or a page not in a secure context)."""
NO_CLIPBOARD = """
navigator.clipboard.writeText = () => Promise.reject(new DOMException('no', 'NotAllowedError'));
document.execCommand = () => false;
"""
"""An app's view that refuses the clipboard."""

WEAK_LINK = """
(() => {
  // The test's stand-in for a weak uplink: the connection's real statistics, with the browser's
  // estimate of the uplink and the encoder's limit replaced while window.weakKbps is set.
  window.peers = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.peers.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  const getStats = Native.prototype.getStats;
  Native.prototype.getStats = async function (...args) {
    const report = await getStats.apply(this, args);
    if (typeof window.weakKbps !== 'number') {
      return report;
    }
    const fed = new Map();
    report.forEach((stat, id) => {
      const copy = { ...stat };
      if (copy.type === 'candidate-pair' && copy.nominated) {
        copy.availableOutgoingBitrate = window.weakKbps * 1000;
      }
      if (copy.type === 'outbound-rtp') {
        copy.qualityLimitationReason = 'bandwidth';
      }
      fed.set(id, copy);
    });
    return fed;
  };
})();
"""

STATUSES = """
window.statuses = [];
document.addEventListener('DOMContentLoaded', () => {
  const status = document.getElementById('status');
  new MutationObserver(() => window.statuses.push(status.textContent)).observe(status, {
    childList: true, characterData: true, subtree: true,
  });
});
"""
"""Every text the page's status line showed, in ``window.statuses``."""

ENCODING = """() => {
  const pc = window.peers.filter((p) => p.connectionState === 'connected').at(-1);
  return pc ? pc.getSenders()[0].getParameters().encodings[0] : null;
}"""


async def invite(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> tuple[Any, ConsolePage, str]:
    """The service, a console that invited 06 12 34 56 78 by SMS, and the patient's link."""
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    card = console.page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    return client, console, await patient_link(console.page, console.base)


async def phone(browser: BrowserContext, link: str, user_agent: str = "", *scripts: str) -> Page:
    """A 360x740 phone opening ``link``, with ``user_agent`` (Chromium's own override)."""
    page = await browser.new_page()
    if user_agent:
        cdp = await browser.new_cdp_session(page)
        await cdp.send("Emulation.setUserAgentOverride", {"userAgent": user_agent})
    for script in scripts:
        await page.add_init_script(script)
    await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    await page.goto(link)
    return page


async def test_given_an_in_app_view_then_the_page_offers_the_phone_browser_and_the_room_says_so(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    _, console, link = await invite(browser, aiohttp_client, tmp_path, artifacts)

    patient = await phone(browser, link, FACEBOOK_ANDROID)
    await expect(
        patient.get_by_role("heading", name="Ouvrez ce lien dans votre navigateur")
    ).to_be_visible()
    await expect(patient.get_by_text("dans l'application Facebook")).to_be_visible()
    chrome = patient.get_by_role("link", name="Ouvrir dans Chrome")
    await expect(chrome).to_be_visible()
    href = str(await chrome.get_attribute("href"))
    path = link.split("//", 1)[1]
    assert href.startswith(f"intent://{path}#Intent;scheme=http;package=com.android.chrome;")
    assert href.endswith(";end") and "S.browser_fallback_url=http%3A%2F%2F" in href
    await expect(patient.get_by_role("button", name="Copier le lien")).to_be_visible()
    # Nothing asked of the camera yet.
    await expect(patient.get_by_role("button", name="Activer la caméra")).to_be_hidden()
    await patient.screenshot(path=artifacts / "in-app-facebook-android.png")

    timeline = console.page.locator("#room-side .timeline")
    await expect(timeline).to_contain_text(
        "Le patient a ouvert le lien dans l'application Facebook\u00a0: pas d'accès à la caméra."
        " Il doit l'ouvrir dans Chrome ou Safari."
    )
    # The room's placeholder says it too, with the next step.
    await expect(console.page.locator("#stage .room")).to_contain_text("Chrome ou Safari")
    await console.page.screenshot(path=artifacts / "in-app-room.png")
    await timeline.screenshot(path=artifacts / "in-app-timeline.png")

    # « Copier le lien »: copied, and said so (where the app refuses the clipboard, the link is
    # shown selected instead).
    await patient.get_by_role("button", name="Copier le lien").click()
    await expect(patient.get_by_role("status").filter(has_text="Lien copié")).to_be_visible()
    await patient.screenshot(path=artifacts / "in-app-copy.png")
    # « Essayer quand même ici »: the consent, for an app whose view grants the camera after all.
    await patient.get_by_role("button", name="Essayer quand même ici").click()
    await camera_on(patient)
    await patient.close()

    iphone = await phone(browser, link, INSTAGRAM_IPHONE)
    safari = iphone.get_by_role("link", name="Ouvrir dans Safari")
    await expect(safari).to_have_attribute("href", f"x-safari-{link}")
    await expect(iphone.get_by_text("touchez «\u00a0•••\u00a0»")).to_be_visible()
    await iphone.screenshot(path=artifacts / "in-app-instagram-iphone.png")
    await expect(timeline).to_contain_text("dans l'application Instagram")
    assert not console.problems, console.problems


async def test_given_a_browser_without_camera_access_then_it_says_so_without_asking(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    _, console, link = await invite(browser, aiohttp_client, tmp_path, artifacts)
    patient = await phone(browser, link, "", NO_CAMERA_API, NO_CLIPBOARD)
    await expect(
        patient.get_by_text("Ce navigateur ne permet pas de montrer votre caméra")
    ).to_be_visible()
    await expect(patient.get_by_role("button", name="Essayer quand même ici")).to_be_hidden()
    await patient.screenshot(path=artifacts / "no-camera-api.png")
    # No clipboard either: the link is shown, selected, for the patient to copy.
    await patient.get_by_role("button", name="Copier le lien").click()
    field = patient.get_by_role(
        "textbox", name="Copiez ce lien, puis collez-le dans Chrome ou Safari"
    )
    await expect(field).to_have_value(link)
    await expect(field).to_be_focused()
    await patient.screenshot(path=artifacts / "no-clipboard.png")
    await expect(console.page.locator("#room-side .timeline")).to_contain_text(
        "Le navigateur du patient ne donne pas accès à la caméra."
    )


async def test_given_a_weak_uplink_then_the_sender_lowers_resolution_and_frame_rate(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    _, console, link = await invite(browser, aiohttp_client, tmp_path, artifacts)
    patient = await phone(browser, link, "", WEAK_LINK)
    await camera_on(patient)
    assert await asyncio.wait_for(feed(console.page).evaluate(COUNT_FRAMES, 10), 20) >= 10
    await patient.evaluate("() => { window.weakKbps = 100; }")
    await expect(patient.locator("#status")).to_have_text(
        "Le régulateur vous voit (image allégée\u00a0: réseau faible)", timeout=15000
    )
    encoding = await patient.evaluate(ENCODING)
    assert encoding["maxFramerate"] == 10
    assert encoding["maxBitrate"] == 250_000
    assert encoding["scaleResolutionDownBy"] >= 2
    await patient.screenshot(path=artifacts / "weak-link.png")
    # The room receives the smaller picture: at most 240 lines (the camera's 720 scaled by 3).
    height = 0
    for _ in range(300):
        height = await feed(console.page).evaluate("(video) => video.videoHeight")
        if 0 < height <= 240:
            break
        await asyncio.sleep(0.05)
    assert 0 < height <= 240, height

    # The link recovers: the sender climbs back one step at a time.
    await patient.evaluate("() => { window.weakKbps = 5000; }")
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit", timeout=30000)
    encoding = await patient.evaluate(ENCODING)
    assert encoding["maxFramerate"] == 20


async def new_first_frame(
    heard: list[tuple[float, str, dict[str, object]]], since: float, timeout: float = 10
) -> float:
    """When the service got the first frame of a patient's publisher connected after ``since``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connected = [
            at for at, kind, d in heard if at > since and kind == MediaEvent.PUBLISHER_CONNECTED
        ]
        for at, kind, details in heard:
            if (
                connected
                and at >= connected[0]
                and kind == MediaEvent.FIRST_FRAME
                and details.get("participant_id") == "patient"
            ):
                return at
        await asyncio.sleep(0.02)
    raise AssertionError(f"no new publisher's frame: {[kind for _, kind, _ in heard]}")


async def test_given_a_network_change_or_a_broken_connection_then_a_new_one_brings_the_video_back(
    browser: BrowserContext, aiohttp_client: Any, tmp_path: Path, artifacts: Path
) -> None:
    client, console, link = await invite(browser, aiohttp_client, tmp_path, artifacts)
    patient = await phone(browser, link, "", STATUSES)
    await camera_on(patient)
    assert await asyncio.wait_for(feed(console.page).evaluate(COUNT_FRAMES, 10), 20) >= 10
    rooms = client.app[appkeys.ROOMS]
    session_id = console.page.url.rsplit("/", 1)[-1]
    room = rooms.find(session_id)
    assert room is not None, console.page.url
    heard: list[tuple[float, str, dict[str, object]]] = []
    stop = rooms.listen(
        session_id, lambda kind, details: heard.append((time.monotonic(), kind, dict(details)))
    )
    timeline = console.page.locator("#room-side .timeline")
    try:
        # Wi-Fi to mobile data: the browser says it is online on a new network.
        changed_at = time.monotonic()
        await patient.evaluate("() => window.dispatchEvent(new Event('online'))")
        back = await new_first_frame(heard, changed_at)
        print(f"\nnetwork change -> the new publisher's first frame: {back - changed_at:.2f} s")
        assert await asyncio.wait_for(feed(console.page).evaluate(COUNT_FRAMES, 10), 20) >= 10
        await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
        await expect(timeline).to_contain_text(
            "Réseau du patient changé\u00a0: nouvelle connexion vidéo"
        )
        await patient.screenshot(path=artifacts / "after-network-change.png")

        # The service's side of the connection goes away: the page sees it stop answering.
        broken_at = time.monotonic()
        await room.unpublish("patient")
        # The page said so (for as long as the new connection took).
        await patient.wait_for_function(
            "() => window.statuses.includes('Connexion perdue, nouvelle tentative…')",
            timeout=20000,
        )
        back = await new_first_frame(heard, broken_at, timeout=30)
        print(f"service side closed -> the new publisher's first frame: {back - broken_at:.2f} s")
        await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
        assert await asyncio.wait_for(feed(console.page).evaluate(COUNT_FRAMES, 10), 20) >= 10
        await expect(timeline).to_contain_text(
            re.compile("Vidéo du patient coupée|Connexion vidéo du patient en échec"), timeout=20000
        )
    finally:
        stop()
    assert not console.problems, console.problems
