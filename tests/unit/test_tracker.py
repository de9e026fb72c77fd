"""From channel facts to call events: direct calls, queues, Local channels, transfers, resync."""

from __future__ import annotations

from datetime import UTC, datetime

from visioregul.integration.settings import TelephonySettings
from visioregul.integration.telephony.events import (
    CallAnswered,
    CallEvent,
    CallHeld,
    CallParticipants,
    CallReleased,
    CallResumed,
    CallRinging,
    CallTransferred,
)
from visioregul.integration.telephony.facts import (
    ChannelEnteredBridge,
    ChannelHangup,
    ChannelHangupRequested,
    ChannelHold,
    ChannelLeftBridge,
    ChannelSnapshot,
    ChannelTagged,
    FeatureCodePressed,
    Resync,
    normalize_position,
    position_of,
)
from visioregul.integration.telephony.positions import PositionDirectory
from visioregul.integration.telephony.registry import LiveCallRegistry
from visioregul.integration.telephony.service import Telephony
from visioregul.integration.telephony.tracker import CallTracker

AT = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
CALL = "1764410400.1"
CALLER = ChannelSnapshot(
    uniqueid=CALL, linkedid=CALL, name="PJSIP/operator-trunk-00000001", caller_number="+33612345678"
)


def phone(position: str, n: int) -> ChannelSnapshot:
    return ChannelSnapshot(
        uniqueid=f"{CALL}{n}", linkedid=CALL, name=f"PJSIP/{position}-0000000{n}"
    )


def types(events: list[CallEvent]) -> list[str]:
    return [event.type for event in events]


def test_given_a_tagged_call_when_1001_answers_then_ringing_then_answered_at_1001() -> None:
    tracker = CallTracker()
    events = tracker.apply(ChannelTagged(CALLER, "15", AT))
    assert events == [
        CallRinging(CALL, "15", "+33612345678", CALLER.name, CALL, AT),
    ]
    assert tracker.apply(ChannelEnteredBridge(CALLER, "b1", AT)) == []
    events = tracker.apply(ChannelEnteredBridge(phone("1001", 2), "b1", AT))
    assert events == [CallAnswered(CALL, "PJSIP/1001", AT)]


def test_given_an_untagged_call_then_no_events() -> None:
    tracker = CallTracker()
    assert tracker.apply(ChannelEnteredBridge(CALLER, "b1", AT)) == []
    assert tracker.apply(ChannelEnteredBridge(phone("1001", 2), "b1", AT)) == []
    assert tracker.apply(ChannelHangup(CALLER, AT)) == []


def test_given_a_caller_hanging_up_before_answer_then_ended_without_answer() -> None:
    tracker = CallTracker()
    events = tracker.apply(ChannelTagged(CALLER, "15", AT)) + tracker.apply(
        ChannelHangup(CALLER, AT)
    )
    assert types(events) == ["call.ringing", "call.ended"]
    assert tracker.calls == {}


def test_given_a_blind_transfer_then_the_call_moves_to_the_new_position() -> None:
    tracker = CallTracker()
    tracker.apply(ChannelTagged(CALLER, "15", AT))
    tracker.apply(ChannelEnteredBridge(CALLER, "b1", AT))
    tracker.apply(ChannelEnteredBridge(phone("1001", 2), "b1", AT))
    # Asterisk moves the caller out of the first bridge, dials 1003, bridges them anew: while
    # 1003 rings, nobody has the call.
    assert tracker.apply(ChannelLeftBridge(phone("1001", 2), "b1", AT)) == [
        CallReleased(CALL, "PJSIP/1001", False, AT)
    ]
    assert tracker.apply(ChannelHangup(phone("1001", 2), AT)) == []
    assert tracker.apply(ChannelLeftBridge(CALLER, "b1", AT)) == []
    assert tracker.apply(ChannelEnteredBridge(CALLER, "b2", AT)) == []
    events = tracker.apply(ChannelEnteredBridge(phone("1003", 3), "b2", AT))
    assert events == [CallTransferred(CALL, "PJSIP/1001", "PJSIP/1003", AT)]


def test_given_a_queue_with_local_members_then_the_phone_behind_is_the_position() -> None:
    tracker = CallTracker()
    local1 = ChannelSnapshot(f"{CALL}5", CALL, "Local/1002@regulators-00000001;1")
    local2 = ChannelSnapshot(f"{CALL}6", CALL, "Local/1002@regulators-00000001;2")
    tracker.apply(ChannelTagged(CALLER, "15", AT))
    tracker.apply(ChannelEnteredBridge(local2, "inner", AT))
    tracker.apply(ChannelEnteredBridge(phone("1002", 7), "inner", AT))
    tracker.apply(ChannelEnteredBridge(CALLER, "outer", AT))
    events = tracker.apply(ChannelEnteredBridge(local1, "outer", AT))
    assert events == [CallAnswered(CALL, "PJSIP/1002", AT)]


