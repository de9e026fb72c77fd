"""Refusals of the session domain, with the ``error_id`` the clients and the catalogue key on.

Plain exceptions of the domain: the edges (``web/``, the sockets, the phone key) translate them.
"""

from __future__ import annotations

from ..errors import DomainError

__all__ = [
    "CallNotFound",
    "IllegalFact",
    "InvalidRole",
    "InvitationNotFound",
    "SessionClosed",
    "SessionNotFound",
    "TooManyInvitations",
]


class SessionNotFound(DomainError):
    """No such session (or not visible to this client)."""

    error_id = "session_not_found"


class InvitationNotFound(DomainError):
    """No such invitation in this session."""

    error_id = "invitation_not_found"


class SessionClosed(DomainError):
    """The session is ended or expired: nothing more can happen in it."""

    error_id = "session_closed"


class CallNotFound(DomainError):
    """The call a session should be paired with is not (or no longer) a live call."""

    error_id = "call_not_found"


class InvalidRole(DomainError):
    """An invitation for a role that does not exist (``detail`` names it)."""

    error_id = "invalid_request"


class IllegalFact(DomainError):
    """A fact that cannot happen in the session's current state (``detail`` says why)."""

    error_id = "invalid_transition"


class TooManyInvitations(DomainError):
    """A sending limit is reached; ``scope`` says which (regulator, destination, global)."""

    error_id = "too_many_invitations"

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(
            f"too_many_invitations_{scope}",
            scope=scope,
            retry_after=retry_after,
            minutes=max(1, -(-retry_after // 60)),
        )
        self.retry_after = retry_after
