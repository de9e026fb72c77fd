"""The path the patient's video takes through a real coturn, end to end in real Chromium.

The service hands the patient's page UDP, TCP and TLS TURN URLs with credentials from coturn's
secret; the patient's Chromium trusts the test authority of coturn's certificate in its own NSS
database (Chromium checks a TURN server's TLS certificate). The page reports its path, the room
and the timeline say it; when the relay refuses the credentials or cannot be reached and UDP is
forbidden, both sides say there is no network path.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Playwright, expect
from pydantic import SecretStr

from tests.turn_server import TurnServer, loopback_address
from visioregul.integration.settings import (
    DatabaseSettings,
    Settings,
    TelephonySettings,
    VideoSettings,
)

from .conftest import launch
from .pages import (
    COUNT_FRAMES,
    ConsolePage,
    feed,
    invite_by_sms,
    loopback_ice,
    open_link,
    start_camera,
)

__all__ = ["loopback_ice"]

pytestmark = [pytest.mark.timeout(150)]

UDP_FORBIDDEN = {"webrtc": {"ip_handling_policy": "disable_non_proxied_udp"}}
"""The profile's preference by which Chromium sends no UDP of its own: only TURN over TCP or TLS
can carry the video. (The ``--force-webrtc-ip-handling-policy`` switch does not change what
Debian's Chromium gathers; the preference, as a policy would set it, does.)"""

RELAY_ONLY = """(() => {
  const Original = window.RTCPeerConnection;
  // The page's peer gathers relay candidates only, through the TURN URLs that contain WANTED.
  function RelayOnly(config, ...rest) {
    const servers = ((config && config.iceServers) || [])
      .map((server) => ({
        ...server,
        urls: [].concat(server.urls).filter((url) => url.includes('WANTED')),
      }))
      .filter((server) => server.urls.length);
    return new Original({ ...config, iceServers: servers, iceTransportPolicy: 'relay' }, ...rest);
  }
  RelayOnly.prototype = Original.prototype;
  window.RTCPeerConnection = RelayOnly;
})();"""
"""An init script forcing the page's peer to relay through the TURN URLs containing WANTED."""


def relay_only(wanted: str) -> str:
    """:data:`RELAY_ONLY` through the TURN URLs containing ``wanted``."""
    return RELAY_ONLY.replace("WANTED", wanted)


def turn_settings(tmp_path: Path, urls: list[str], secret: str) -> Settings:
    """SMS to the outbox, no telephony, the given TURN servers."""
    return Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"),
        telephony=TelephonySettings(source="none"),
        video=VideoSettings(turn_urls=urls, turn_secret=SecretStr(secret)),
    )


