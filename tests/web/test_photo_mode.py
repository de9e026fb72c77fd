"""Photo mode on the patient page's socket: the service tells the page when its first frame
arrived (``video_live``), the patient's page says when it sends photos instead of video and when
video goes again, each recorded in the session's log; a third party's page may not."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection

from .helpers import events_of, has_event, wait_detail
from .patient import Client, gather_loopback, invite, open_page, publish, receive
from .test_third_party import invite_third_party, refused

pytestmark = [pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only (aioice skips loopback when gathering; tests run offline)."""
    gather_loopback(monkeypatch)


async def test_given_the_first_frame_reaches_the_service_then_the_page_is_told_video_live(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    _session_id, token, _csrf = await invite(client)
    ws = await open_page(client, token)
    await ws.send_json({"type": "camera", "state": "allowed", "detail": ""})

    peers.append(await publish(ws))

    assert await receive(ws, timeout=15) == {"type": "video_live"}
    await ws.close()


async def test_given_photo_mode_then_ended_then_both_are_in_the_timeline(client: Client) -> None:
    session_id, token, _csrf = await invite(client)
    ws = await open_page(client, token)

    await ws.send_json({"type": "photo_mode", "reason": "no_frames"})
    body = await wait_detail(
        client, session_id, has_event("video.photo_mode"), "video.photo_mode", timeout=10
    )
    (event,) = events_of(body, "video.photo_mode")
    assert event["actor"] == "patient"
    assert event["details"] == {"reason": "no_frames"}

    await ws.send_json({"type": "photo_mode_ended"})
    body = await wait_detail(
        client,
        session_id,
        has_event("video.photo_mode_ended"),
        "video.photo_mode_ended",
        timeout=10,
    )
    assert events_of(body, "video.photo_mode_ended")[0]["details"] == {}
    await ws.close()


async def test_given_a_bad_photo_mode_message_or_a_third_party_then_refused(
    client: Client,
) -> None:
    session_id, token, csrf = await invite(client)
    _, third_token = await invite_third_party(client, session_id, csrf, sees_patient=False)
    third = await open_page(client, third_token, role="third_party")
    patient = await open_page(client, token)
    try:
        assert await refused(patient, {"type": "photo_mode", "reason": "bored"}) == (
            "invalid_message"
        )
        assert await refused(patient, {"type": "photo_mode"}) == "invalid_message"
        assert await refused(third, {"type": "photo_mode", "reason": "weak_link"}) == "forbidden"
        assert await refused(third, {"type": "photo_mode_ended"}) == "forbidden"
    finally:
        await third.close()
        await patient.close()
