"""The regulator's own password change: the page (``/console/password``) and its request
(``POST /console/api/password``, JSON, CSRF token, current password required).

Wrong current passwords count in the login throttle under the account's own key, so that a
console left open cannot be used to guess the password; the other console logins of the account
are revoked and their sockets closed; the change goes to the audit log.
"""

from __future__ import annotations

from aiohttp import web

from .. import accounts, audit
from ..accounts import PasswordTooLong, WeakPassword
from ..client_address import client_address
from ..password_change import SamePassword, WrongPassword, change_password
from ..ratelimit import RateLimitExceeded
from . import appkeys
from .console import authenticated, check_csrf, json_body
from .console_pages import localized_page
from .errors import InvalidRequest, RateLimited, Unauthorized

__all__ = ["routes"]

routes = web.RouteTableDef()

_MAX = accounts.PASSWORD_MAX_LENGTH * 4  # read no more than this of each field


@routes.get("/console/password", name="console-password")
async def password_page(request: web.Request) -> web.StreamResponse:
    """The form; the login page when not signed in."""
    try:
        await authenticated(request)
    except Unauthorized:
        raise web.HTTPSeeOther("/console/login") from None
    return localized_page(request, "password.html")


@routes.post("/console/api/password")
async def change(request: web.Request) -> web.Response:
    """Change the signed-in account's password (``current_password``, ``new_password``)."""
    session, account = await authenticated(request)
    check_csrf(request, session)
    body = await json_body(request)
    current, new = body.get("current_password"), body.get("new_password")
    if not isinstance(current, str) or not isinstance(new, str):
        raise InvalidRequest("invalid_request", detail="current_password and new_password")
    throttle = request.app[appkeys.LOGIN_LIMITER]
    key = f"password:{account.username}"
    try:
        await throttle.check(key)
    except RateLimitExceeded as exc:
        raise RateLimited(retry_after=exc.retry_after) from None
    remote = client_address(request)
    async with request.app[appkeys.DB].begin() as db:
        mine = await accounts.get_account(db, account.id)
        assert mine is not None  # authenticated just now, in this same request
        try:
            revoked = await change_password(
                db, mine, current[:_MAX], new[:_MAX], keep_login=session.login_id
            )
        except WrongPassword:
            failed = True
        except WeakPassword as exc:
            raise InvalidRequest("weak_password", **exc.details) from None
        except PasswordTooLong as exc:
            raise InvalidRequest("password_too_long", **exc.details) from None
        except SamePassword:
            raise InvalidRequest("same_password") from None
        else:
            failed = False
            await audit.record(
                db,
                actor=account.username,
                action="console.password_changed",
                details={"revoked_logins": len(revoked), "remote": remote},
            )
    if failed:
        await throttle.failed(key)
        async with request.app[appkeys.DB].begin() as db:
            await audit.record(
                db,
                actor=account.username,
                action="console.password_change_refused",
                details={"reason": "wrong_password", "remote": remote},
            )
        raise InvalidRequest("wrong_password")
    await throttle.succeeded(key)
    await request.app[appkeys.CONSOLES].close(revoked)
    return web.json_response({"changed": True, "revoked_logins": len(revoked)})
