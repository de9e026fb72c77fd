"""The regulator's console: login, the position's live calls over a WebSocket, the invitation.

Thin handlers: validate, call one service function, serialise. The console is bound to a
position (the desk phone's endpoint) chosen at login; it hears the calls answered there.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy
from pydantic import ValidationError

from .. import accounts, audit, console_logins
from ..authorization import CONSOLE_SOCKET, NotAllowed, Principal, check_session, message_rule
from ..centre_admin import ADMIN_ROLES
from ..client_address import client_address
from ..errors import DomainError
from ..ratelimit import RateLimitExceeded
from ..room_ownership import InstanceUnreachable, RoomThere
from ..sessions.errors import SessionNotFound
from ..store.models import Account
from ..telephony.facts import normalize_position
from . import appkeys
from .console_bridge import ConsoleBridges, ConsoleIdentity
from .console_login import COOKIE_NAME, LoginCookie, clear_login_cookie, set_login_cookie
from .console_pages import STATIC_DIR, localized_page
from .console_parts import ConsoleParts
from .console_psc import provider_logout_url, show_button
from .errors import CsrfError, InvalidRequest, NotFound, Unauthorized
from .forwarding import FORWARDER, TryAgain
from .language import chosen_language
from .notifier import Connection, send_queued
from .schemas import PositionRequest, call_json, link_json

__all__ = [
    "STATIC_DIR",
    "authenticated",
    "check_csrf",
    "form_body",
    "json_body",
    "routes",
    "set_console_cookie",
]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

_MAX_JSON = 16 * 1024
_PING_TIMEOUT = 60.0


# -- helpers -----------------------------------------------------------------------------------


async def authenticated(request: web.Request) -> tuple[LoginCookie, Account]:
    """The console login and its account; raise ``Unauthorized`` otherwise.

    The signed cookie is not enough: its login must still be live on the server (not logged out,
    its account not disabled).
    """
    session = request.app[appkeys.LOGIN_COOKIES].loads(request.cookies.get(COOKIE_NAME))
    if session is None:
        raise Unauthorized()
    async with request.app[appkeys.DB]() as db:
        account = await accounts.get_account(db, session.account_id)
        live = await console_logins.is_live(db, session.login_id, session.account_id)
    if account is None or account.disabled or not live:
        raise Unauthorized()
    return session, account


def check_csrf(request: web.Request, session: LoginCookie) -> None:
    """Refuse an unsafe request whose ``X-CSRF-Token`` is not the session's."""
    token = request.headers.get("X-CSRF-Token", "")
    if not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise CsrfError()


