"""Middlewares: requests finished even when their client leaves, security headers on every
response, errors (the web layer's and the domain's) turned into clear JSON, and the ``Origin`` of
every WebSocket checked against the public URL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from visioregul.media import MediaError

from ..content_policy import CONTENT_SECURITY_POLICY, FRAMEABLE_PREFIX, content_security_policy
from ..errors import DomainError, RefusalError, error_body
from ..language import browser_language
from . import appkeys
from .api import check_api_key
from .errors import ApiError, Forbidden, InvalidRequest, RateLimited, domain_status
from .language import chosen_language

__all__ = [
    "error_response",
    "errors_middleware",
    "finish_middleware",
    "request_language",
    "security_headers_middleware",
    "websocket_origin_middleware",
]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def finish_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let a request run to its end when its client goes away (a page left, a fetch aborted).

    Cancelled in the middle of a transaction, a handler could leave its SQLite connection
    behind, still holding the write lock, and every later transaction would fail with "database
    is locked". aiohttp does not cancel by default; this keeps it so whatever server runs the
    application. WebSockets are left alone: they end when their socket closes.
    """
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        return await handler(request)
    task = asyncio.ensure_future(handler(request))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_finished_without_client)
        raise


def _finished_without_client(task: asyncio.Future[web.StreamResponse]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("request failed after its client left", exc_info=task.exception())


def request_language(request: web.Request) -> str:
    """The language to answer ``request`` in: the console reader's choice, ``Accept-Language``,
    else the configured one."""
    chosen = chosen_language(request, request.app[appkeys.CATALOGUE].languages)
    if chosen is not None:
        return chosen
    return browser_language(request)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(
        ("/api/", "/console/api/", "/healthz", "/readyz", "/metrics", "/webhooks/")
    )


def _check_no_nul(request: web.Request) -> None:
    """Refuse a NUL character in the path or the query: no identifier or filter holds one, and
    PostgreSQL refuses it in text (a 500 instead of a clear refusal)."""
    if "\x00" in request.path or any(
        "\x00" in key or "\x00" in value for key, value in request.query.items()
    ):
        raise InvalidRequest("invalid_request", detail="NUL character in the URL")


def error_response(request: web.Request, error: ApiError | RefusalError) -> web.Response:
    """The JSON body of a refusal, its message in the request's language; the status is the web
    error's own, or the domain table's."""
    body = error_body(error, request.app[appkeys.CATALOGUE], request_language(request))
    status = error.status_code if isinstance(error, ApiError) else domain_status(error)
    response = web.json_response(body, status=status)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """API errors become JSON with a translated message; unexpected ones are logged, not shown."""
    try:
        if _is_api(request):
            _check_no_nul(request)
        return await handler(request)
    except (ApiError, DomainError, MediaError) as error:
        return error_response(request, error)
    except web.HTTPException as exc:
        if not _is_api(request) or exc.status < 400:
            raise
        slug = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }
        return error_response(
            request, _status_error(exc.status, slug.get(exc.status, "invalid_request"))
        )
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        if not _is_api(request):
            raise
        return error_response(request, _status_error(500, "internal"))


def _status_error(status: int, error_id: str) -> ApiError:
    error = ApiError(error_id, detail=error_id)
    error.status_code = status
    return error


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers every response carries, errors included."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure(request, exc)
        raise
    _secure(request, response)
    return response


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # WebSocket upgrades and streamed files set their headers already
        return
    headers = response.headers
    settings = request.app[appkeys.SETTINGS]
    frame_ancestors = settings.cad_link.frame_ancestors
    if frame_ancestors and _frameable(request.path):
        # The CAD's origins may frame the console: the CSP says which, and X-Frame-Options
        # (which can name none) must not contradict it.
        headers.setdefault("Content-Security-Policy", content_security_policy(frame_ancestors))
    else:
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # The patient's page (``/p/<token>``) alone may use the camera and the position (asked by
    # the regulator), never the microphone.
    patient = "(self)" if request.path.startswith("/p/") else "()"
    # The technical test page checks the camera too, before any session.
    camera = "(self)" if request.path.startswith("/p/") or request.path == "/test" else "()"
    headers.setdefault(
        "Permissions-Policy", f"camera={camera}, microphone=(), geolocation={patient}"
    )
    if settings.service.public_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if not request.path.startswith("/console/static/"):
        headers.setdefault("Cache-Control", "no-store")


def _frameable(path: str) -> bool:
    return path == FRAMEABLE_PREFIX or path.startswith(FRAMEABLE_PREFIX + "/")


@web.middleware
async def websocket_origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse (403, before the upgrade) a WebSocket opened from another site's page.

    Browsers always send ``Origin`` on a WebSocket, and cookies ride along whatever the page: a
    socket must come from ``service.public_url``. Only a non-browser client (the CAD) may send
    no ``Origin``, and then it must carry a valid API key.
    """
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return await handler(request)
    origin = request.headers.get("Origin")
    if origin is None:
        if "Authorization" not in request.headers:
            raise Forbidden("origin_refused")
        check_api_key(request)
    elif not _is_public_origin(request, origin):
        log.warning("refused a WebSocket on %s from origin %r", request.path, origin[:100])
        raise Forbidden("origin_refused")
    return await handler(request)


def _is_public_origin(request: web.Request, origin: str) -> bool:
    public = urlsplit(request.app[appkeys.SETTINGS].service.public_url)
    try:
        seen = urlsplit(origin)
    except ValueError:  # not a URL: not ours
        return False
    return (seen.scheme.lower(), seen.netloc.lower()) == (public.scheme, public.netloc.lower())


_COMPRESSED_STATIC = ("/patient/static/", "/console/static/")
_CONDITIONAL = (
    hdrs.IF_MODIFIED_SINCE,
    hdrs.IF_NONE_MATCH,
    hdrs.IF_UNMODIFIED_SINCE,
    hdrs.IF_MATCH,
    hdrs.IF_RANGE,
)


@web.middleware
async def static_compression_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Scripts and styles gzipped for browsers that take it: the patient's page stays small on a
    weak mobile network (files only: nothing secret rides in them, whole files only)."""
    response = await handler(request)
    if (
        isinstance(response, web.FileResponse)
        and request.path.startswith(_COMPRESSED_STATIC)
        and hdrs.RANGE not in request.headers
        # A revalidation is mostly answered 304: aiohttp would then send a gzip stream as the
        # body of a bodiless response, which browsers reject. A changed file comes whole.
        and not any(header in request.headers for header in _CONDITIONAL)
    ):
        response.enable_compression()
    return response
