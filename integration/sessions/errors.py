"""Refusals of the session domain, with the ``error_id`` the clients and the catalogue key on."""

from __future__ import annotations

from ..web.errors import ApiError

__all__ = [
    "InvitationNotFound",
    "SessionClosed",
    "SessionNotFound",
    "TooManyInvitations",
]


class SessionNotFound(ApiError):
    """No such session (or not visible to this client)."""

    status_code = 404
    error_id = "session_not_found"


class InvitationNotFound(ApiError):
    """No such invitation in this session."""

    status_code = 404
    error_id = "invitation_not_found"


class SessionClosed(ApiError):
    """The session is ended or expired: nothing more can happen in it."""

    status_code = 409
    error_id = "session_closed"


class TooManyInvitations(ApiError):
    """A sending limit is reached; ``scope`` says which (regulator, destination, global)."""

    status_code = 429
    error_id = "too_many_invitations"

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(
            f"too_many_invitations_{scope}",
            scope=scope,
            retry_after=retry_after,
            minutes=max(1, -(-retry_after // 60)),
        )
        self.retry_after = retry_after
