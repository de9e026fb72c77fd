"""Signing in to the console with Pro Santé Connect, and its logouts (thin handlers).

``/console/psc/start`` sends the browser to the provider, always as a top-level page (the login
page opens it in a new window when it is framed: the provider's pages cannot be framed).
``/console/psc/callback`` checks the answer (the browser's binding cookie and the server's
record of the ``state``, used once; the ID token and the userinfo through
:class:`~visioregul.integration.oidc.RelyingParty`), finds the practitioner's account and sets
the console's login cookie exactly as a password does. ``/console/psc/backchannel-logout``
receives the provider's logout token and ends the matching console logins, their sockets
closed. Every sign-in, refusal and sign-out goes to the audit log; a refusal is a page in the
reader's language that says what to do, and leaks nothing of the tokens.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .. import accounts, audit
from ..accounts import AccountError
from ..client_address import client_address
from ..oidc import PendingSignIn, SignInRefused
from ..practitioners import (
    SIGN_IN_TTL,
    PractitionerIdTaken,
    account_of,
    open_provider_login,
    provider_login,
    provision,
    remember_sign_in,
    revoke_provider_logins,
    take_sign_in,
)
from ..ratelimit import RateLimitExceeded
from ..store.models import Role, utcnow
from . import appkeys
from .console_login import LoginCookie
from .console_pages import STATIC_DIR, render_page
from .middleware import request_language

__all__ = [
    "BINDING_COOKIE",
    "CALLBACK_PATH",
    "LOGOUT_PATH",
    "POST_LOGOUT_PATH",
    "provider_logout_url",
    "routes",
    "show_button",
]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

CALLBACK_PATH = "/console/psc/callback"
LOGOUT_PATH = "/console/psc/backchannel-logout"
POST_LOGOUT_PATH = "/console/login"
"""Where the provider sends the browser back after signing out (register it with the provider)."""
BINDING_COOKIE = "visioregul_psc"
"""Ties the provider's answer to the browser that asked (against login CSRF): the state, signed."""

_BUTTON_HIDDEN = '<div id="psc" class="login-psc" hidden>'
_MAX_LOGOUT_TOKEN = 16 * 1024
# What each refusal is answered with: 400 for a malformed or stale answer, 403 for a practitioner
# the centre does not accept, 503 while the provider is out of reach.
_STATUS = {
    "unknown_practitioner": 403,
    "disabled": 403,
    "rate_limited": 429,
    "provider_unreachable": 503,
}


def show_button(page: str) -> str:
    """The login page with « Se connecter avec Pro Santé Connect » shown."""
    return page.replace(_BUTTON_HIDDEN, _BUTTON_HIDDEN.replace(" hidden", ""), 1)


def _binding(request: web.Request) -> URLSafeTimedSerializer:
    secret = request.app[appkeys.LOGIN_COOKIES].secret_key
    return URLSafeTimedSerializer(secret, salt="visioregul.psc-binding")


def _enabled(request: web.Request) -> None:
    if not request.app[appkeys.SETTINGS].psc.enabled or appkeys.RELYING_PARTY not in request.app:
        raise web.HTTPNotFound()


async def _limit(request: web.Request) -> None:
    try:
        await request.app[appkeys.PSC_LIMITER].hit(f"ip:{client_address(request)}")
    except RateLimitExceeded as exc:
        raise SignInRefused("rate_limited") from exc


def _page(request: web.Request, name: str, status: int, reason: str | None = None) -> web.Response:
    """A page of ``static/console`` in the reader's language; the refusal's reason in the
    ``psc.refused.reason`` slot."""
    catalogue = request.app[appkeys.CATALOGUE]
    language = request_language(request)
    messages = dict(catalogue.bundle(language))
    if reason is not None:
        messages["psc.refused.reason"] = messages.get(
            f"psc.refused.{reason}", messages.get("psc.refused.reason", "")
        )
    page = (STATIC_DIR / name).read_text(encoding="utf-8")
    return web.Response(
        status=status,
        text=render_page(page, messages, language),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Language": language, "Cache-Control": "no-store"},
    )


