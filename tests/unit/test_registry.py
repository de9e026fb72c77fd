"""The live-call registry and who hears what (the notifier)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from visioregul.integration.telephony.events import (
    CallAnswered,
    CallEnded,
    CallHeld,
    CallResumed,
    CallRinging,
    CallTransferred,
)
from visioregul.integration.telephony.link import LinkState, LinkStatus
from visioregul.integration.telephony.registry import (
    CallState,
    CallUpdate,
    LiveCallRegistry,
    SuggestedChannel,
)
from visioregul.integration.web.notifier import Connection, Notifier

AT = datetime.now(UTC)


def ringing(call_id: str = "c1", caller: str = "0612345678") -> CallRinging:
    return CallRinging(call_id, "15", caller, "PJSIP/trunk-1", call_id, AT)


def test_given_a_call_lifecycle_then_the_registry_follows_it() -> None:
    registry = LiveCallRegistry()
    seen: list[CallUpdate] = []
    registry.subscribe(seen.append)
    registry.apply(ringing())
    registry.apply(CallAnswered("c1", "PJSIP/1001", AT))
    registry.apply(CallHeld("c1", AT))
    registry.apply(CallResumed("c1", AT))
    registry.apply(CallTransferred("c1", "PJSIP/1001", "PJSIP/1003", AT))
    call = registry.apply(CallEnded("c1", AT))
    assert call is not None
    assert call.state is CallState.ENDED
    assert call.position == "PJSIP/1003"
    assert call.previous_positions == ("PJSIP/1001",)
    assert call.caller.e164 == "+33612345678"
    assert call.suggested_channel is SuggestedChannel.SMS
    assert [update.call.state for update in seen] == [
        CallState.RINGING,
        CallState.ANSWERED,
        CallState.HELD,
        CallState.ANSWERED,
        CallState.ANSWERED,
        CallState.ENDED,
    ]
    # Ended calls stay listed: the video may still be wanted.
    assert registry.calls(position="PJSIP/1003") == [call]
    assert registry.calls(position="PJSIP/1003", include_ended=False) == []


@pytest.mark.parametrize(
    ("caller", "suggested"),
    [
        ("0145678901", SuggestedChannel.EMAIL),
        ("anonymous", SuggestedChannel.ASK_NUMBER),
        ("zzz", SuggestedChannel.ASK_NUMBER),
        ("+4915123456789", SuggestedChannel.SMS),
    ],
)
def test_suggested_channel_follows_the_number(caller: str, suggested: SuggestedChannel) -> None:
    registry = LiveCallRegistry()
    call = registry.apply(ringing(caller=caller))
    assert call is not None and call.suggested_channel is suggested


def test_given_events_for_unknown_or_ended_calls_then_they_are_ignored() -> None:
    registry = LiveCallRegistry()
    assert registry.apply(CallAnswered("nope", "PJSIP/1001", AT)) is None
    registry.apply(ringing())
    registry.apply(CallEnded("c1", AT))
    assert registry.apply(CallAnswered("c1", "PJSIP/1001", AT)) is None


def test_given_a_broken_listener_then_others_still_hear() -> None:
    registry = LiveCallRegistry()

    def broken(_update: CallUpdate) -> None:
        raise RuntimeError("boom")

    seen: list[CallUpdate] = []
    registry.subscribe(broken)
    unsubscribe = registry.subscribe(seen.append)
    registry.apply(ringing())
    unsubscribe()
    unsubscribe()
    registry.apply(CallEnded("c1", AT))
    assert len(seen) == 1


def test_given_old_ended_calls_then_they_are_pruned() -> None:
    registry = LiveCallRegistry(keep_ended=timedelta(minutes=5))
    registry.apply(CallRinging("old", "15", "0612345678", "x", "old", AT - timedelta(hours=1)))
    registry.apply(CallEnded("old", AT - timedelta(hours=1)))
    registry.apply(ringing("new"))
    assert [call.call_id for call in registry.calls()] == ["new"]


def drain(connection: Connection) -> list[str]:
    out = []
    while not connection.queue.empty():
        message = connection.queue.get_nowait()
        assert message is not None
        out.append(message["type"])
    return out


async def test_given_consoles_at_two_positions_then_each_hears_only_its_calls() -> None:
    registry = LiveCallRegistry()
    notifier = Notifier()
    registry.subscribe(notifier.on_call)
    at_1001, at_1003, cad = Connection("PJSIP/1001"), Connection("PJSIP/1003"), Connection(None)
    for connection in (at_1001, at_1003, cad):
        notifier.attach(connection)
    registry.apply(ringing())
    registry.apply(CallAnswered("c1", "PJSIP/1001", AT))
    registry.apply(CallTransferred("c1", "PJSIP/1001", "PJSIP/1003", AT))
    registry.apply(CallEnded("c1", AT))
    assert drain(at_1001) == ["offer", "call.moved"]
    assert drain(at_1003) == ["offer", "call.updated"]
    assert drain(cad) == ["call.ringing", "call.answered", "call.transferred", "call.ended"]
    notifier.detach(at_1001)
    notifier.detach(at_1001)
    assert "PJSIP/1001" not in notifier.consoles


async def test_given_a_slow_console_then_it_is_marked_for_resync_not_blocking() -> None:
    notifier = Notifier()
    slow = Connection("PJSIP/1001")
    notifier.attach(slow)
    for index in range(1000):
        notifier.on_link(LinkStatus("ami", LinkState.DOWN, detail=str(index)))
    assert slow.overflowed
    assert slow.queue.qsize() <= 256
