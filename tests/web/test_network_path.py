"""The patient page's reports of its video's network path over the link's socket: each change in
the timeline once (``video.path``, ``video.no_path``), a third party's under its own participant,
and reports that contradict themselves refused."""

from __future__ import annotations

import pytest

from .helpers import event_types, events_of, wait_detail
from .patient import Client, invite, open_page, receive
from .test_third_party import invite_third_party

pytestmark = [pytest.mark.timeout(60)]

DIRECT = {"type": "path", "path": "direct", "rtt_ms": 3, "local_type": "host"}
TLS = {
    "type": "path",
    "path": "turn-tls",
    "rtt_ms": 41,
    "local_type": "relay",
    "relay_protocol": "tls",
    "remote_type": "prflx",
}


async def test_given_path_reports_then_each_change_is_recorded_once(client: Client) -> None:
    session_id, token, _ = await invite(client)
    ws = await open_page(client, token)
    # The same path again (a later sample, another round trip) records nothing.
    # The service's own relay, reached from the phone's host candidate over UDP.
    service_relay = {**DIRECT, "path": "turn-udp", "relay_protocol": "udp", "remote_type": "relay"}
    for message in (DIRECT, {**DIRECT, "rtt_ms": 9}, TLS, TLS, service_relay):
        await ws.send_json(message)
    await ws.send_json({"type": "no_path", "reason": "turn_refused"})
    await ws.send_json({"type": "no_path", "reason": "turn_refused"})
    await ws.send_json({"type": "no_path", "reason": "turn_unreachable"})
    body = await wait_detail(
        client,
        session_id,
        lambda b: event_types(b).count("video.no_path") == 2,
        "two no_path events",
    )
    kinds = [k for k in event_types(body) if k in ("video.path", "video.no_path")]
    assert kinds == ["video.path"] * 3 + ["video.no_path"] * 2
    paths = events_of(body, "video.path")
    assert paths[0]["details"] == {
        "path": "direct",
        "rtt_ms": 3,
        "local_type": "host",
        "remote_type": None,
        "service_remote_type": None,  # no video published: nothing nominated
        "participant_id": "patient",
    }
    assert paths[1]["details"]["path"] == "turn-tls" and paths[1]["actor"] == "patient"
    assert paths[2]["details"]["path"] == "turn-udp"
    reasons = [e["details"]["reason"] for e in events_of(body, "video.no_path")]
    assert reasons == ["turn_refused", "turn_unreachable"]
    await ws.close()


async def test_given_reports_that_contradict_themselves_then_refused(client: Client) -> None:
    _, token, _ = await invite(client)
    ws = await open_page(client, token)
    for message in (
        {**DIRECT, "local_type": "relay"},  # a relay candidate is not a direct path
        {**TLS, "relay_protocol": "udp"},
        {**TLS, "relay_protocol": None},
        {**DIRECT, "relay_protocol": "udp"},
        {**DIRECT, "remote_type": "relay"},  # the service's relay is not a direct path
        {**DIRECT, "rtt_ms": -1},
        {**DIRECT, "path": "carrier-pigeon"},
        {"type": "no_path", "reason": "gremlins"},
        {"type": "no_path"},
    ):
        await ws.send_json(message)
        assert (await receive(ws))["error_id"] == "invalid_message", message
    await ws.close()


async def test_given_a_third_party_then_its_path_is_its_own(client: Client) -> None:
    session_id, _, csrf = await invite(client)
    invitation, token = await invite_third_party(client, session_id, csrf, sees_patient=False)
    third = await open_page(client, token, role="third_party")
    await third.send_json({"type": "no_path", "reason": "no_candidates"})
    body = await wait_detail(
        client, session_id, lambda b: "video.no_path" in event_types(b), "no_path"
    )
    event = events_of(body, "video.no_path")[0]
    assert event["details"] == {
        "reason": "no_candidates",
        "participant_id": f"third_party:{invitation['id']}",
    }
    assert event["actor"] == "third_party"
    await third.close()