async def _refuse(
    request: web.Request, refused: SignInRefused, details: dict[str, Any] | None = None
) -> web.Response:
    """Record the refusal and answer with its page; the binding cookie is dropped."""
    log.warning("Pro Santé Connect sign-in refused: %s", refused)
    async with request.app[appkeys.DB].begin() as db:
        await audit.record(
            db,
            actor=str((details or {}).get("username") or "anonymous"),
            action="console.login_refused",
            details={
                "method": "psc",
                "reason": refused.reason,
                "remote": client_address(request),
                **(details or {}),
            },
        )
    response = _page(
        request, "psc-refused.html", _STATUS.get(refused.reason, 400), reason=refused.reason
    )
    response.del_cookie(BINDING_COOKIE, path="/console/psc")
    return response


@routes.get("/console/psc/start")
async def start(request: web.Request) -> web.StreamResponse:
    """Send the browser to the provider's sign-in (a top-level page)."""
    _enabled(request)
    try:
        await _limit(request)
        pending = PendingSignIn.new()
        url = await request.app[appkeys.RELYING_PARTY].authorization_url(pending)
    except SignInRefused as refused:
        return await _refuse(request, refused)
    async with request.app[appkeys.DB].begin() as db:
        await remember_sign_in(db, pending)
    response = web.Response(status=303, headers={"Location": url, "Cache-Control": "no-store"})
    response.set_cookie(
        BINDING_COOKIE,
        _binding(request).dumps(pending.state),
        max_age=SIGN_IN_TTL,
        httponly=True,
        # Lax: the provider's answer is a top-level navigation from its own site.
        samesite="Lax",
        secure=request.app[appkeys.SETTINGS].console.secure_cookies,
        path="/console/psc",
    )
    return response


def _bound_state(request: web.Request) -> str | None:
    value = request.cookies.get(BINDING_COOKIE)
    if not value:
        return None
    try:
        state = _binding(request).loads(value, max_age=SIGN_IN_TTL)
    except BadSignature:
        return None
    return state if isinstance(state, str) else None


@routes.get(CALLBACK_PATH)
async def callback(request: web.Request) -> web.StreamResponse:
    """The provider's answer: check it, find the practitioner's account, sign the console in."""
    _enabled(request)
    settings = request.app[appkeys.SETTINGS]
    try:
        await _limit(request)
        state = request.query.get("state", "")[:256]
        async with request.app[appkeys.DB].begin() as db:
            # Taken (deleted) whatever follows: an answer is never used twice.
            pending = await take_sign_in(db, state) if state else None
        bound = _bound_state(request)
        if not state or bound != state:
            raise SignInRefused("state", "state missing or not this browser's")
        if pending is None:
            # This browser's own answer, seen before (the binding cookie outlives the sign-in).
            raise SignInRefused("replayed", "state already used or expired")
        if "error" in request.query:
            raise SignInRefused("provider_error", request.query["error"][:64])
        code = request.query.get("code", "")[:2048]
        if not code:
            raise SignInRefused("provider_error", "no code")
        signed = await request.app[appkeys.RELYING_PARTY].finish(
            pending, code, request.query.get("iss")
        )
    except SignInRefused as refused:
        return await _refuse(request, refused)
    who = {"practitioner_id": signed.national_id, "acr": signed.acr}
    unusable = False
    async with request.app[appkeys.DB].begin() as db:
        account = await account_of(db, signed.national_id)
        centre = settings.psc.provision_centre_id
        if account is None and centre is not None:
            name = f"{signed.given_name} {signed.family_name}".strip()
            try:
                account = await provision(
                    db,
                    signed.national_id,
                    display_name=name,
                    centre_id=centre,
                    role=Role(settings.psc.provision_role),
                )
            except PractitionerIdTaken:  # the same practitioner, signing in twice at once
                account = await account_of(db, signed.national_id)
            except AccountError:  # not an identifier an account can hold
                unusable = True
            else:
                await audit.record(
                    db,
                    actor=audit.ACTOR_SYSTEM,
                    action="account.provisioned",
                    target=account.username,
                    details={"method": "psc", **who},
                )
    if unusable:
        return await _refuse(request, SignInRefused("identifier"), who)
    if account is None:
        return await _refuse(request, SignInRefused("unknown_practitioner"), who)
    if account.disabled:
        return await _refuse(
            request, SignInRefused("disabled"), {**who, "username": account.username}
        )
    async with request.app[appkeys.DB].begin() as db:
        allowed = await accounts.account_positions_of(db, account)
        position = (
            account.position
            if account.position in allowed
            else (allowed[0] if len(allowed) == 1 else None)
        )
        login_id = await open_provider_login(
            db,
            account.id,
            settings.console.session_max_age,
            sub=signed.sub,
            sid=signed.sid,
            id_token=signed.id_token,
        )
        fresh = await accounts.get_account(db, account.id)
        if fresh is not None:
            fresh.last_login_at = utcnow()
        await audit.record(
            db,
            actor=account.username,
            action="console.login",
            details={
                "method": "psc",
                "position": position,
                "remote": client_address(request),
                **who,
            },
        )
    session = request.app[appkeys.LOGIN_COOKIES].new(account.id, login_id, position)
    # A page, not a redirect: the console's cookie is SameSite=Strict, and a redirect that
    # continues the provider's cross-site navigation would not carry it to /console.
    response = _page(request, "psc-signed-in.html", 200)
    _set_login_cookie(request, response, session)
    return response


