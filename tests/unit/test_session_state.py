"""The session state machine and link tokens."""

from __future__ import annotations

import pytest

from visioregul.integration.sessions.state import (
    InvalidTransition,
    SessionFact,
    SessionState,
    next_state,
)
from visioregul.integration.sessions.tokens import TOKEN_PATTERN, hash_token, new_token

S, F = SessionState, SessionFact


def walk(*facts: SessionFact) -> SessionState:
    state = S.CREATED
    for fact in facts:
        state = next_state(state, fact)
    return state


def test_the_happy_path() -> None:
    assert walk(F.INVITATION_SENT) is S.INVITED
    assert walk(F.INVITATION_SENT, F.LINK_OPENED) is S.LINK_OPENED
    assert walk(F.INVITATION_SENT, F.LINK_OPENED, F.CAMERA_ALLOWED) is S.CAMERA_ALLOWED
    live = (F.INVITATION_SENT, F.LINK_OPENED, F.CAMERA_ALLOWED, F.VIDEO_LIVE)
    assert walk(*live) is S.VIDEO_LIVE
    assert walk(*live, F.VIDEO_LOST) is S.VIDEO_LOST
    assert walk(*live, F.VIDEO_LOST, F.VIDEO_LIVE) is S.VIDEO_LIVE
    assert walk(*live, F.ENDED) is S.ENDED


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # Facts that happen again later keep the state: a reload, a new invitation.
        ((F.INVITATION_SENT, F.LINK_OPENED, F.INVITATION_SENT), S.LINK_OPENED),
        (
            (F.INVITATION_SENT, F.LINK_OPENED, F.CAMERA_ALLOWED, F.VIDEO_LIVE, F.LINK_OPENED),
            S.VIDEO_LIVE,
        ),
        (
            (
                F.INVITATION_SENT,
                F.LINK_OPENED,
                F.CAMERA_ALLOWED,
                F.VIDEO_LIVE,
                F.VIDEO_LOST,
                F.LINK_OPENED,
            ),
            S.VIDEO_LOST,
        ),
        # The call may end before anything: the regulator ends the session.
        ((F.ENDED,), S.ENDED),
        ((F.INVITATION_SENT, F.EXPIRED), S.EXPIRED),
        # The page may report the camera before the link-opened fact lands.
        ((F.INVITATION_SENT, F.CAMERA_ALLOWED), S.CAMERA_ALLOWED),
    ],
)
def test_repeated_and_shortcut_facts(
    facts: tuple[SessionFact, ...], expected: SessionState
) -> None:
    assert walk(*facts) is expected


@pytest.mark.parametrize(
    ("state", "fact"),
    [
        (S.ENDED, F.LINK_OPENED),
        (S.ENDED, F.ENDED),
        (S.EXPIRED, F.INVITATION_SENT),
        (S.CREATED, F.CAMERA_ALLOWED),
        (S.CREATED, F.VIDEO_LIVE),
        (S.INVITED, F.VIDEO_LIVE),
        (S.LINK_OPENED, F.VIDEO_LOST),
        (S.VIDEO_LOST, F.VIDEO_LOST),
    ],
)
def test_impossible_facts_name_the_state(state: SessionState, fact: SessionFact) -> None:
    with pytest.raises(InvalidTransition, match=f"in state {state.value}"):
        next_state(state, fact)


def test_tokens_are_256_bits_url_safe_and_stored_hashed() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    token, digest = next(iter(tokens))
    assert TOKEN_PATTERN.fullmatch(token)
    assert digest == hash_token(token) != token
    assert len(digest) == 64
    assert hash_token(token[:-1] + ("A" if token[-1] != "A" else "B")) != digest
