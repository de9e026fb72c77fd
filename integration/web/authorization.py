"""The one place where HTTP routes are authorized: a middleware applying ``ROUTES``.

It finds the rule of the matched route (:data:`visioregul.integration.authorization.ROUTES`),
establishes who acts from the credential the rule names (console login or API key), checks the
role and, for a route about one session, that the session is of the principal's centre. A route
without a rule is refused (and logged): nothing is reachable by omission. Handlers find the
principal in ``request[appkeys.PRINCIPAL]``. The policy's refusals (``NotAllowed``,
``SessionNotFound``) are domain errors: the errors middleware maps them with the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import accounts
from ..authorization import (
    Credential,
    NotAllowed,
    Principal,
    Rule,
    check_role,
    check_session,
    route_rule,
)
from ..centre_admin import PasswordChangeRequired
from ..centre_codes import centre_id_of
from ..client_address import RELAYED_CLIENT
from . import appkeys
from .api import api_key_of
from .console import authenticated
from .errors import Forbidden

__all__ = ["authorization_middleware", "principal_of"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def principal_of(request: web.Request, rule: Rule) -> Principal | None:
    """Who acts, from the credential ``rule`` names; None for credentials the handler checks
    itself (a patient link, Twilio's signature) or none at all. Raise ``Unauthorized``."""
    if rule.credential is Credential.CONSOLE:
        _session, account = await authenticated(request)
        if account.must_change_password and rule.roles is not None:
            # A temporary password set by an administrator: choosing one's own comes first.
            raise PasswordChangeRequired()
        return Principal(account.username, account.role, account.centre_id)
    if rule.credential is Credential.API_KEY:
        return await _key_principal(request)
    if rule.credential is Credential.INSTANCE and RELAYED_CLIENT not in request:
        raise Forbidden()
    return None


async def _key_principal(request: web.Request) -> Principal:
    """The principal of a CAD key: the account it acts for, in that account's centre; or the
    key alone, in the centre it names (checked at start, looked up again here: a centre removed
    since leaves the key nothing)."""
    key_id, key = api_key_of(request)
    async with request.app[appkeys.DB]() as db:
        if key.account is None:
            centre_id = await centre_id_of(db, key.centre_code)
            if centre_id is None:
                log.warning("API key %s: no centre %r", key_id, key.centre_code)
                raise NotAllowed()
            return Principal(None, None, centre_id, api_key=key_id)
        acting = await accounts.get_account_by_username(db, key.account)
        named = await centre_id_of(db, key.centre) if key.centre is not None else None
    if acting is None or acting.disabled:
        log.warning("API key %s acts for %r: no such enabled account", key_id, key.account)
        raise NotAllowed()
    if key.centre is not None and named != acting.centre_id:
        log.warning(
            "API key %s of centre %r acts for %r of another", key_id, key.centre, key.account
        )
        raise NotAllowed()
    return Principal(acting.username, acting.role, acting.centre_id, api_key=key_id)


@web.middleware
async def authorization_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the matched route's rule before its handler runs."""
    resource = request.match_info.route.resource
    if resource is None:  # no route matched: the router's own 404 or 405
        return await handler(request)
    rule = route_rule(request.method, resource.canonical)
    if rule is None:
        log.error("no authorization rule for %s %s: refused", request.method, resource.canonical)
        raise Forbidden()
    principal = await principal_of(request, rule)
    if principal is not None:
        check_role(rule, principal)
        if rule.session:
            async with request.app[appkeys.DB]() as db:
                await check_session(db, principal, request.match_info["session_id"])
        request[appkeys.PRINCIPAL] = principal
    return await handler(request)