def _same_origin(request: web.Request) -> bool:
    """A form POST must come from our own pages (the cookie is SameSite=Strict as well)."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return False
    public = urlsplit(request.app[appkeys.SETTINGS].service.public_url)
    try:
        seen = urlsplit(origin)
    except ValueError:  # not a URL (``http://[::1``): not ours
        return False
    return (seen.scheme, seen.netloc) in {
        (public.scheme, public.netloc),
        (request.scheme, request.host),
    }


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (16 KiB at most); raise ``InvalidRequest`` otherwise."""
    if request.content_length is not None and request.content_length > _MAX_JSON:
        raise InvalidRequest("invalid_json")
    try:
        body = json.loads(await request.content.read(_MAX_JSON + 1) or b"null")
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise InvalidRequest("invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("invalid_json")
    return body


async def form_body(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form fields; raise ``InvalidRequest`` when the body is not a form."""
    try:
        return await request.post()
    except (ValueError, LookupError, HttpProcessingError) as exc:
        # A multipart body without its boundary or with broken headers, an unknown charset.
        raise InvalidRequest("invalid_request", detail="form body expected") from exc


def set_console_cookie(
    request: web.Request, response: web.StreamResponse, session: LoginCookie
) -> None:
    """Set the console's login cookie on ``response`` (signed, HttpOnly, SameSite=Strict)."""
    settings = request.app[appkeys.SETTINGS]
    set_login_cookie(
        response,
        request.app[appkeys.LOGIN_COOKIES].dumps(session),
        settings.console.session_max_age,
        # Framed by a CAD of another site: a partitioned third-party cookie.
        framed=bool(settings.cad_link.frame_ancestors),
        secure=settings.console.secure_cookies,
    )


async def _positions(request: web.Request, account: Account) -> list[str]:
    """The positions ``account`` may take (declared ones, given to it)."""
    async with request.app[appkeys.DB]() as db:
        return await accounts.account_positions_of(db, account)


def _bound_position(wanted: str | None, default: str | None, allowed: list[str]) -> str | None:
    """The position a login binds: the one chosen, else the account's default, else its only one;
    raise ``InvalidRequest("position_not_allowed")`` for one the account may not take."""
    if wanted is not None:
        if wanted not in allowed:
            raise InvalidRequest("position_not_allowed", position=wanted)
        return wanted
    if default in allowed:
        return default
    return allowed[0] if len(allowed) == 1 else None


def _me(
    request: web.Request, account: Account, session: LoginCookie, positions: list[str]
) -> dict[str, Any]:
    settings = request.app[appkeys.SETTINGS]
    messaging = settings.messaging
    return {
        "account": {
            "username": account.username,
            "display_name": account.display_name,
            "role": account.role.value if hasattr(account.role, "value") else str(account.role),
        },
        "position": session.position,
        # The positions the console offers to choose from (never free text).
        "positions": positions,
        "csrf_token": session.csrf_token,
        # A temporary password set by an administrator: the account must choose its own.
        "must_change_password": account.must_change_password,
        # Development and demo: messages stay in the service and the console shows them.
        "outbox": messaging.sms == "outbox" or messaging.email == "outbox",
        # Times on the console are the centre's, whatever the workstation's clock says.
        "time_zone": request.app[appkeys.CENTRES].time_zone(account.centre_id),
    }


# -- pages -------------------------------------------------------------------------------------


@routes.get("/console/login", name="console-login")
async def login_page(request: web.Request) -> web.StreamResponse:
    """The login form (works without JavaScript), with Pro Santé Connect's button when on."""
    response = localized_page(request, "login.html")
    if request.app[appkeys.SETTINGS].psc.enabled and isinstance(response, web.Response):
        response.text = show_button(response.text or "")
    return response


@routes.post("/console/login")
async def login(request: web.Request) -> web.StreamResponse:
    """Check credentials, bind the position, set the session cookie.

    The position is one the account may take: the one chosen, else the account's default, else
    its only one; with several and no default, the console asks which (a select, no free text).
    """
    if not _same_origin(request):
        raise web.HTTPSeeOther("/console/login?error=csrf")
    try:
        form = await form_body(request)
    except InvalidRequest:
        raise web.HTTPSeeOther("/console/login?error=invalid_credentials") from None
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:256]
    position_text = str(form.get("position", ""))[:80]
    # Only failures count, per real client and per username: they delay the next attempts.
    throttle = request.app[appkeys.LOGIN_LIMITER]
    remote = client_address(request)
    keys = (f"ip:{remote}", f"user:{username.lower()}")
    try:
        await throttle.check(*keys)
    except RateLimitExceeded:
        raise web.HTTPSeeOther("/console/login?error=rate_limited") from None
    position = normalize_position(position_text) if position_text.strip() else None
    if position_text.strip() and position is None:
        raise web.HTTPSeeOther("/console/login?error=invalid_position")
    # No username or password holds NUL, and PostgreSQL refuses it in text: never looked up.
    has_nul = "\x00" in username or "\x00" in password
    account_refused = False
    async with request.app[appkeys.DB].begin() as db:
        account = None if has_nul else await accounts.authenticate(db, username, password)
        if account is None:
            await audit.record(
                db,
                actor="anonymous",
                action="console.login_failed",
                details={"username": username.replace("\x00", "\ufffd"), "remote": remote},
            )
        else:
            allowed = await accounts.account_positions_of(db, account)
            wanted = position
            try:
                position = _bound_position(position, account.position, allowed)
            except InvalidRequest:
                account_refused = True
            else:
                login_id = await console_logins.open_login(
                    db, account.id, request.app[appkeys.SETTINGS].console.session_max_age
                )
            await audit.record(
                db,
                actor=account.username,
                action="console.login_refused" if account_refused else "console.login",
                details={"position": wanted if account_refused else position, "remote": remote},
            )
    if account is None:
        await throttle.failed(*keys)
        raise web.HTTPSeeOther("/console/login?error=invalid_credentials")
    if account_refused:
        raise web.HTTPSeeOther("/console/login?error=position_not_allowed")
    await throttle.succeeded(keys[1])
    session = request.app[appkeys.LOGIN_COOKIES].new(account.id, login_id, position)
    # A temporary password (set by an administrator) is changed before anything else; an
    # administrator has no calls: the administration is their page.
    landing = (
        "/console/password"
        if account.must_change_password
        else "/console/admin"
        if account.role in ADMIN_ROLES
        else "/console"
    )
    response = web.Response(status=303, headers={"Location": landing})
    set_console_cookie(request, response, session)
    return response


@routes.get("/console", name="console")
async def console_page(request: web.Request) -> web.StreamResponse:
    """The console itself; the login form when not logged in."""
    try:
        _session, account = await authenticated(request)
    except Unauthorized:
        raise web.HTTPSeeOther("/console/login") from None
    if account.must_change_password:
        raise web.HTTPSeeOther("/console/password")
    if account.role in ADMIN_ROLES:
        # Administrators have no calls: their page is the administration.
        raise web.HTTPSeeOther("/console/admin")
    return localized_page(request, "index.html")


@routes.get("/console/locales/{language}.json")
async def locale(request: web.Request) -> web.Response:
    """The message catalogue of one language, for the pages."""
    catalogue = request.app[appkeys.CATALOGUE]
    language = request.match_info["language"]
    if language not in catalogue.languages:
        raise NotFound()
    return web.json_response(catalogue.bundle(language))


# -- console API -------------------------------------------------------------------------------


@routes.get("/console/api/me")
async def me(request: web.Request) -> web.Response:
    """Who is logged in, at which position (and which they may take), and the CSRF token for
    unsafe requests."""
    session, account = await authenticated(request)
    positions = await _positions(request, account)
    if session.position not in positions:
        # Bound before the account lost it (or before positions were declared): choose again.
        session = session.with_position(None)
    return web.json_response(_me(request, account, session, positions))


@routes.post("/console/api/position")
async def set_position(request: web.Request) -> web.Response:
    """Bind the console to another of the positions the account may take."""
    session, account = await authenticated(request)
    check_csrf(request, session)
    try:
        body = PositionRequest.model_validate(await json_body(request))
    except ValidationError as exc:
        raise InvalidRequest("invalid_position") from exc
    position = normalize_position(body.position)
    if position is None:
        raise InvalidRequest("invalid_position")
    allowed = await _positions(request, account)
    position = _bound_position(position, None, allowed)
    session = session.with_position(position)
    async with request.app[appkeys.DB].begin() as db:
        await audit.record(
            db, actor=account.username, action="console.position", details={"position": position}
        )
    response = web.json_response(_me(request, account, session, allowed))
    set_console_cookie(request, response, session)
    return response


@routes.post("/console/logout")
async def logout(request: web.Request) -> web.Response:
    """End the console login, on the server too: the cookie is worthless from now on, and the
    login's console sockets are closed. A login from Pro Santé Connect gets 200 and the
    provider's sign-out address (``logout_url``) for the browser to go to; others 204."""
    session, account = await authenticated(request)
    check_csrf(request, session)
    # Signed in through Pro Santé Connect: the browser signs out there too.
    provider_url = await provider_logout_url(request, session.login_id)
    async with request.app[appkeys.DB].begin() as db:
        await console_logins.revoke(db, session.login_id)
        await audit.record(
            db,
            actor=account.username,
            action="console.logout",
            details={"method": "psc"} if provider_url else None,
        )
    await request.app[appkeys.CONSOLES].close([session.login_id])
    response: web.Response = (
        web.json_response({"logout_url": provider_url})
        if provider_url
        else web.Response(status=204)
    )
    settings = request.app[appkeys.SETTINGS]
    clear_login_cookie(
        response,
        framed=bool(settings.cad_link.frame_ancestors),
        secure=settings.console.secure_cookies,
    )
    return response


# -- live calls --------------------------------------------------------------------------------


@routes.get("/console/ws")
async def console_socket(request: web.Request) -> web.StreamResponse:
    """The position's calls, live: ``hello`` then offers and updates."""
    session, account = await authenticated(request)
    if session.position is None or session.position not in await _positions(request, account):
        raise InvalidRequest("no_position")
    # Room for a video answer's SDP (a few KiB with its candidates).
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=64 * 1024)
    await ws.prepare(request)
    registry = request.app[appkeys.REGISTRY]
    telephony = request.app[appkeys.TELEPHONY]
    notifier = request.app[appkeys.NOTIFIER]
    connection = Connection(session.position, centre_id=account.centre_id)
    catalogue = request.app[appkeys.CATALOGUE]
    language = chosen_language(request, catalogue.languages) or catalogue.negotiate(
        request.headers.get("Accept-Language")
    )
    parts = ConsoleParts.build(
        request.app, connection, account.username, session.position, language
    )
    settings = request.app[appkeys.SETTINGS]
    bridges = ConsoleBridges(
        request.app[FORWARDER],
        connection,
        ConsoleIdentity(account.username, session.position, account.centre_id, language),
        settings.service.public_url,
        client_address(request),
    )
    notifier.attach(connection)
    consoles = request.app[appkeys.CONSOLES]
    consoles.add(session.login_id, ws)
    watcher = asyncio.create_task(_watch_login(request, session, ws))
    log.info("console of %s attached to %s", account.username, session.position)
    try:
        await ws.send_json(
            {
                "type": "hello",
                "position": session.position,
                "telephony": link_json(telephony.status),
                "calls": [
                    call_json(call)
                    for call in registry.calls(position=session.position)
                    if notifier.hears(connection, call)
                ],
            }
        )
        principal = Principal(account.username, account.role, account.centre_id)
        await _pump(request, principal, ws, connection, parts, bridges)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        consoles.discard(session.login_id, ws)
        notifier.detach(connection)
        await bridges.close()
        await parts.close()
        log.info("console of %s detached from %s", account.username, session.position)
    return ws