def _set_login_cookie(
    request: web.Request, response: web.StreamResponse, session: LoginCookie
) -> None:
    # Imported here: the console's module imports this one (its login page and logout).
    from .console import set_console_cookie

    set_console_cookie(request, response, session)


@routes.post(LOGOUT_PATH)
async def backchannel_logout(request: web.Request) -> web.StreamResponse:
    """The provider ends a session: the console logins it opened end too, sockets closed."""
    _enabled(request)
    remote = client_address(request)
    headers = {"Cache-Control": "no-store"}
    try:
        await _limit(request)
        if request.content_length is not None and request.content_length > _MAX_LOGOUT_TOKEN:
            raise SignInRefused("logout_token", "too large")
        try:
            form = await request.post()
        except ValueError as exc:
            raise SignInRefused("logout_token", "not a form") from exc
        token = form.get("logout_token")
        if not isinstance(token, str) or not token:
            raise SignInRefused("logout_token", "no logout_token")
        logout = await request.app[appkeys.RELYING_PARTY].check_logout_token(token)
    except SignInRefused as refused:
        log.warning("back-channel logout refused: %s", refused)
        async with request.app[appkeys.DB].begin() as db:
            await audit.record(
                db,
                actor="anonymous",
                action="console.logout_refused",
                details={"method": "psc", "reason": refused.reason, "remote": remote},
            )
        status = 429 if refused.reason == "rate_limited" else 400
        error = "temporarily_unavailable" if status == 429 else "invalid_request"
        return web.json_response({"error": error}, status=status, headers=headers)
    async with request.app[appkeys.DB].begin() as db:
        ended = await revoke_provider_logins(db, sub=logout.sub, sid=logout.sid)
        for login_id, account_id in ended:
            account = await accounts.get_account(db, account_id)
            await audit.record(
                db,
                actor=account.username if account is not None else audit.ACTOR_SYSTEM,
                action="console.logout",
                details={"method": "psc", "by": "provider", "login": login_id[:8]},
            )
    await request.app[appkeys.CONSOLES].close({login_id for login_id, _ in ended})
    return web.Response(status=200, headers=headers)


async def provider_logout_url(request: web.Request, login_id: str) -> str | None:
    """Where the browser signs out at the provider too, for a login that came from there
    (``id_token_hint`` and the post-logout address); None otherwise, or when the provider is
    out of reach (the console's own logout goes on)."""
    if appkeys.RELYING_PARTY not in request.app:
        return None
    async with request.app[appkeys.DB]() as db:
        login = await provider_login(db, login_id)
    if login is None:
        return None
    public = request.app[appkeys.SETTINGS].service.public_url.rstrip("/")
    try:
        return await request.app[appkeys.RELYING_PARTY].logout_url(
            login.provider_id_token, public + POST_LOGOUT_PATH
        )
    except SignInRefused:
        log.warning("Pro Santé Connect out of reach: signed out of the console only")
        return None
