"""Third parties over HTTP and the link's socket: invited with or without the patient's video,
publishing their own camera beside the patient's, what their socket may and may not send, and
their leaving."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiortc import RTCPeerConnection, RTCSessionDescription

from tests.media.peers import wait_until
from visioregul.integration import appkeys

from .conftest import public_origin
from .helpers import LINK, event_types, events_of, wait_detail
from .patient import Client, gather_loopback, invite, open_page, publish, receive
from .test_console_video import Viewer, next_of

pytestmark = [pytest.mark.timeout(90)]

THIRD_NUMBER = "06 55 44 33 22"


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Gather 127.0.0.1 only."""
    gather_loopback(monkeypatch)


async def invite_third_party(
    client: Client, session_id: str, csrf: str, *, sees_patient: bool, number: str = THIRD_NUMBER
) -> tuple[dict[str, Any], str]:
    """Invite a third party by SMS; the invitation and its link's token."""
    response = await client.post(
        f"/console/api/sessions/{session_id}/invitations",
        json={"destination": number, "role": "third_party", "sees_patient": sees_patient},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 201, await response.text()
    invitation: dict[str, Any] = await response.json()
    for _ in range(200):
        messages = (await (await client.get("/console/api/outbox")).json())["messages"]
        mine = [m for m in messages if m["to"] == invitation["destination"]]
        if mine:
            link = LINK.search(mine[-1]["text"])
            assert link is not None
            return invitation, link.group(1)
        await asyncio.sleep(0.05)
    raise AssertionError("the third party's SMS was not sent")


async def refused(ws: ClientWebSocketResponse, message: dict[str, Any]) -> str:
    """Send ``message``; the error id the socket answers with."""
    await ws.send_json(message)
    reply = await receive(ws)
    assert reply["type"] == "error", reply
    return str(reply["error_id"])


async def test_given_a_third_party_invited_with_the_patients_video_then_sent_and_retried(
    client: Client,
) -> None:
    session_id, _, csrf = await invite(client)

    invitation, token = await invite_third_party(client, session_id, csrf, sees_patient=True)

    assert invitation["role"] == "third_party" and invitation["sees_patient"] is True
    page = await client.get(f"/p/{token}")
    assert page.status == 200
    text = await page.text()
    assert 'data-role="third_party"' in text and "Quitter" in text
    retry = await client.post(
        f"/console/api/sessions/{session_id}/invitations/{invitation['id']}/retry",
        headers={"X-CSRF-Token": csrf},
    )
    assert retry.status == 202
    body = await wait_detail(
        client, session_id, lambda b: "invitation.created" in event_types(b), "invitation"
    )
    created = [
        e for e in events_of(body, "invitation.created") if e["details"]["role"] != "patient"
    ]
    assert created[0]["details"]["sees_patient"] is True


async def test_given_a_third_party_publishing_then_the_console_gets_both_cameras_until_it_leaves(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, token, csrf = await invite(client)
    invitation, third_token = await invite_third_party(client, session_id, csrf, sees_patient=False)
    third_id = f"third_party:{invitation['id']}"
    patient = await open_page(client, token)
    peers.append(await publish(patient))
    third = await open_page(client, third_token, role="third_party")
    peers.append(await publish(third))
    viewers: dict[str, Viewer] = {}
    try:
        async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
            await console.send_json({"type": "watch", "session_id": session_id})
            for _ in range(2):
                offer = await next_of(console, "video.offer")
                viewers[offer["publisher_id"]] = viewer = Viewer()
                await viewer.answer(console, offer)
            assert set(viewers) == {"patient", third_id}
            await wait_until(
                lambda: all(v.frames >= 10 for v in viewers.values()), what="both cameras"
            )

            # The third party leaves by themselves: its picture goes, the patient's stays.
            await third.send_json({"type": "end"})
            left = await next_of(console, "video.left")
            assert (left["publisher_id"], left["reason"]) == (third_id, "publisher_left")
            before = viewers["patient"].frames
            await wait_until(lambda: viewers["patient"].frames >= before + 10, what="patient")
            body = await wait_detail(
                client, session_id, lambda b: "third_party.left" in event_types(b), "left"
            )
            assert events_of(body, "third_party.left")[0]["details"] == {
                "invitation_id": invitation["id"]
            }
            assert "third_party.video_live" in event_types(body)
            # The session follows the patient: a third party's camera does not move its state.
            assert body["state"] == "video_live"

            # The regulator ends the visio: both pages are told.
            response = await client.post(
                f"/console/api/sessions/{session_id}/end", json={}, headers={"X-CSRF-Token": csrf}
            )
            assert response.status == 200
            assert (await next_of(patient, "ended"))["type"] == "ended"
            assert (await next_of(third, "ended"))["type"] == "ended"
    finally:
        for viewer in viewers.values():
            await viewer.close()
        await patient.close()
        await third.close()


async def test_given_a_third_party_socket_then_it_may_not_command_write_or_watch_unallowed(
    client: Client,
) -> None:
    session_id, token, csrf = await invite(client)
    _, third_token = await invite_third_party(client, session_id, csrf, sees_patient=False)
    third = await open_page(client, third_token, role="third_party")
    patient = await open_page(client, token)
    try:
        assert await refused(third, {"type": "watch"}) == "forbidden"
        assert await refused(third, {"type": "text", "text": "bonjour"}) == "forbidden"
        state = {"cameras": 2, "facing_mode": "environment", "torch": False}
        assert await refused(third, {"type": "camera.state", "state": state}) == "forbidden"
        result = {"type": "command.result", "id": "c1", "ok": True}
        assert await refused(third, result) == "forbidden"
        answer = {"type": "video.answer", "viewer_id": "x", "sdp": "v=0"}
        assert await refused(third, answer) == "unknown_subscriber"
        # The patient watches nobody.
        assert await refused(patient, {"type": "watch"}) == "forbidden"
        assert await refused(patient, answer) == "forbidden"
        room = client.app[appkeys.ROOMS].find(session_id)
        assert room is None or room.subscriber_ids == []
    finally:
        await third.close()
        await patient.close()


async def test_given_a_third_party_allowed_to_see_then_it_receives_the_patients_video(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, token, csrf = await invite(client)
    invitation, third_token = await invite_third_party(client, session_id, csrf, sees_patient=True)
    patient = await open_page(client, token)
    peers.append(await publish(patient))
    third = await open_page(client, third_token, role="third_party", sees_patient=True)
    viewer = Viewer()
    try:
        await third.send_json({"type": "watch"})
        offer = await next_of(third, "video.offer")
        assert offer["viewer_id"].startswith(f"third_party:{invitation['id']}:")
        await viewer.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await viewer.pc.setLocalDescription(await viewer.pc.createAnswer())
        await third.send_json(
            {
                "type": "video.answer",
                "viewer_id": offer["viewer_id"],
                "sdp": viewer.pc.localDescription.sdp,
            }
        )
        await wait_until(lambda: viewer.frames >= 10, what="the patient's video on the page")
        body = await wait_detail(
            client, session_id, lambda b: "video.viewer_joined" in event_types(b), "viewer"
        )
        joined = events_of(body, "video.viewer_joined")[0]["details"]
        assert (joined["viewer"], joined["invitation_id"]) == ("third_party", invitation["id"])
    finally:
        await viewer.close()
        await third.close()
        await patient.close()


def test_given_the_patient_socket_table_then_every_message_says_which_link_roles_may_send_it() -> (
    None
):
    from visioregul.integration.authorization import LINK_ROLES, PATIENT_SOCKET

    assert set(LINK_ROLES) == set(PATIENT_SOCKET)
    # Only the patient's page answers commands, reports its camera or writes; only a third party
    # watches.
    for patient_only in ("command.result", "camera.state", "text"):
        assert LINK_ROLES[patient_only] == {"patient"}
    for watching in ("watch", "video.answer"):
        assert LINK_ROLES[watching] == {"third_party"}


async def test_given_a_console_asking_for_one_camera_again_then_only_that_one_is_offered(
    client: Client, peers: list[RTCPeerConnection]
) -> None:
    session_id, _, csrf = await invite(client)
    invitation, third_token = await invite_third_party(client, session_id, csrf, sees_patient=False)
    third_id = f"third_party:{invitation['id']}"
    third = await open_page(client, third_token, role="third_party")
    peers.append(await publish(third))
    room = client.app[appkeys.ROOMS].room(session_id)
    await wait_until(lambda: room.publisher_ids == [third_id], what="the third party publishing")
    try:
        async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
            await console.send_json({"type": "watch", "session_id": session_id})
            offers = {(await next_of(console, "video.offer"))["publisher_id"] for _ in range(2)}
            assert offers == {"patient", third_id}
            before = set(room.subscriber_ids)

            # Only the third party's camera again: one new subscription replaces its old one.
            await console.send_json(
                {"type": "watch", "session_id": session_id, "publisher_id": third_id}
            )
            again = await next_of(console, "video.offer")
            assert again["publisher_id"] == third_id
            await wait_until(lambda: len(room.subscriber_ids) == 2, what="two subscriptions")
            assert len(set(room.subscriber_ids) & before) == 1
            # A camera id that is not one is refused before anything is done.
            await console.send_json(
                {"type": "watch", "session_id": session_id, "publisher_id": "../patient"}
            )
            assert (await next_of(console, "error"))["error_id"] == "invalid_message"
    finally:
        await third.close()
