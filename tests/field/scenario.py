"""Scenarios through the lab: a real sandbox 15 call, the regulator's invitation, the patient's
Chromium in the phone's namespace, the video on the console in the service's namespace.

:class:`Scene` holds what scenarios share (the lab, the service, the console's browser); one
:meth:`Scene.video_from_call` per session, on any profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, Playwright, expect

from tests.browser.conftest import CHROMIUM, launch
from tests.browser.pages import COUNT_FRAMES, FIRST_FRAME_AT, feed, watch
from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from tests.turn_server import TurnServer

from .lab import PHONE_NS, SERVICE_NS, Lab
from .profiles import Profile
from .service import PASSWORD, USERNAME, FieldService
from .watch import RECORD_PEER_CONNECTIONS, Quality, watch_video

CALLER = "+33612345678"
CALLER_SHOWN = "06 12 34 56 78"
POSITION = "1001"
FRAMES = 10
"""Frames the console must present for the video to count as established."""

OUTBOX_COUNT = "() => fetch('/console/api/outbox').then((r) => r.json())"

THEN_SECONDS = 60.0
"""What a session's ``then`` (a handover, a cut) may take on top of the session itself."""
CLEANUP_SECONDS = 30.0
"""A session's cleanup at most: the phone's browser, the call's hangup, both sipps."""


def session_seconds(timeout: float, watch_seconds: float = 0.0, *, then: bool = False) -> float:
    """The longest a session may last, each of its waits bounded by ``timeout``: the page, the
    camera, the first frame, the frames that establish the video, the path's report, the watch
    (and ``then``). Past it the session fails as a whole, its cleanup done: nothing of it
    outlives it (a phone, a call, a task that would hang up the next session's call)."""
    return 4 * timeout + watch_seconds + (THEN_SECONDS if then else 0.0)


def run_seconds(
    sessions: int, timeout: float, watch_seconds: float, *, then: bool = False
) -> float:
    """What ``sessions`` sessions and their cleanups may take at most: a test's own timeout
    must be longer, or the test runner stops it half-way and leaves its session running."""
    return sessions * (session_seconds(timeout, watch_seconds, then=then) + CLEANUP_SECONDS)


def chromium_in(namespace: str, origin: str, folder: Path) -> str:
    """A Chromium launcher running in ``namespace`` that treats ``origin`` (plain http on a
    non-loopback address) as secure, so that the camera works there: Playwright's
    ``executable_path``."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / f"chromium-{namespace}"
    secure = f"--unsafely-treat-insecure-origin-as-secure={origin}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} {secure} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


SESSION = "(id) => fetch(`/console/api/sessions/${id}`).then((r) => r.json())"
"""The session (its timeline) from the console's API, in the console's page."""


async def session_events(console: Page, kind: str) -> list[dict[str, Any]]:
    """The events of kind ``kind`` in the log of the session the console's room shows."""
    session_id = console.url.rsplit("/", 1)[-1]
    body = await console.evaluate(SESSION, session_id)
    return [event for event in body.get("timeline", []) if event["type"] == kind]


async def wait_for_events(
    console: Page, kind: str, count: int, timeout: float
) -> list[dict[str, Any]]:
    """Until the room's session has ``count`` events of kind ``kind``; they are returned."""
    deadline = time.monotonic() + timeout
    while True:
        events = await session_events(console, kind)
        if len(events) >= count:
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(events)} {kind} event(s) after {timeout} s, not {count}")
        await asyncio.sleep(0.2)


PHOTO_SHOWN = """() => new Promise((resolve) => {
  const check = () => {
    const image = document.querySelector('#stage .room .room-photo-mode-image');
    if (image && image.complete && image.naturalWidth > 0) { resolve(image.naturalWidth); }
    else { setTimeout(check, 200); }
  };
  check();
})"""
"""Resolves once the room shows a photo of the phone's in the video's place (photo mode)."""


async def photo_shown(console: Page) -> int:
    """Until the room shows the phone's photo in photo mode; its width in pixels."""
    return int(await console.evaluate(PHOTO_SHOWN))


@dataclass
class Outcome:
    """One session: whether the console showed the patient's video, and how fast."""

    profile: str
    established: bool
    link_to_first_frame_ms: float | None = None
    """From the patient's page starting (the link opened) to the console's first frame."""
    uplink_bytes: int = 0
    """What crossed the shaped link from the phone during the session (the page, the video)."""
    path: str | None = None
    """The path the page reported for its video (``direct``, ``turn-udp``, ``turn-tcp``,
    ``turn-tls``), once the console showed it."""
    quality: Quality | None = None
    """The console's picture while watched (``watch_seconds`` after the first frames)."""
    photos: bool = False
    """No video, but the phone's photo reached the room (photo mode)."""
    error: str = ""


class SessionTimeout(TimeoutError):
    """A session went past its deadline (:func:`session_seconds`); says at which step."""


@dataclass
class _Session:
    """What one session holds while it runs."""

    profile: Profile
    sent_before: int
    """The link's uplink counter when the session started."""
    phone_browser: BrowserContext | None = None


