"""API errors: one class per refusal, turned into JSON by one middleware.

Each error has an HTTP status, a stable ``error_id`` slug (clients and the catalogue key on it),
and ``details``; the human message comes from the catalogue in the request's language.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "CsrfError",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "Unauthorized",
]


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
