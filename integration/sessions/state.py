"""The life of a video session, as an explicit state machine.

::

    created -> invited -> link_opened -> camera_allowed -> video_live <-> video_lost
       \\___________\\____________\\_______________\\____________\\__________ -> ended | expired

Each fact that moves a session is an event of the session's log; ``next_state`` says where a
fact leads from a state, and refuses a fact that makes no sense there (``InvalidTransition``
names the state). Facts that happen again in a later state (a link reopened after a page reload,
a new invitation while the video runs) leave the state as it is: they are still logged.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FINAL_STATES", "InvalidTransition", "SessionFact", "SessionState", "next_state"]


class SessionState(StrEnum):
    """Where a session stands."""

    CREATED = "created"
    INVITED = "invited"
    LINK_OPENED = "link_opened"
    CAMERA_ALLOWED = "camera_allowed"
    VIDEO_LIVE = "video_live"
    VIDEO_LOST = "video_lost"
    """The patient's video stopped (network loss); the page is reconnecting."""
    ENDED = "ended"
    EXPIRED = "expired"


FINAL_STATES = frozenset({SessionState.ENDED, SessionState.EXPIRED})

_ORDER = [
    SessionState.CREATED,
    SessionState.INVITED,
    SessionState.LINK_OPENED,
    SessionState.CAMERA_ALLOWED,
    SessionState.VIDEO_LIVE,
]


class SessionFact(StrEnum):
    """Facts that may change a session's state (other events are only logged)."""

    INVITATION_SENT = "invitation.sent"
    LINK_OPENED = "link.opened"
    CAMERA_ALLOWED = "camera.allowed"
    VIDEO_LIVE = "video.live"
    VIDEO_LOST = "video.lost"
    ENDED = "session.ended"
    EXPIRED = "session.expired"


class InvalidTransition(Exception):
    """A fact that cannot happen in the session's current state."""

    def __init__(self, state: SessionState, fact: SessionFact) -> None:
        super().__init__(f"{fact.value} is not possible in state {state.value}")
        self.state = state
        self.fact = fact


def _at_least(state: SessionState, target: SessionState) -> SessionState:
    """Move forward to ``target``; a session already further along stays where it is."""
    if state is SessionState.VIDEO_LOST:
        return state if target is not SessionState.VIDEO_LIVE else target
    return target if _ORDER.index(state) < _ORDER.index(target) else state


def next_state(state: SessionState, fact: SessionFact) -> SessionState:
    """The state after ``fact``; raise ``InvalidTransition`` when the fact is impossible."""
    if state in FINAL_STATES:
        raise InvalidTransition(state, fact)
    if fact is SessionFact.ENDED:
        return SessionState.ENDED
    if fact is SessionFact.EXPIRED:
        return SessionState.EXPIRED
    if fact is SessionFact.INVITATION_SENT:
        return _at_least(state, SessionState.INVITED)
    if fact is SessionFact.LINK_OPENED:
        return _at_least(state, SessionState.LINK_OPENED)
    if fact is SessionFact.CAMERA_ALLOWED:
        if state is SessionState.CREATED:
            raise InvalidTransition(state, fact)
        return _at_least(state, SessionState.CAMERA_ALLOWED)
    if fact is SessionFact.VIDEO_LIVE:
        if state in (SessionState.CREATED, SessionState.INVITED):
            raise InvalidTransition(state, fact)
        return SessionState.VIDEO_LIVE
    if fact is SessionFact.VIDEO_LOST:
        if state is not SessionState.VIDEO_LIVE:
            raise InvalidTransition(state, fact)
        return SessionState.VIDEO_LOST
    raise InvalidTransition(state, fact)