async def _watch_login(
    request: web.Request, session: LoginCookie, ws: web.WebSocketResponse
) -> None:
    """Close the socket once its login is revoked elsewhere (the command line, another
    instance); a logout through this instance closes it at once."""
    consoles = request.app[appkeys.CONSOLES]
    while not ws.closed:
        await asyncio.sleep(consoles.recheck_interval)
        try:
            async with request.app[appkeys.DB]() as db:
                account = await accounts.get_account(db, session.account_id)
                live = await console_logins.is_live(db, session.login_id, session.account_id)
        except Exception:  # the store is down: the next round decides
            log.warning("console login check failed", exc_info=True)
            continue
        if account is None or account.disabled or not live:
            await consoles.close([session.login_id])
            return


async def _pump(
    request: web.Request,
    principal: Principal,
    ws: web.WebSocketResponse,
    connection: Connection,
    parts: ConsoleParts,
    bridges: ConsoleBridges,
) -> None:
    """Send queued messages while reading the socket in this same handler task."""
    sender = asyncio.create_task(send_queued(ws, connection))
    try:
        async for message in ws:
            if message.type is not web.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(message.data)
            except (ValueError, RecursionError):  # RecursionError: nested too deeply
                data = None
            if not isinstance(data, dict):
                data = {}
            refuse = parts.refusal(data.get("type"))
            if not await _allowed(request, principal, connection, refuse, data):
                continue
            if data["type"] == "ping":
                connection.send({"type": "pong"})
            elif not await _elsewhere(request, bridges, refuse, data):
                await parts.handle(data)
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


