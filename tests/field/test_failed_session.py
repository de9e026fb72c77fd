"""A session that fails leaves nothing behind: the next one, in the same service, succeeds.

A session is bounded as a whole (:func:`tests.field.scenario.session_seconds`): past its
deadline it fails, says at which step, and its cleanup runs before it returns (the phone's
browser, the call, both sipps), so that nothing of it runs on into the next session.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page

from .scenario import Scene, SessionTimeout

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(300)]

DEADLINE = 45.0
"""The failing session's deadline: well past the video's establishment on ``4g``."""


async def test_given_a_session_past_its_deadline_then_the_next_session_shows_the_video(
    field_scene: Scene,
) -> None:
    reached: list[str] = []

    async def never_ends(console: Page, patient: Page) -> None:
        # The video is up; this step waits for what never comes, as a session that hangs does.
        reached.append(patient.url)
        await asyncio.Event().wait()

    with pytest.raises(SessionTimeout, match="at the session's next steps"):
        await field_scene.video_from_call("4g", then=never_ends, deadline=DEADLINE)
    assert reached, "the failing session never reached its video"
    # Its call is gone with it, and no step of it is still running.
    channels = await field_scene.sandbox.cli("core show channels concise")
    assert not channels.strip(), channels
    assert field_scene.step == "the cleanup"

    outcome = await field_scene.video_from_call("4g")
    assert outcome.established, outcome
    assert outcome.path == "direct", outcome
    assert not field_scene.problems, field_scene.problems
