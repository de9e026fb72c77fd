"""A session that fails leaves nothing behind: the next one, in the same service, succeeds.

A session is bounded as a whole (:func:`tests.field.scenario.session_seconds`): past its
deadline it fails, says at which step, and its cleanup runs before it returns (the phone's
browser, the call, both sipps), so that nothing of it runs on into the next session.

The lab's coturn lives for the whole run, and logs every request: its log goes to a file, never
to a pipe that a fixture's task reads on the run's event loop, which does not run while a test
runs on its own loop (the pipe filled up after some sessions' worth of log, coturn blocked on its
next line, and every following session waited for a relay candidate that never came).
"""

from __future__ import annotations

import asyncio
import os
import socket

import aioice.stun
import aioice.turn
import pytest
from playwright.async_api import Page

from tests.turn_server import TurnServer

from .lab import Lab
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


PIPE_BYTES = 64 * 1024
"""What a pipe holds on Linux before its writer blocks."""


def allocate_without_credentials(phone: socket.socket, turn: TurnServer) -> aioice.stun.Message:
    """One TURN Allocate from the phone with no credentials: coturn logs it and answers 401."""
    request = aioice.stun.Message(
        message_method=aioice.stun.Method.ALLOCATE,
        message_class=aioice.stun.Class.REQUEST,
        attributes={"REQUESTED-TRANSPORT": aioice.turn.UDP_TRANSPORT},
    )
    phone.sendto(bytes(request), (turn.address, turn.port))
    while True:
        data, _ = phone.recvfrom(4096)
        answer = aioice.stun.parse_message(data)
        if answer.transaction_id == request.transaction_id:
            return answer


def log_past_a_pipe(phone: socket.socket, turn: TurnServer) -> int:
    """Allocates without credentials until coturn's log has grown by four pipes' worth, each
    answer awaited (a coturn blocked on its log answers nothing); how many were answered."""
    assert turn.log_path is not None
    wanted = os.path.getsize(turn.log_path) + 4 * PIPE_BYTES
    phone.settimeout(5.0)
    answered = 0
    while os.path.getsize(turn.log_path) < wanted:
        answer = allocate_without_credentials(phone, turn)
        assert answer.message_class == aioice.stun.Class.ERROR, answer
        answered += 1
    return answered


async def test_given_coturn_logged_more_than_a_pipe_holds_then_a_session_through_turn_succeeds(
    field_scene: Scene, field_turn: TurnServer, lab: Lab
) -> None:
    """Far more log than a pipe holds, written while a test runs: coturn still answers at once,
    and the next session's video goes through it (``udp-blocked``: TURN over TLS only)."""
    phone = lab.phone_socket(socket.SOCK_DGRAM)
    try:
        answered = await asyncio.to_thread(log_past_a_pipe, phone, field_turn)
    finally:
        phone.close()
    assert answered > 0

    outcome = await field_scene.video_from_call("udp-blocked")
    assert outcome.established, outcome
    assert outcome.path == "turn-tls", outcome
    assert not field_scene.problems, field_scene.problems
