"""The patient page's reports of its own conditions over its socket: a browser that cannot open
the camera (an in-app view), a new video connection; recorded in the session's log, the patient's
only, malformed ones refused."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from .helpers import events_of, has_event, wait_detail
from .patient import invite, open_page, receive
from .test_third_party import invite_third_party, refused

Client = TestClient[web.Request, web.Application]

pytestmark = [pytest.mark.timeout(60)]


async def test_given_an_in_app_view_then_recorded_once_with_its_app(client: Client) -> None:
    session_id, token, _ = await invite(client)
    ws = await open_page(client, token)
    report = {"type": "browser_unsupported", "reason": "in_app_view", "app": "Facebook"}
    await ws.send_json(report)
    await ws.send_json(report)  # the same page again: one line in the timeline
    await ws.send_json({"type": "browser_unsupported", "reason": "no_camera_api", "app": None})
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}  # nothing answered to the reports
    body = await wait_detail(
        client,
        session_id,
        lambda b: len(events_of(b, "patient.browser_unsupported")) == 2,
        "both reports recorded",
    )
    events = events_of(body, "patient.browser_unsupported")
    assert [event["details"] for event in events] == [
        {"reason": "in_app_view", "app": "Facebook"},
        {"reason": "no_camera_api", "app": None},
    ]
    assert {event["actor"] for event in events} == {"patient"}
    await ws.close()


async def test_given_reconnections_then_each_reason_is_in_the_log(client: Client) -> None:
    session_id, token, _ = await invite(client)
    ws = await open_page(client, token)
    for reason in ("network_change", "ice_disconnected", "ice_failed"):
        await ws.send_json({"type": "reconnecting", "reason": reason})
    body = await wait_detail(
        client,
        session_id,
        lambda b: len(events_of(b, "video.reconnecting")) == 3,
        "three reconnections",
    )
    reasons = [event["details"]["reason"] for event in events_of(body, "video.reconnecting")]
    assert reasons == ["network_change", "ice_disconnected", "ice_failed"]
    await ws.close()


@pytest.mark.parametrize(
    "message",
    [
        {"type": "browser_unsupported", "reason": "old_phone", "app": None},
        {"type": "browser_unsupported", "reason": "in_app_view", "app": "<script>"},
        {"type": "browser_unsupported", "reason": "in_app_view", "app": "x" * 33},
        {"type": "browser_unsupported", "reason": "in_app_view", "app": "FB", "extra": 1},
        {"type": "reconnecting", "reason": "because"},
        {"type": "reconnecting"},
    ],
)
async def test_given_a_malformed_report_then_refused_and_nothing_recorded(
    client: Client, message: dict[str, Any]
) -> None:
    session_id, token, _ = await invite(client)
    ws = await open_page(client, token)
    assert await refused(ws, message) == "invalid_message"
    # A valid report after it is recorded: the socket goes on, the bad one left nothing.
    await ws.send_json({"type": "reconnecting", "reason": "ice_failed"})
    body = await wait_detail(client, session_id, has_event("video.reconnecting"), "the good one")
    assert events_of(body, "patient.browser_unsupported") == []
    assert len(events_of(body, "video.reconnecting")) == 1
    await ws.close()


async def test_given_a_third_party_page_then_its_reports_are_refused(client: Client) -> None:
    session_id, token, csrf = await invite(client)
    _, third_token = await invite_third_party(client, session_id, csrf, sees_patient=False)
    third = await open_page(client, third_token, role="third_party")
    report = {"type": "browser_unsupported", "reason": "in_app_view", "app": "Instagram"}
    assert await refused(third, report) == "forbidden"
    assert await refused(third, {"type": "reconnecting", "reason": "ice_failed"}) == "forbidden"
    await third.close()
    patient = await open_page(client, token)
    await patient.send_json({"type": "reconnecting", "reason": "network_change"})
    body = await wait_detail(client, session_id, has_event("video.reconnecting"), "the patient's")
    assert events_of(body, "patient.browser_unsupported") == []
    assert len(events_of(body, "video.reconnecting")) == 1
    await patient.close()