def test_given_hold_on_either_leg_then_held_and_resumed_once() -> None:
    tracker = CallTracker()
    tracker.apply(ChannelTagged(CALLER, "15", AT))
    tracker.apply(ChannelEnteredBridge(CALLER, "b1", AT))
    tracker.apply(ChannelEnteredBridge(phone("1001", 2), "b1", AT))
    assert tracker.apply(ChannelHold(phone("1001", 2), True, AT)) == [CallHeld(CALL, AT)]
    assert tracker.apply(ChannelHold(phone("1001", 2), True, AT)) == []
    assert tracker.apply(ChannelHold(phone("1001", 2), False, AT)) == [CallResumed(CALL, AT)]
    assert tracker.apply(ChannelHold(phone("9999", 9), True, AT)) == []


def test_given_two_calls_at_two_positions_then_they_stay_apart() -> None:
    tracker = CallTracker()
    other = ChannelSnapshot("2.1", "2.1", "PJSIP/operator-trunk-00000009", caller_number="0612")
    tracker.apply(ChannelTagged(CALLER, "15", AT))
    tracker.apply(ChannelTagged(other, "15", AT))
    tracker.apply(ChannelEnteredBridge(CALLER, "b1", AT))
    tracker.apply(ChannelEnteredBridge(other, "b2", AT))
    first = tracker.apply(ChannelEnteredBridge(phone("1001", 2), "b1", AT))
    second = tracker.apply(
        ChannelEnteredBridge(ChannelSnapshot("2.2", "2.1", "PJSIP/1002-0000000a"), "b2", AT)
    )
    assert first == [CallAnswered(CALL, "PJSIP/1001", AT)]
    assert second == [CallAnswered("2.1", "PJSIP/1002", AT)]


def test_given_a_resync_then_calls_in_progress_are_known_and_vanished_ones_end() -> None:
    tracker = CallTracker()
    gone = ChannelSnapshot("9.1", "9.1", "PJSIP/operator-trunk-00000003", caller_number="x")
    tracker.apply(ChannelTagged(gone, "15", AT))
    snapshot = Resync(
        channels=[
            ChannelSnapshot(
                CALL, CALL, CALLER.name, caller_number="+33612345678", line="15", bridge_id="b1"
            ),
            ChannelSnapshot(f"{CALL}2", CALL, "PJSIP/1001-00000002", bridge_id="b1"),
            ChannelSnapshot("7.1", "7.1", "PJSIP/operator-trunk-00000007", bridge_id=None),
        ],
        at=AT,
    )
    events = tracker.resync(snapshot)
    assert types(events) == ["call.ended", "call.ringing", "call.answered"]
    assert events[0].call_id == "9.1"
    assert events[2] == CallAnswered(CALL, "PJSIP/1001", AT)
    # A second identical resync changes nothing.
    assert tracker.resync(snapshot) == []


def test_position_names() -> None:
    assert position_of("PJSIP/1001-0000002a") == "PJSIP/1001"
    assert position_of("PJSIP/operator-trunk-00000001") == "PJSIP/operator-trunk"
    assert position_of("CBAnn/samu1001-00000001") is None
    assert position_of("Local/1001@regulators-00000001;1") is None
    assert position_of("garbage") is None
    assert normalize_position("1001") == "PJSIP/1001"
    assert normalize_position(" PJSIP/1001 ") == "PJSIP/1001"
    assert normalize_position("SIP/poste-12") == "SIP/poste-12"
    assert normalize_position("<script>") is None
    assert normalize_position("") is None


def channel(name: str, n: int) -> ChannelSnapshot:
    return ChannelSnapshot(uniqueid=f"{CALL}{n}", linkedid=CALL, name=name)


def test_position_directory_takes_desks_only() -> None:
    directory = PositionDirectory(r"PJSIP/1[0-9]{3}")
    assert directory.position_of("PJSIP/1001-00000012") == "PJSIP/1001"
    for helper in (
        "PJSIP/operator-00000003",
        "Local/1001@queue-members-00000001;1",
        "CBAnn/samu1001-00000004",
        "CBRec/samu1001-00000005",
        "Snoop/1796430260.1-00000006",
        "UnicastRTP/127.0.0.1:4000-0x7f00",
        "garbage",
    ):
        assert directory.position_of(helper) is None, helper
    assert directory.matches("PJSIP/1003")
    assert not directory.matches("PJSIP/10031")
    directory.declare(["PJSIP/1001"])
    assert directory.position_of("PJSIP/1002-00000001") is None
    assert directory.position_of("PJSIP/1001-00000001") == "PJSIP/1001"
    assert directory.matches("PJSIP/1002")  # the pattern only: 1002 may still be declared
    directory.declare([])
    assert directory.position_of("PJSIP/1002-00000001") == "PJSIP/1002"


