"""The administrators' console: the page (``/console/admin``) and its JSON API
(``/console/admin/api/...``): centres, their settings, positions and accounts.

Thin handlers: the principal (set by the authorization middleware, administrators only), the
CSRF token on every change, one call to :mod:`..centre_admin` or :mod:`..account_admin`, JSON
out. Actions that hash a password (creating an account, resetting a password) are limited per
administrator. Deactivating an account or resetting its password closes its live consoles.

Saving or creating a centre, adding or removing a position reloads the service's directory of
centres (``app[CENTRES]``: each centre's time zone, which centre a desk belongs to) in the same
transaction. A centre of the configuration file (``[[centres]]``) keeps its name and time zone
there.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from .. import account_admin, centre_admin
from ..account_admin import ManagedAccount
from ..authorization import Principal
from ..centre_admin import ADMIN_ROLES, FRENCH_TIME_ZONES, CentreSaved
from ..centres import all_positions
from ..ratelimit import RateLimitExceeded
from ..shared_ratelimit import Limiter
from ..store.models import Centre, Role
from . import appkeys
from .console import authenticated, check_csrf, json_body
from .console_pages import localized_page
from .errors import InvalidRequest, RateLimited, Unauthorized

__all__ = ["ADMIN_LIMITER", "routes"]

routes = web.RouteTableDef()

ADMIN_LIMITER = web.AppKey("admin_limiter", Limiter)
"""Password hashing by administrators (create, reset), per administrator."""

_MAX_FIELD = 1024 * 4
_API = "/console/admin/api"


def _reload(request: web.Request) -> CentreSaved:
    """What to call once centres or their desks changed: the directory of centres reads them
    again, and the telephony learns the desks (a call at a desk it does not know is nobody's)."""
    app = request.app

    async def reload(db: AsyncSession) -> None:
        await app[appkeys.CENTRES].reload(db)
        app[appkeys.TELEPHONY].positions.declare(await all_positions(db))

    return reload


def _principal(request: web.Request) -> Principal:
    return request[appkeys.PRINCIPAL]


async def _limit(request: web.Request, principal: Principal) -> None:
    """An administrator hashes a few dozen passwords a minute at most (each one is costly)."""
    limiter = request.app[ADMIN_LIMITER]
    try:
        await limiter.hit(f"admin:{principal.username}")
    except RateLimitExceeded as exc:
        raise RateLimited(retry_after=exc.retry_after) from None


async def _body(request: web.Request) -> dict[str, Any]:
    """The change's JSON body, after its CSRF token."""
    session, _account = await authenticated(request)
    check_csrf(request, session)
    return await json_body(request)


def _text(body: dict[str, Any], name: str, *, optional: bool = False) -> str:
    value = body.get(name)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest("invalid_request", detail=name)
    return value[:_MAX_FIELD]


def _list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest("invalid_request", detail=name)
    return [v[:_MAX_FIELD] for v in value[:200]]


def _id(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise (
            centre_admin.CentreNotFound() if name == "centre_id" else centre_admin.AccountNotFound()
        ) from None


def _centre_json(centre: Centre) -> dict[str, Any]:
    return {
        "id": centre.id,
        "code": centre.code,
        "name": centre.name,
        "time_zone": centre.time_zone,
    }


def _account_json(account: ManagedAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role.value,
        "positions": account.positions,
        "disabled": account.disabled,
        "must_change_password": account.must_change_password,
        "last_login_at": account.last_login_at.isoformat() if account.last_login_at else None,
        "locked_out": account.locked_out,
    }


# -- the page ----------------------------------------------------------------------------------


@routes.get("/console/admin", name="console-admin")
async def admin_page(request: web.Request) -> web.StreamResponse:
    """The administration page; the login form when not signed in, the console for others."""
    try:
        _session, account = await authenticated(request)
    except Unauthorized:
        raise web.HTTPSeeOther("/console/login") from None
    if account.must_change_password:
        raise web.HTTPSeeOther("/console/password")
    if account.role not in ADMIN_ROLES:
        raise web.HTTPSeeOther("/console")
    return localized_page(request, "admin.html")


# -- centres -----------------------------------------------------------------------------------


@routes.get(f"{_API}/centres")
async def list_centres(request: web.Request) -> web.Response:
    """The centres the administrator manages, the roles they may give, the time zones offered."""
    principal = _principal(request)
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.DB]() as db:
        centres = await centre_admin.visible_centres(db, principal)
    return web.json_response(
        {
            "centres": [_centre_json(c) for c in centres],
            "own_centre_id": principal.centre_id,
            "platform": principal.role is Role.PLATFORM_ADMIN,
            "roles": [role.value for role in centre_admin.grantable_roles(principal)],
            "time_zones": list(FRENCH_TIME_ZONES),
            "service_time_zone": settings.service.time_zone,
            "position_pattern": settings.telephony.position_pattern,
        }
    )


@routes.post(f"{_API}/centres")
async def create_centre(request: web.Request) -> web.Response:
    """Create a centre (platform administrators): ``code``, ``name``, ``time_zone``."""
    body = await _body(request)
    async with request.app[appkeys.DB].begin() as db:
        centre = await centre_admin.create_centre(
            db,
            _principal(request),
            _text(body, "code"),
            _text(body, "name"),
            _text(body, "time_zone", optional=True),
            _reload(request),
        )
        answer = _centre_json(centre)
    return web.json_response(answer, status=201)


@routes.post(f"{_API}/centres/{{centre_id}}")
async def save_centre(request: web.Request) -> web.Response:
    """Save a centre's ``name`` and ``time_zone`` (empty: the service's)."""
    body = await _body(request)
    async with request.app[appkeys.DB].begin() as db:
        centre = await centre_admin.save_centre(
            db,
            _principal(request),
            _id(request, "centre_id"),
            _text(body, "name"),
            _text(body, "time_zone", optional=True),
            _reload(request),
            frozenset(c.code for c in request.app[appkeys.SETTINGS].centres),
        )
        answer = _centre_json(centre)
    return web.json_response(answer)


# -- positions ---------------------------------------------------------------------------------


@routes.get(f"{_API}/centres/{{centre_id}}/positions")
async def list_positions(request: web.Request) -> web.Response:
    """The centre's positions, each with the accounts given it."""
    async with request.app[appkeys.DB]() as db:
        holders = await centre_admin.position_holders(
            db, _principal(request), _id(request, "centre_id")
        )
    return web.json_response(
        {"positions": [{"endpoint": e, "accounts": names} for e, names in holders.items()]}
    )


@routes.post(f"{_API}/centres/{{centre_id}}/positions")
async def add_position(request: web.Request) -> web.Response:
    """Declare a position (``position``, matching ``telephony.position_pattern``)."""
    body = await _body(request)
    pattern = request.app[appkeys.SETTINGS].telephony.position_pattern
    async with request.app[appkeys.DB].begin() as db:
        endpoint = await centre_admin.add_position(
            db,
            _principal(request),
            _id(request, "centre_id"),
            _text(body, "position"),
            pattern,
            _reload(request),
        )
    return web.json_response({"position": endpoint}, status=201)


@routes.post(f"{_API}/centres/{{centre_id}}/positions/remove")
async def remove_position(request: web.Request) -> web.Response:
    """Withdraw a position (``position``); refused while it is an account's only one."""
    body = await _body(request)
    async with request.app[appkeys.DB].begin() as db:
        await centre_admin.remove_position(
            db,
            _principal(request),
            _id(request, "centre_id"),
            _text(body, "position"),
            _reload(request),
        )
    return web.json_response({"removed": True})


# -- accounts ----------------------------------------------------------------------------------


@routes.get(f"{_API}/centres/{{centre_id}}/accounts")
async def list_accounts(request: web.Request) -> web.Response:
    """The centre's accounts."""
    async with request.app[appkeys.DB]() as db:
        found = await account_admin.centre_accounts(
            db, _principal(request), _id(request, "centre_id"), request.app[appkeys.LOGIN_LIMITER]
        )
    return web.json_response({"accounts": [_account_json(a) for a in found]})


@routes.post(f"{_API}/centres/{{centre_id}}/accounts")
async def create_account(request: web.Request) -> web.Response:
    """Create an account: ``username``, ``display_name``, ``role``, ``positions``, ``password``
    (temporary: changed at the first sign-in)."""
    body = await _body(request)
    principal = _principal(request)
    await _limit(request, principal)
    async with request.app[appkeys.DB].begin() as db:
        created = await account_admin.create_centre_account(
            db,
            principal,
            _id(request, "centre_id"),
            username=_text(body, "username"),
            display_name=_text(body, "display_name"),
            role=_text(body, "role"),
            positions=_list(body, "positions"),
            password=_text(body, "password"),
            throttle=request.app[appkeys.LOGIN_LIMITER],
        )
    return web.json_response(_account_json(created), status=201)


@routes.post(f"{_API}/centres/{{centre_id}}/accounts/{{account_id}}")
async def update_account(request: web.Request) -> web.Response:
    """Change an account's ``display_name``, ``role`` and ``positions``."""
    body = await _body(request)
    async with request.app[appkeys.DB].begin() as db:
        updated = await account_admin.update_centre_account(
            db,
            _principal(request),
            _id(request, "centre_id"),
            _id(request, "account_id"),
            display_name=_text(body, "display_name"),
            role=_text(body, "role"),
            positions=_list(body, "positions"),
            throttle=request.app[appkeys.LOGIN_LIMITER],
        )
    return web.json_response(_account_json(updated))


@routes.post(f"{_API}/centres/{{centre_id}}/accounts/{{account_id}}/password")
async def reset_password(request: web.Request) -> web.Response:
    """Give the account a temporary ``password``; its consoles are closed."""
    body = await _body(request)
    principal = _principal(request)
    await _limit(request, principal)
    async with request.app[appkeys.DB].begin() as db:
        account, revoked = await account_admin.reset_password(
            db,
            principal,
            _id(request, "centre_id"),
            _id(request, "account_id"),
            _text(body, "password"),
            request.app[appkeys.LOGIN_LIMITER],
        )
    await request.app[appkeys.CONSOLES].close(revoked)
    return web.json_response({**_account_json(account), "revoked_logins": len(revoked)})


@routes.post(f"{_API}/centres/{{centre_id}}/accounts/{{account_id}}/unlock")
async def unlock_account(request: web.Request) -> web.Response:
    """End the growing sign-in delay of the account."""
    await _body(request)
    async with request.app[appkeys.DB].begin() as db:
        account = await account_admin.unlock_account(
            db,
            _principal(request),
            _id(request, "centre_id"),
            _id(request, "account_id"),
            request.app[appkeys.LOGIN_LIMITER],
        )
    return web.json_response(_account_json(account))


@routes.post(f"{_API}/centres/{{centre_id}}/accounts/{{account_id}}/state")
async def set_state(request: web.Request) -> web.Response:
    """Deactivate (``{"disabled": true}``, its consoles closed at once) or reactivate."""
    body = await _body(request)
    disabled = body.get("disabled")
    if not isinstance(disabled, bool):
        raise InvalidRequest("invalid_request", detail="disabled")
    async with request.app[appkeys.DB].begin() as db:
        account, revoked = await account_admin.set_disabled(
            db,
            _principal(request),
            _id(request, "centre_id"),
            _id(request, "account_id"),
            disabled,
            request.app[appkeys.LOGIN_LIMITER],
        )
    await request.app[appkeys.CONSOLES].close(revoked)
    return web.json_response({**_account_json(account), "revoked_logins": len(revoked)})
