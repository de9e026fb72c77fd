"""A session's outcome, read from sequences of log events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from visioregul.integration.sessions.outcome import (
    NextStep,
    OutcomeKind,
    session_outcome,
)

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SMS = "inv-sms"
EMAIL = "inv-mail"


@dataclass
class Event:
    type: str
    details: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = START


def log(*steps: tuple[str, dict[str, Any]] | str) -> list[Event]:
    """Events one second apart; a bare kind has no details."""
    events = []
    for index, step in enumerate(steps):
        kind, details = (step, {}) if isinstance(step, str) else step
        events.append(Event(kind, details, START + timedelta(seconds=index)))
    return events


def invited(invitation: str = SMS, channel: str = "sms") -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "invitation.created",
            {"invitation_id": invitation, "role": "patient", "channel": channel},
        ),
        ("invitation.sent", {"invitation_id": invitation, "channel": channel}),
    ]


def opened(invitation: str = SMS) -> list[tuple[str, dict[str, Any]] | str]:
    return [("link.opened", {"invitation_id": invitation}), "camera.allowed"]


def test_given_no_event_then_waiting() -> None:
    outcome = session_outcome([])
    assert outcome.kind is OutcomeKind.WAITING and not outcome.final
    assert outcome.next_steps == ()


def test_given_a_link_sent_then_waiting_with_its_channel() -> None:
    outcome = session_outcome(log(*invited()))
    assert outcome.kind is OutcomeKind.WAITING
    assert outcome.details == {"channel": "sms"}
    assert outcome.tone == "progress"


@pytest.mark.parametrize("failure", ["invitation.failed", "invitation.undelivered"])
def test_given_an_sms_not_delivered_then_retry_or_email(failure: str) -> None:
    outcome = session_outcome(log(*invited(), (failure, {"invitation_id": SMS})))
    assert outcome.kind is OutcomeKind.NOT_DELIVERED
    assert outcome.next_steps == (NextStep.RETRY, NextStep.EMAIL)
    assert outcome.details == {"channel": "sms"} and outcome.tone == "failed"


def test_given_an_email_not_delivered_then_sms_is_offered() -> None:
    outcome = session_outcome(
        log(*invited(EMAIL, "email"), ("invitation.failed", {"invitation_id": EMAIL}))
    )
    assert outcome.next_steps == (NextStep.RETRY, NextStep.SMS)


def test_given_a_failed_sms_then_a_new_email_sent_then_waiting_again() -> None:
    events = log(
        *invited(),
        ("invitation.failed", {"invitation_id": SMS}),
        *invited(EMAIL, "email"),
    )
    outcome = session_outcome(events)
    assert outcome.kind is OutcomeKind.WAITING and outcome.details == {"channel": "email"}


def test_given_a_third_party_failure_then_the_patient_outcome_is_unchanged() -> None:
    events = log(
        *invited(),
        ("invitation.created", {"invitation_id": "tp", "role": "third_party", "channel": "sms"}),
        ("invitation.failed", {"invitation_id": "tp"}),
    )
    assert session_outcome(events).kind is OutcomeKind.WAITING


def test_given_the_reminder_then_link_not_opened_with_resend_and_email() -> None:
    events = log(*invited(), ("link.not_opened", {"invitation_id": SMS, "minutes": 2}))
    outcome = session_outcome(events)
    assert outcome.kind is OutcomeKind.LINK_NOT_OPENED
    assert outcome.details == {"channel": "sms", "minutes": 2}
    assert outcome.next_steps == (NextStep.RESEND, NextStep.EMAIL)
    assert outcome.at == events[-1].at


def test_given_the_reminder_then_the_link_opened_then_link_opened() -> None:
    events = log(
        *invited(),
        ("link.not_opened", {"invitation_id": SMS, "minutes": 2}),
        ("link.opened", {"invitation_id": SMS}),
    )
    assert session_outcome(events).kind is OutcomeKind.LINK_OPENED


def test_given_the_reminder_then_a_new_link_then_waiting() -> None:
    events = log(
        *invited(),
        ("link.not_opened", {"invitation_id": SMS, "minutes": 2}),
        *invited("inv-2"),
    )
    assert session_outcome(events).kind is OutcomeKind.WAITING


def test_given_an_in_app_view_then_browser_unsupported() -> None:
    events = log(
        *invited(EMAIL, "email"),
        ("link.opened", {"invitation_id": EMAIL}),
        ("patient.browser_unsupported", {"reason": "in_app_view", "app": "Gmail"}),
    )
    outcome = session_outcome(events)
    assert outcome.kind is OutcomeKind.BROWSER_UNSUPPORTED
    assert outcome.details == {"reason": "in_app_view", "app": "Gmail", "channel": "email"}
    assert outcome.next_steps == (NextStep.SMS,)


def test_given_the_camera_refused_then_camera_refused_until_allowed() -> None:
    refused = log(*invited(), ("link.opened", {"invitation_id": SMS}), "camera.denied")
    assert session_outcome(refused).kind is OutcomeKind.CAMERA_REFUSED
    assert session_outcome(refused).next_steps == ()
    allowed = log(
        *invited(), ("link.opened", {"invitation_id": SMS}), "camera.denied", "camera.allowed"
    )
    assert session_outcome(allowed).kind is OutcomeKind.CAMERA_ALLOWED


def test_given_a_camera_that_will_not_start_then_camera_unavailable() -> None:
    events = log(*invited(), *opened()[:1], "camera.unavailable")
    assert session_outcome(events).kind is OutcomeKind.CAMERA_UNAVAILABLE


def test_given_no_network_path_then_no_path_and_photos() -> None:
    events = log(*invited(), *opened(), ("video.no_path", {"reason": "turn_unreachable"}))
    outcome = session_outcome(events)
    assert outcome.kind is OutcomeKind.NO_PATH
    assert outcome.details == {"reason": "turn_unreachable"}
    assert outcome.next_steps == (NextStep.PHOTO,)


def test_given_video_live_with_a_path_then_established_with_it() -> None:
    path = {"path": "turn-tcp", "rtt_ms": 120, "local_type": "relay", "remote_type": "host"}
    events = log(*invited(), *opened(), ("video.path", path), "video.live")
    outcome = session_outcome(events)
    assert outcome.kind is OutcomeKind.VIDEO_ESTABLISHED and not outcome.final
    assert outcome.details == {"path": "turn-tcp", "rtt_ms": 120}
    assert outcome.tone == "good"


def test_given_a_stall_then_frozen_then_resumed_then_established() -> None:
    stalled = log(
        *invited(), *opened(), "video.live", ("video.stalled", {"participant_id": "patient"})
    )
    outcome = session_outcome(stalled)
    assert outcome.kind is OutcomeKind.VIDEO_FROZEN
    assert outcome.next_steps == (NextStep.PHOTO,)
    resumed = log(
        *invited(),
        *opened(),
        "video.live",
        ("video.stalled", {"participant_id": "patient"}),
        ("video.resumed", {"participant_id": "patient", "stalled_ms": 3000}),
    )
    assert session_outcome(resumed).kind is OutcomeKind.VIDEO_ESTABLISHED


def test_given_a_third_party_stall_then_the_patient_video_is_still_established() -> None:
    events = log(
        *invited(), *opened(), "video.live", ("video.stalled", {"participant_id": "third_party:x"})
    )
    assert session_outcome(events).kind is OutcomeKind.VIDEO_ESTABLISHED


@pytest.mark.parametrize(
    "loss",
    [("video.lost", {"reason": "failed"}), ("video.reconnecting", {"reason": "network_change"})],
)
def test_given_the_video_lost_then_video_lost_until_live_again(
    loss: tuple[str, dict[str, Any]],
) -> None:
    lost = log(*invited(), *opened(), "video.live", loss)
    assert session_outcome(lost).kind is OutcomeKind.VIDEO_LOST
    # No button: a new link would revoke the one the reconnecting page holds.
    assert session_outcome(lost).next_steps == ()
    again = log(*invited(), *opened(), "video.live", loss, "video.live")
    assert session_outcome(again).kind is OutcomeKind.VIDEO_ESTABLISHED


def test_given_a_reconnection_while_the_service_held_the_video_then_its_path_says_it_is_back() -> (
    None
):
    """The page rebuilds its connection (a cut, a handover) while the service still held the
    old one: no new ``video.live`` comes; the new connection's path report, or frames again,
    end the interruption."""
    reconnecting = ("video.reconnecting", {"reason": "ice_failed"})
    path = ("video.path", {"path": "direct", "rtt_ms": 40})
    resumed = ("video.resumed", {"participant_id": "patient", "stalled_ms": 30000})
    lost = log(*invited(), *opened(), "video.live", reconnecting)
    assert session_outcome(lost).kind is OutcomeKind.VIDEO_LOST
    for back in (path, resumed):
        again = log(*invited(), *opened(), "video.live", reconnecting, back)
        assert session_outcome(again).kind is OutcomeKind.VIDEO_ESTABLISHED
    # A publisher the service lost comes back only with its frames (``video.live``).
    gone = log(*invited(), *opened(), "video.live", "video.lost", reconnecting, path)
    assert session_outcome(gone).kind is OutcomeKind.VIDEO_LOST
    live = log(*invited(), *opened(), "video.live", "video.lost", reconnecting, path, "video.live")
    assert session_outcome(live).kind is OutcomeKind.VIDEO_ESTABLISHED


def test_given_the_video_lost_then_no_path_then_no_path() -> None:
    events = log(
        *invited(),
        *opened(),
        "video.live",
        "video.lost",
        ("video.no_path", {"reason": "turn_refused"}),
    )
    assert session_outcome(events).kind is OutcomeKind.NO_PATH


def test_given_the_patient_stopped_then_patient_left() -> None:
    events = log(*invited(), *opened(), "video.live", "video.lost", "patient.left")
    outcome = session_outcome(events)
    assert outcome.kind is OutcomeKind.PATIENT_LEFT and outcome.next_steps == (NextStep.RESEND,)


@pytest.mark.parametrize(
    ("reason", "kind"),
    [("weak_link", OutcomeKind.NETWORK_WEAK), ("no_frames", OutcomeKind.PHOTOS_ONLY)],
)
def test_given_photo_mode_then_photos_instead(reason: str, kind: OutcomeKind) -> None:
    events = log(*invited(), *opened(), ("video.photo_mode", {"reason": reason}), "photo.taken")
    outcome = session_outcome(events)
    assert outcome.kind is kind and outcome.details == {"photos": 1}
    assert outcome.next_steps == (NextStep.PHOTO,)
    ended = session_outcome(
        [*events, Event("video.photo_mode_ended", {}, START + timedelta(minutes=1))]
    )
    assert ended.kind is OutcomeKind.CAMERA_ALLOWED


def test_given_video_then_photo_mode_while_live_then_established() -> None:
    events = log(*invited(), *opened(), "video.live", ("video.photo_mode", {"reason": "weak_link"}))
    assert session_outcome(events).kind is OutcomeKind.VIDEO_ESTABLISHED
    lost = log(
        *invited(),
        *opened(),
        "video.live",
        ("video.photo_mode", {"reason": "weak_link"}),
        "video.lost",
    )
    assert session_outcome(lost).kind is OutcomeKind.NETWORK_WEAK


# -- once the session has ended --------------------------------------------------------------


def test_given_an_ended_session_with_video_then_established_with_its_interruptions() -> None:
    events = log(
        *invited(),
        *opened(),
        ("video.path", {"path": "direct", "rtt_ms": 40}),
        "video.live",
        "video.lost",
        "video.live",
        "video.lost",
        "session.ended",
    )
    outcome = session_outcome(events)
    assert outcome.kind is OutcomeKind.VIDEO_ESTABLISHED and outcome.final
    assert outcome.details == {"path": "direct", "rtt_ms": 40, "interruptions": 2}
    assert outcome.next_steps == ()
    assert outcome.at == events[5].at


def test_given_an_ended_session_with_photos_only_then_photos() -> None:
    events = log(
        *invited(),
        *opened(),
        ("video.photo_mode", {"reason": "weak_link"}),
        "photo.taken",
        "photo.taken",
        "session.ended",
    )
    outcome = session_outcome(events)
    assert outcome.kind is OutcomeKind.NETWORK_WEAK and outcome.final
    assert outcome.details == {"photos": 2} and outcome.next_steps == ()


def test_given_a_session_expired_without_the_link_opened_then_link_not_opened() -> None:
    outcome = session_outcome(log(*invited(), "session.expired"))
    assert outcome.kind is OutcomeKind.LINK_NOT_OPENED and outcome.final
    assert outcome.next_steps == ()


@pytest.mark.parametrize(
    ("steps", "kind"),
    [
        ([("invitation.failed", {"invitation_id": SMS})], OutcomeKind.NOT_DELIVERED),
        (["camera.denied"], OutcomeKind.CAMERA_REFUSED),
        (
            [("patient.browser_unsupported", {"reason": "no_camera_api", "app": None})],
            OutcomeKind.BROWSER_UNSUPPORTED,
        ),
        ([("video.no_path", {"reason": "no_candidates"})], OutcomeKind.NO_PATH),
    ],
)
def test_given_an_ended_session_that_failed_then_its_failure(
    steps: list[tuple[str, dict[str, Any]] | str], kind: OutcomeKind
) -> None:
    outcome = session_outcome(log(*invited(), *steps, "session.ended"))
    assert outcome.kind is kind and outcome.final and outcome.next_steps == ()


def test_outcome_json() -> None:
    events = log(*invited(), ("link.not_opened", {"invitation_id": SMS, "minutes": 2}))
    assert session_outcome(events).as_dict() == {
        "kind": "link_not_opened",
        "tone": "warning",
        "final": False,
        "next_steps": ["resend", "email"],
        "details": {"channel": "sms", "minutes": 2},
        "at": events[-1].at.isoformat(),
    }


def test_given_several_blockers_then_the_latest_one() -> None:
    events = log(
        *invited(),
        *opened(),
        ("video.no_path", {"reason": "turn_unreachable"}),
        ("camera.denied", {"detail": "NotAllowedError"}),
    )
    assert session_outcome(events).kind is OutcomeKind.CAMERA_REFUSED
    events = log(
        *invited(),
        ("link.opened", {"invitation_id": SMS}),
        "camera.denied",
        ("patient.browser_unsupported", {"reason": "no_camera_api", "app": None}),
    )
    assert session_outcome(events).kind is OutcomeKind.BROWSER_UNSUPPORTED


def test_given_no_path_then_the_camera_allowed_again_then_a_new_attempt() -> None:
    events = log(
        *invited(), *opened(), ("video.no_path", {"reason": "no_candidates"}), "camera.allowed"
    )
    assert session_outcome(events).kind is OutcomeKind.CAMERA_ALLOWED


def test_given_photo_mode_that_ended_without_photos_then_what_blocked_the_video() -> None:
    events = log(
        *invited(),
        *opened(),
        ("video.photo_mode", {"reason": "no_frames"}),
        "video.photo_mode_ended",
        ("camera.denied", {"detail": "NotAllowedError"}),
        "session.ended",
    )
    assert session_outcome(events).kind is OutcomeKind.CAMERA_REFUSED
    with_photos = [*events[:-1], Event("photo.taken", {}, START), events[-1]]
    assert session_outcome(with_photos).kind is OutcomeKind.PHOTOS_ONLY