@asynccontextmanager
async def phone(
    playwright: Playwright,
    chromium: str,
    tmp_path: Path,
    turn: TurnServer | None,
    preferences: dict[str, Any] | None = None,
) -> AsyncIterator[BrowserContext]:
    """The patient's Chromium, closed after: its own HOME, whose NSS database trusts ``turn``'s
    authority, and its profile starting with ``preferences``."""
    home = tmp_path / "phone-home"
    home.mkdir(parents=True, exist_ok=True)
    if turn is not None:
        turn.authority.trust_in_nss(home)
    profile = tmp_path / "phone-profile"
    if preferences is not None:
        (profile / "Default").mkdir(parents=True, exist_ok=True)
        (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = await launch(playwright, chromium, profile, home=home)
    try:
        yield context
    finally:
        await context.close()


async def invite(
    browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
    urls: list[str],
    secret: str,
) -> tuple[ConsolePage, str]:
    """The service with these TURN servers, a console that invited the patient by SMS (the room
    open), and the patient's link."""
    service = turn_settings(tmp_path, urls, secret)
    return await invite_by_sms(browser, aiohttp_client, tmp_path, artifacts, service)


@pytest.fixture
async def invited(
    browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
    coturn: TurnServer,
) -> tuple[ConsolePage, str]:
    """:func:`invite` with the working coturn's URLs and secret."""
    return await invite(browser, aiohttp_client, tmp_path, artifacts, coturn.urls(), coturn.secret)


async def camera_on_phone(
    context: BrowserContext, link: str, *scripts: str
) -> tuple[Page, list[str]]:
    """The patient's phone-sized page on ``link``, camera on; the browser's reported errors."""
    problems: list[str] = []
    patient = await open_link(context, link, *scripts, problems=problems)
    await start_camera(patient)
    return patient, problems


async def shows_path(
    console: ConsolePage, patient: Page, path: str, text: str, shot: str
) -> list[dict[str, Any]]:
    """The patient's page live, the room showing its video (frames decoded) and ``text`` for the
    path (with the round trip), the timeline too; the session's ``video.path`` events."""
    await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
    page = console.page
    room = page.locator("#stage .room")
    panel = room.locator("[data-field=path]")
    await expect(panel).to_be_visible()
    await expect(panel).to_have_attribute("data-path", path)
    await expect(panel.locator("[data-path=text]")).to_have_text(
        re.compile(rf"^{re.escape(text)} — aller-retour \d+ ms$")
    )
    assert await feed(page).evaluate(COUNT_FRAMES, 10) == 10
    await expect(console.page.locator("#room-side .timeline")).to_contain_text(
        f"Chemin de la vidéo\u00a0: {text}"
    )
    await console.shot(shot)
    return await path_events(console)


async def path_events(console: ConsolePage) -> list[dict[str, Any]]:
    """The session's ``video.path`` and ``video.no_path`` events, from the console's API."""
    timeline = await console.timeline()
    return [e for e in timeline if e["type"] in ("video.path", "video.no_path")]


def relayed_for_patient(turn: TurnServer) -> bool:
    """coturn allocated a relay for the patient's page (its credentials name the patient)."""
    return any(
        ":patient-" in line and "ALLOCATE processed, success" in line for line in turn.log_lines
    )


async def test_given_a_plain_network_then_the_video_is_direct(
    invited: tuple[ConsolePage, str],
    playwright_driver: Playwright,
    chromium: str,
    coturn: TurnServer,
    tmp_path: Path,
) -> None:
    console, link = invited
    async with phone(playwright_driver, chromium, tmp_path, coturn) as context:
        patient, problems = await camera_on_phone(context, link)
        events = await shows_path(console, patient, "direct", "Vidéo directe", "path-direct")
        assert [e["details"]["path"] for e in events] == ["direct"]
        assert events[0]["details"]["local_type"] in ("host", "srflx", "prflx")
        assert events[0]["details"]["service_remote_type"] != "relay"
        assert isinstance(events[0]["details"]["rtt_ms"], int)
        assert not problems
    assert not console.unexpected_problems()


async def test_given_udp_forbidden_then_the_video_goes_through_turn_over_tcp_or_tls(
    invited: tuple[ConsolePage, str],
    playwright_driver: Playwright,
    chromium: str,
    coturn: TurnServer,
    tmp_path: Path,
) -> None:
    console, link = invited
    async with phone(playwright_driver, chromium, tmp_path, coturn, UDP_FORBIDDEN) as context:
        patient, problems = await camera_on_phone(context, link)
        await expect(patient.locator("#status")).to_have_text("Le régulateur vous voit")
        panel = console.page.locator("#stage .room [data-field=path]")
        await expect(panel).to_have_attribute("data-path", re.compile("^turn-t"))
        path = await panel.get_attribute("data-path")
        assert path in ("turn-tcp", "turn-tls")
        events = await shows_path(
            console, patient, str(path), "Vidéo par relais TURN (TCP/TLS)", "path-turn-tcp-tls"
        )
        assert [e["details"]["path"] for e in events] == [path]
        assert events[0]["details"]["local_type"] == "relay"
        assert events[0]["details"]["service_remote_type"] == "relay"
        assert relayed_for_patient(coturn)
        assert not problems


async def test_given_only_turn_over_tls_then_chromium_checks_its_certificate(
    invited: tuple[ConsolePage, str],
    playwright_driver: Playwright,
    chromium: str,
    coturn: TurnServer,
    tmp_path: Path,
) -> None:
    """``turns:HOST:443?transport=tcp`` alone: a patient whose Chromium does not trust the test
    authority gets no relay (Chromium checks TURN certificates); one that trusts it, video."""
    console, link = invited
    async with phone(playwright_driver, chromium, tmp_path / "untrusting", None) as untrusting:
        patient, _ = await camera_on_phone(untrusting, link, relay_only("turns:"))
        await expect(console.page.locator("#stage .room [data-field=outcome-title]")).to_have_text(
            "Aucun chemin réseau\u00a0: le relais TURN est injoignable"
        )
        assert not relayed_for_patient(coturn)
    async with phone(playwright_driver, chromium, tmp_path, coturn) as context:
        patient, problems = await camera_on_phone(context, link, relay_only("turns:"))
        events = await shows_path(
            console, patient, "turn-tls", "Vidéo par relais TURN (TCP/TLS)", "path-turn-tls"
        )
        assert [e["type"] for e in events] == ["video.no_path", "video.path"]
        assert events[1]["details"]["path"] == "turn-tls"
        assert relayed_for_patient(coturn)
        assert not problems


async def test_given_a_relay_only_peer_then_the_video_goes_through_turn_over_udp(
    invited: tuple[ConsolePage, str],
    playwright_driver: Playwright,
    chromium: str,
    coturn: TurnServer,
    tmp_path: Path,
) -> None:
    console, link = invited
    async with phone(playwright_driver, chromium, tmp_path, coturn) as context:
        patient, problems = await camera_on_phone(context, link, relay_only("transport=udp"))
        events = await shows_path(
            console, patient, "turn-udp", "Vidéo par relais TURN (UDP)", "path-turn-udp"
        )
        assert [e["details"]["path"] for e in events] == ["turn-udp"]
        assert events[0]["details"]["service_remote_type"] == "relay"
        assert relayed_for_patient(coturn)
        assert not problems


@pytest.mark.parametrize(
    ("case", "reason", "text"),
    [
        ("wrong_secret", "turn_refused", "le relais TURN refuse les identifiants"),
        ("turn_down", "turn_unreachable", "le relais TURN est injoignable"),
    ],
)
async def test_given_udp_forbidden_and_no_usable_relay_then_no_network_path_on_both_sides(
    case: str,
    reason: str,
    text: str,
    browser: BrowserContext,
    playwright_driver: Playwright,
    chromium: str,
    coturn: TurnServer,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    if case == "wrong_secret":
        urls, secret = coturn.urls(), "not-" + coturn.secret
    else:
        # Nothing listens there: the relay is down.
        down = loopback_address()
        urls = [u.replace(coturn.address, down) for u in coturn.urls()]
        secret = coturn.secret
    console, link = await invite(browser, aiohttp_client, tmp_path, artifacts, urls, secret)
    async with phone(playwright_driver, chromium, tmp_path, coturn, UDP_FORBIDDEN) as context:
        patient, _ = await camera_on_phone(context, link)
        await expect(patient.locator("#status")).to_have_text(
            "La vidéo ne passe pas sur ce réseau. Essayez en Wi‑Fi ou en données mobiles\u00a0; "
            "en attendant, vous pouvez envoyer des photos au régulateur.",
            timeout=60_000,
        )
        await patient.screenshot(path=artifacts / f"no-path-{case}-patient.png")
        room = console.page.locator("#stage .room")
        outcome = room.locator("[data-field=outcome]")
        wanted = f"Aucun chemin réseau\u00a0: {text}"
        # Said once, in the outcome, with its next step; the path panel names working paths only.
        await expect(outcome.locator("[data-field=outcome-title]")).to_have_text(wanted)
        await expect(outcome.locator("[data-step=photo]")).to_be_visible()
        await expect(room.locator("[data-field=path]")).to_be_hidden()
        await expect(room.locator("[data-field=video-title]")).to_have_text(wanted)
        await expect(console.page.locator("#room-side .timeline")).to_contain_text(wanted)
        await console.shot(f"no-path-{case}")
        events = await path_events(console)
        assert [(e["type"], e["details"]["reason"]) for e in events] == [("video.no_path", reason)]
        assert await room.locator("[data-field=video]").get_attribute("data-playing") != "true"
        # The next step works without a video path: the phone's photo goes over HTTPS.
        await outcome.locator("[data-step=photo]").click()
        await expect(patient.locator("#document-notice")).to_have_text(
            "Le régulateur a pris une photo avec votre caméra."
        )
        documents = room.locator("[data-field=documents]")
        await expect(documents.locator(".document[data-direction=from_patient]")).to_have_count(1)