async def _elsewhere(
    request: web.Request,
    bridges: ConsoleBridges,
    refuse: Callable[[str, DomainError], None],
    data: dict[str, Any],
) -> bool:
    """Pass a message about a session whose room another instance holds to that instance;
    False when the room is here (claimed now if nobody held it)."""
    ownership = request.app[appkeys.OWNERSHIP]
    session_id = data.get("session_id")
    if not ownership.shared or not isinstance(session_id, str):
        return False
    for _attempt in range(2):
        there = await ownership.claim(session_id)
        if not isinstance(there, RoomThere):
            return False
        try:
            if await bridges.forward(there, session_id, data):
                return True
        except TryAgain:
            continue  # it moved on meanwhile: where is it now?
        await ownership.holder_gone(there)
    refuse(session_id, InstanceUnreachable())
    return True


async def _allowed(
    request: web.Request,
    principal: Principal,
    connection: Connection,
    refuse: Callable[[str, SessionNotFound], None],
    data: dict[str, Any],
) -> bool:
    """Apply the message's rule (``CONSOLE_SOCKET``); say why on the socket when refused.

    The socket itself is for regulators and doctors (checked when it opened). A message about a
    session re-reads the account (one disabled since then is refused) and answers a session of
    another centre exactly like an unknown one.
    """
    rule = message_rule(CONSOLE_SOCKET, data.get("type"))
    if rule is None:
        connection.send(
            {"type": "error", "error_id": "invalid_message", "message": "unknown message"}
        )
        return False
    if not rule.session:
        return True
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not 0 < len(session_id) <= 64 or "\x00" in session_id:
        return True  # the message's own validation refuses it with ``invalid_message``
    try:
        await authenticated(request)
        async with request.app[appkeys.DB]() as db:
            await check_session(db, principal, session_id)
    except (SessionNotFound, NotAllowed, Unauthorized):
        # Answered exactly as an unknown session: nothing says it exists elsewhere.
        refuse(session_id, SessionNotFound())
        return False
    return True