@dataclass
class Scene:
    """The lab, the service in it, the sandbox Asterisk, and a console's browser."""

    lab: Lab
    service: FieldService
    sandbox: SandboxAsterisk
    playwright: Playwright
    workdir: Path
    artifacts: Path
    turn: TurnServer | None = None
    """The lab's coturn: the phone's Chromium trusts its test authority (``turns:``)."""
    camera_clip: Path | None = None
    """A ``.y4m`` clip the phone's camera films instead of Chromium's flat pattern (the
    benchmark's high-detail clip, so that bitrates mean something)."""
    console_browser: BrowserContext | None = None
    runs: int = 0
    problems: list[str] = field(default_factory=list)
    step: str = ""
    """What the current (or last) session is at: a timeout names it."""

    async def console(self) -> Page:
        """A console page in the service's namespace, logged in at the regulator's position."""
        if self.console_browser is None:
            executable = chromium_in(SERVICE_NS, self.service.base_url, self.workdir)
            self.console_browser = await launch(
                self.playwright, executable, self.workdir / "console-profile"
            )
        base = self.service.base_url
        page = await self.console_browser.new_page()
        watch(page, self.problems)
        await page.add_init_script(RECORD_PEER_CONNECTIONS)
        await page.goto(f"{base}/console/login")
        await page.fill("#username", USERNAME)
        await page.fill("#password", PASSWORD)
        await page.click("#login-form [type=submit]")
        await page.wait_for_url(f"{base}/console")
        dialog = page.locator("#position-dialog")
        await expect(dialog).to_be_visible()
        await page.select_option("#position-input", f"PJSIP/{POSITION}")
        await page.click("#position-submit")
        await expect(dialog).to_be_hidden()
        await expect(page.locator("#telephony-pill")).to_contain_text("connectée")
        return page

    async def video_from_call(
        self,
        profile: Profile | str,
        *,
        timeout: float = 30.0,
        shots: bool = False,
        watch_seconds: float = 0.0,
        photos: bool = False,
        then: Callable[[Page, Page], Awaitable[None]] | None = None,
        deadline: float | None = None,
    ) -> Outcome:
        """On ``profile``: a 15 call reaches the console, the regulator invites the caller, the
        patient opens the link on the phone and allows the camera; established once the
        console presents :data:`FRAMES` frames. ``then(console, patient)`` runs next, the call
        and both pages still up (e.g. ``lab.handover()`` and waiting for the video to come
        back). ``watch_seconds`` of the console's picture are measured once established.
        ``photos``: a photo of the phone's shown in the room (the page's photo mode, when video
        cannot pass) ends the session too, with ``photos`` set. The whole session has
        :func:`session_seconds` (or ``deadline``, if shorter): past it, it fails with
        :class:`SessionTimeout`. Whatever happens, the phone's browser, the call and both sipps
        are gone when this returns. Raises what went wrong."""
        shaped = self.lab.use(profile)
        self.runs += 1
        seconds = session_seconds(timeout, watch_seconds, then=then is not None)
        if deadline is not None:
            seconds = min(seconds, deadline)
        self.step = "the console"
        session = _Session(shaped, self.lab.stats()["up"]["delivered_bytes"])
        page = await self.console()
        # The phone and the caller live as long as the session may: never less (a long EDGE
        # session would lose its call half-way), and they end with it.
        phone = await start_phone(self.sandbox, POSITION, timeout_s=seconds + CLEANUP_SECONDS)
        call = await place_call(
            self.sandbox, CALLER, "15" + POSITION, duration_ms=int(seconds * 1000)
        )
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await self._run(page, session, timeout, shots, watch_seconds, photos, then)
        except TimeoutError as exc:
            if scope.expired():
                raise SessionTimeout(
                    f"{shaped.name}: past the session's {seconds:.0f} s, at {self.step}"
                ) from exc
            # One wait of the session ran out (its own bound): said with its step.
            raise TimeoutError(f"{shaped.name}: a wait ran out, at {self.step}") from exc
        finally:
            self.step = "the cleanup"
            if session.phone_browser is not None:
                await session.phone_browser.close()
            # Until no channel is left: the next session starts with an idle position.
            await self.sandbox.hang_up_everything()
            for sipp in (call, phone):
                with contextlib.suppress(TimeoutError):
                    await sipp.wait(10)
                await sipp.stop()
            await page.close()

    async def _run(
        self,
        page: Page,
        session: _Session,
        timeout: float,
        shots: bool,
        watch_seconds: float,
        photos: bool,
        then: Callable[[Page, Page], Awaitable[None]] | None,
    ) -> Outcome:
        """The session's steps, from the call on the console (see :meth:`video_from_call`)."""
        shaped = session.profile
        self.step = "the call on the console"
        card = page.locator("#stage .call-card")
        await expect(card.locator("[data-field=number]")).to_have_text(CALLER_SHOWN, timeout=10_000)
        self.step = "the invitation"
        sent_before = await self._newest_message(page)
        await card.get_by_role("button", name="Lancer l'invitation").click()
        await expect(page).to_have_url(re.compile(r"#/session/[0-9a-f]{32}$"))
        link = await self._new_link(page, sent_before)
        first_frame = asyncio.create_task(feed(page).evaluate(FIRST_FRAME_AT))
        try:
            self.step = "the phone's browser"
            executable = chromium_in(PHONE_NS, self.service.base_url, self.workdir)
            session.phone_browser = await launch(
                self.playwright,
                executable,
                self.workdir / f"phone-profile-{self.runs}",
                home=await self._phone_home(),
                extra_args=(
                    [f"--use-file-for-fake-video-capture={self.camera_clip}"]
                    if self.camera_clip is not None
                    else []
                ),
            )
            patient = await session.phone_browser.new_page()
            watch(patient, self.problems)
            await patient.set_viewport_size({"width": 390, "height": 844})
            self.step = "the patient's page"
            await patient.goto(link, timeout=timeout * 1000)
            await patient.get_by_role("button", name="Activer la caméra").click(
                timeout=timeout * 1000
            )
            self.step = "the first frame"
            if photos:
                # Video or, where it cannot pass, the phone's photos in the room.
                photo = asyncio.create_task(photo_shown(page))
                done, _ = await asyncio.wait(
                    {first_frame, photo}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if photo in done and first_frame not in done:
                    await photo
                    if shots:
                        await self._shots(page, patient, shaped.name)
                    uplink = self.lab.stats()["up"]["delivered_bytes"] - session.sent_before
                    return Outcome(shaped.name, False, uplink_bytes=uplink, photos=True)
                photo.cancel()
            shown_at = float(await asyncio.wait_for(first_frame, timeout))
            opened_at = float(await patient.evaluate("performance.timeOrigin"))
            self.step = f"{FRAMES} frames"
            await asyncio.wait_for(feed(page).evaluate(COUNT_FRAMES, FRAMES), timeout)
            self.step = "the watch"
            quality = (
                await watch_video(page, self.lab, watch_seconds) if watch_seconds > 0 else None
            )
            if shots:
                await self._shots(page, patient, shaped.name)
            uplink = self.lab.stats()["up"]["delivered_bytes"] - session.sent_before
            self.step = "the path's report"
            path = await self._video_path(page, timeout)
            if then is not None:
                self.step = "the session's next steps"
                await then(page, patient)
            return Outcome(shaped.name, True, shown_at - opened_at, uplink, path, quality)
        finally:
            first_frame.cancel()

    async def _shots(self, console: Page, patient: Page, name: str) -> None:
        """Both screens, in the artifacts."""
        await console.screenshot(path=self.artifacts / f"field-{name}-console.png")
        await patient.screenshot(path=self.artifacts / f"field-{name}-patient.png")

    async def attempt(
        self,
        profile: Profile | str,
        *,
        timeout: float = 30.0,
        watch_seconds: float = 0.0,
        photos: bool = False,
        then: Callable[[Page, Page], Awaitable[None]] | None = None,
    ) -> Outcome:
        """:meth:`video_from_call`, a failure counted instead of raised (the benchmark)."""
        name = profile if isinstance(profile, str) else profile.name
        try:
            return await self.video_from_call(
                profile, timeout=timeout, watch_seconds=watch_seconds, photos=photos, then=then
            )
        except Exception as exc:  # the benchmark counts every failure, whatever it is
            return Outcome(name, False, error=f"{type(exc).__name__}: {exc}"[:300])

    async def _phone_home(self) -> Path | None:
        """A ``HOME`` whose NSS database trusts the lab coturn's authority (made once)."""
        if self.turn is None:
            return None
        home = self.workdir / "phone-home"
        if not (home / ".pki" / "nssdb").exists():
            await asyncio.to_thread(self.turn.authority.trust_in_nss, home)
        return home

    @staticmethod
    async def _video_path(page: Page, timeout: float) -> str | None:
        """The path the patient's page reported for its video, from the session's log."""
        try:
            paths = await wait_for_events(page, "video.path", 1, timeout)
        except AssertionError:
            return None
        return str(paths[-1]["details"]["path"])

    @staticmethod
    async def _newest_message(page: Page) -> object:
        """The id of the outbox's newest message (None when it is empty)."""
        messages = (await page.evaluate(OUTBOX_COUNT))["messages"]
        return messages[0]["id"] if messages else None

    @staticmethod
    async def _new_link(page: Page, newest_before: object, timeout: float = 10.0) -> str:
        """The patient's link in the outbox's newest message, once it is a new one (the outbox
        lists its 50 newest messages: their count stops growing, the newest one changes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = (await page.evaluate(OUTBOX_COUNT))["messages"]
            if messages and messages[0]["id"] != newest_before:
                text = str(messages[0]["text"])
                return text[text.index("http") :].split()[0]
            await asyncio.sleep(0.1)
        raise AssertionError("no new message in the outbox")

    async def close(self) -> None:
        """Close the console's browser."""
        if self.console_browser is not None:
            await self.console_browser.close()
            self.console_browser = None