def test_given_a_conference_then_the_first_regulator_stays_and_the_doctor_participates() -> None:
    tracker = CallTracker()
    tracker.apply(ChannelEnteredBridge(phone("1001", 2), "conf", AT))
    tracker.apply(ChannelTagged(CALLER, "15", AT))
    assert tracker.apply(ChannelEnteredBridge(CALLER, "conf", AT)) == [
        CallAnswered(CALL, "PJSIP/1001", AT)
    ]
    tracker.apply(ChannelEnteredBridge(channel("CBAnn/samu1001-00000009", 9), "conf", AT))
    assert tracker.apply(ChannelEnteredBridge(phone("1003", 3), "conf", AT)) == [
        CallParticipants(CALL, ("PJSIP/1003",), AT)
    ]
    assert tracker.calls[CALL].position == "PJSIP/1001"


def test_given_a_trunk_in_the_bridge_then_it_is_no_position_and_the_call_left_the_centre() -> None:
    tracker = CallTracker()
    tracker.apply(ChannelTagged(CALLER, "15", AT))
    tracker.apply(ChannelEnteredBridge(CALLER, "b1", AT))
    tracker.apply(ChannelEnteredBridge(phone("1001", 2), "b1", AT))
    tracker.apply(ChannelLeftBridge(CALLER, "b1", AT))
    assert tracker.apply(ChannelLeftBridge(phone("1001", 2), "b1", AT)) == [
        CallReleased(CALL, "PJSIP/1001", False, AT)
    ]
    tracker.apply(ChannelEnteredBridge(channel("PJSIP/operator-00000004", 4), "b2", AT))
    assert tracker.apply(ChannelEnteredBridge(CALLER, "b2", AT)) == [
        CallReleased(CALL, "PJSIP/1001", True, AT)
    ]


def test_given_hangups_then_nothing_is_released_before_the_end() -> None:
    tracker = CallTracker()
    tracker.apply(ChannelTagged(CALLER, "15", AT))
    tracker.apply(ChannelEnteredBridge(CALLER, "b1", AT))
    tracker.apply(ChannelEnteredBridge(phone("1001", 2), "b1", AT))
    assert tracker.apply(ChannelHangupRequested(CALLER, AT)) == []
    assert tracker.apply(ChannelLeftBridge(CALLER, "b1", AT)) == []
    assert tracker.apply(ChannelLeftBridge(phone("1001", 2), "b1", AT)) == []
    assert types(tracker.apply(ChannelHangup(CALLER, AT))) == ["call.ended"]


def test_given_a_linkedid_change_then_the_call_keeps_its_id_and_the_phone_finds_it() -> None:
    tracker = CallTracker()
    tagged = ChannelTagged(CALLER, "15", AT, call_id=CALL)
    tracker.apply(tagged)
    older = ChannelSnapshot("1.5", "1.5", "PJSIP/1002-00000001")
    tracker.apply(ChannelEnteredBridge(older, "b1", AT))
    moved = ChannelSnapshot(CALL, "1.5", CALLER.name, caller_number="+33612345678")
    assert tracker.apply(ChannelEnteredBridge(moved, "b1", AT)) == [
        CallAnswered(CALL, "PJSIP/1002", AT)
    ]
    assert tracker.call_of_channel("1.5") == CALL
    # After a restart, the id is read back from VISIOREGUL_CALLID, not from the Linkedid.
    fresh = CallTracker()
    events = fresh.resync(
        Resync(
            channels=[
                ChannelSnapshot(CALL, "1.5", CALLER.name, line="15", call_id=CALL, bridge_id="b1"),
                ChannelSnapshot("1.5", "1.5", "PJSIP/1002-00000001", bridge_id="b1"),
            ],
            at=AT,
        )
    )
    assert [event.call_id for event in events] == [CALL, CALL]


def test_given_a_phone_key_from_a_channel_not_created_from_the_call_then_its_call_is_found() -> (
    None
):
    """A desk that picked the call up (parking, agents) names its own Linkedid, not the call's."""
    telephony = Telephony(TelephonySettings(source="none"), LiveCallRegistry())
    heard: list[FeatureCodePressed] = []
    telephony.on_feature_code(heard.append)
    telephony.fact(ChannelTagged(CALLER, "15", AT, call_id=CALL))
    desk = ChannelSnapshot("2.7", "2.7", "PJSIP/1002-00000007")
    telephony.fact(ChannelEnteredBridge(CALLER, "b1", AT))
    telephony.fact(ChannelEnteredBridge(desk, "b1", AT))
    telephony.fact(FeatureCodePressed(desk, "2.7", AT))
    telephony.fact(FeatureCodePressed(ChannelSnapshot("3.1", "3.1", "PJSIP/1003-1"), "3.1", AT))
    assert [fact.call_id for fact in heard] == [CALL, "3.1"]
