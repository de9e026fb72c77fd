"""HTTP errors: the web layer's own refusals, and the one table of the domain's.

The web layer's refusals (no credentials, no CSRF token, malformed request...) are
:class:`ApiError` subclasses with their HTTP status. The domain's refusals know nothing of HTTP:
:data:`DOMAIN_STATUS` gives each class its status, and one middleware turns both into JSON. Each
error has a stable ``error_id`` slug (clients and the catalogue key on it) and ``details``; the
human message comes from the catalogue in the request's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from visioregul.media import MediaError

from ..authorization import NotAllowed
from ..centre_admin import (
    AccountNameTaken,
    AccountNotFound,
    AccountRefused,
    CentreCodeTaken,
    CentreInConfiguration,
    CentreNotFound,
    InvalidCentre,
    InvalidTimeZone,
    PasswordChangeRequired,
    PositionInUse,
    PositionNotDeclared,
    RoleNotAllowed,
    SelfChangeRefused,
)
from ..destinations import InvalidDestination
from ..documents import (
    DocumentEmpty,
    DocumentLinkRefused,
    DocumentNotFound,
    DocumentTooLarge,
    DocumentTypeRefused,
    PhotoNotImage,
    SessionFilesFull,
    TooManyDocuments,
)
from ..errors import RefusalError
from ..room_ownership import InstanceUnreachable
from ..screen_share import ScreenShareBusy, ScreenShareInactive
from ..sessions.errors import (
    CallNotFound,
    IllegalFact,
    InvalidRole,
    InvitationNotFound,
    SessionClosed,
    SessionNotFound,
    TooManyInvitations,
)
from ..sessions.location import (
    InvalidLocation,
    LocationFlood,
    LocationNoAnswer,
    LocationPhoneGone,
    LocationUnasked,
)
from ..sessions.remote_control import (
    CommandFlood,
    PhoneAbsent,
    PhoneNoAnswer,
    RemoteUnavailable,
)
from ..sessions.texts import InvalidText, TooManyTexts
from ..stills import StillNotFound, StillUnavailable, TooManyStills
from ..uploads import UploadNotFound, UploadOffsetMismatch

__all__ = [
    "DOMAIN_STATUS",
    "ApiError",
    "CsrfError",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "Unauthorized",
    "domain_status",
]

DOMAIN_STATUS: Mapping[type[RefusalError], int] = {
    SessionNotFound: 404,
    InstanceUnreachable: 503,
    InvitationNotFound: 404,
    SessionClosed: 409,
    CallNotFound: 400,
    InvalidRole: 400,
    IllegalFact: 409,
    TooManyInvitations: 429,
    InvalidDestination: 400,
    MediaError: 400,
    NotAllowed: 403,
    StillUnavailable: 409,
    StillNotFound: 404,
    TooManyStills: 429,
    InvalidText: 400,
    TooManyTexts: 429,
    RemoteUnavailable: 409,
    PhoneAbsent: 409,
    PhoneNoAnswer: 409,
    CommandFlood: 429,
    ScreenShareBusy: 409,
    ScreenShareInactive: 409,
    InvalidLocation: 400,
    LocationPhoneGone: 409,
    LocationNoAnswer: 409,
    LocationFlood: 429,
    LocationUnasked: 409,
    DocumentTooLarge: 413,
    SessionFilesFull: 413,
    DocumentTypeRefused: 415,
    DocumentEmpty: 400,
    DocumentNotFound: 404,
    DocumentLinkRefused: 404,
    TooManyDocuments: 429,
    PhotoNotImage: 415,
    UploadNotFound: 404,
    UploadOffsetMismatch: 409,
    # Administration of centres and accounts.
    CentreNotFound: 404,
    AccountNotFound: 404,
    RoleNotAllowed: 403,
    SelfChangeRefused: 409,
    AccountRefused: 400,
    AccountNameTaken: 409,
    PositionNotDeclared: 400,
    PositionInUse: 409,
    InvalidTimeZone: 400,
    InvalidCentre: 400,
    CentreCodeTaken: 409,
    CentreInConfiguration: 409,
    PasswordChangeRequired: 403,
}
"""The HTTP status of each refusal of the domain; every class has its line (a test checks)."""


def domain_status(error: RefusalError) -> int:
    """The HTTP status of a refusal of the domain (its class's, or its nearest parent's)."""
    for cls in type(error).__mro__:
        status = DOMAIN_STATUS.get(cls)
        if status is not None:
            return status
    return 400


class ApiError(Exception):
    """A refusal the client can act on."""

    status_code = 400
    error_id = "invalid_request"

    def __init__(self, error_id: str | None = None, **details: Any) -> None:
        self.error_id = error_id or type(self).error_id
        self.details = details
        super().__init__(f"{self.error_id}: {details}")


class InvalidRequest(ApiError):
    """Malformed or invalid input (400)."""


class Unauthorized(ApiError):
    """No valid credentials (401)."""

    status_code = 401
    error_id = "unauthorized"


class Forbidden(ApiError):
    """Valid credentials, not allowed (403)."""

    status_code = 403
    error_id = "forbidden"


class CsrfError(ApiError):
    """An unsafe request without a valid CSRF token (403)."""

    status_code = 403
    error_id = "csrf"


class NotFound(ApiError):
    """No such resource (404)."""

    status_code = 404
    error_id = "not_found"


class RateLimited(ApiError):
    """Too many requests (429); ``retry_after`` in seconds."""

    status_code = 429
    error_id = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after
