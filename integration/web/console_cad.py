"""The CAD's deep link: ``GET /console/cad?token=<JWT>`` signs the regulator in, binds the
position and opens the console on the call's card, with no second login.

The token is checked by :mod:`..cad_links` (signature, issuer, audience, expiry, lifetime) and
used up in the database, in the same transaction as the console login it opens and its audit
entry. Every refusal is a French (or English) page saying why, with an audit entry; so is every
success. An issuer bound to a centre signs in that centre's regulators only: a token naming
another centre's is refused like one naming an unknown account. Attempts are rate-limited per
client address.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web

from .. import accounts, audit, cad_links, console_logins
from ..authorization import SESSION_ROLES
from ..cad_links import UNVERIFIED, CadLink, CadLinkRefused, Refusal
from ..centre_codes import centre_id_of
from ..client_address import client_address
from ..ratelimit import RateLimitExceeded
from ..telephony.registry import LiveCall, LiveCallRegistry
from . import appkeys
from .console_login import set_login_cookie
from .console_pages import STATIC_DIR, render_page
from .middleware import request_language

__all__ = ["CALL_UNKNOWN_NOTICE", "find_call", "routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

CALL_UNKNOWN_NOTICE = "cad_call_unknown"
"""``/console?notice=`` value: the token named a call the console does not know (ended long ago,
another position's, a typo of the CAD's)."""

_STATUS = {
    Refusal.DISABLED: 404,
    Refusal.INVALID: 403,
    Refusal.EXPIRED: 403,
    Refusal.TOO_LONG_LIVED: 403,
    Refusal.REPLAYED: 403,
    Refusal.UNKNOWN_ACCOUNT: 403,
    Refusal.POSITION_NOT_ALLOWED: 403,
    Refusal.RATE_LIMITED: 429,
}


def find_call(registry: LiveCallRegistry, wanted: str, position: str) -> LiveCall | None:
    """The call ``wanted`` names (the console's call id, or an Asterisk Uniqueid or Linkedid,
    which the tag makes the call id), if it is or was at ``position``."""
    call = registry.get(wanted)
    if call is None:
        call = next(
            (known for known in registry.calls() if known.uniqueid == wanted),
            None,
        )
    if call is None:
        return None
    here = {call.position, *call.participants, *call.previous_positions}
    return call if position in here else None


def _refusal_page(request: web.Request, reason: Refusal) -> web.Response:
    catalogue = request.app[appkeys.CATALOGUE]
    language = request_language(request)
    page = (STATIC_DIR / "cad-refused.html").read_text(encoding="utf-8")
    page = page.replace('data-i18n="cad.refused.reason"', f'data-i18n="cad.refused.{reason}"')
    return web.Response(
        status=_STATUS[reason],
        text=render_page(page, catalogue.bundle(language), language),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Language": language},
    )


async def _refuse(request: web.Request, refused: CadLinkRefused, remote: str) -> web.Response:
    log.warning("CAD link refused (%s) from %s", refused.reason, remote)
    # A token whose signature did not check names nobody: its ``sub`` is only what it claims.
    verified = refused.reason not in UNVERIFIED and "sub" in refused.claims
    async with request.app[appkeys.DB].begin() as db:
        await audit.record(
            db,
            actor=str(refused.claims["sub"]) if verified else "anonymous",
            action="console.cad_link_refused",
            details={"reason": refused.reason.value, "remote": remote, **refused.claims},
        )
    return _refusal_page(request, refused.reason)


@routes.get("/console/cad", name="console-cad")
async def cad_link(request: web.Request) -> web.StreamResponse:
    """Open the console from the CAD: check the token, sign in, bind the position, go to the
    call's card (or the console with a notice when the call is not known here)."""
    remote = client_address(request)
    try:
        await request.app[appkeys.CAD_LINK_LIMITER].hit(remote)
    except RateLimitExceeded as exc:
        # Not audited: a flood would fill the audit log; the server log says it once a request.
        log.warning("CAD link attempts from %s over the limit", remote)
        response = _refusal_page(request, Refusal.RATE_LIMITED)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    settings = request.app[appkeys.SETTINGS]
    try:
        link = cad_links.verify(request.query.get("token", ""), settings.cad_link)
    except CadLinkRefused as refused:
        return await _refuse(request, refused, remote)
    try:
        return await _sign_in(request, link, remote)
    except CadLinkRefused as refused:
        return await _refuse(request, refused, remote)


async def _sign_in(request: web.Request, link: CadLink, remote: str) -> web.StreamResponse:
    settings = request.app[appkeys.SETTINGS]
    claims: dict[str, object] = {"iss": link.issuer, "sub": link.username, "jti": link.jti}
    # The token is used up first, in its own transaction, whatever follows: a token refused for
    # its account or position cannot be tried again either.
    async with request.app[appkeys.DB].begin() as db:
        await cad_links.consume(db, link)
    async with request.app[appkeys.DB].begin() as db:
        account = await accounts.get_account_by_username(db, link.username)
        if account is None or account.disabled or account.role not in SESSION_ROLES:
            raise CadLinkRefused(Refusal.UNKNOWN_ACCOUNT, claims)
        if link.centre is not None and await centre_id_of(db, link.centre) != account.centre_id:
            # Another centre's regulator is answered like an unknown one; the audit says why.
            raise CadLinkRefused(
                Refusal.UNKNOWN_ACCOUNT,
                {**claims, "issuer_centre": link.centre, "other_centre": True},
            )
        if link.position not in await accounts.account_positions_of(db, account):
            raise CadLinkRefused(
                Refusal.POSITION_NOT_ALLOWED, {**claims, "position": link.position}
            )
        login_id = await console_logins.open_login(db, account.id, settings.console.session_max_age)
        call = (
            find_call(request.app[appkeys.REGISTRY], link.call, link.position)
            if link.call
            else None
        )
        if call is not None and request.app[appkeys.CENTRES].of_call(call) != account.centre_id:
            call = None  # another centre's call at this desk: as unknown as any other
        await audit.record(
            db,
            actor=account.username,
            action="console.cad_login",
            details={
                "issuer": link.issuer,
                "jti": link.jti,
                "position": link.position,
                "call": link.call,
                "call_known": call is not None,
                "remote": remote,
            },
        )
    if call is not None:
        location = f"/console#/call/{quote(call.call_id, safe='')}"
    elif link.call is not None:
        location = f"/console?notice={CALL_UNKNOWN_NOTICE}"
    else:
        location = "/console"
    cookie = request.app[appkeys.LOGIN_COOKIES].new(account.id, login_id, link.position)
    response = web.Response(status=303, headers={"Location": location})
    set_login_cookie(
        response,
        request.app[appkeys.LOGIN_COOKIES].dumps(cookie),
        settings.console.session_max_age,
        framed=bool(settings.cad_link.frame_ancestors),
        secure=settings.console.secure_cookies,
    )
    return response
