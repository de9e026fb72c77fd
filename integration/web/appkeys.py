"""The application's keys as the web layer uses them: every key of
:mod:`visioregul.integration.appkeys`, and those of the web layer's own objects."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import (
    CAD_LINK_LIMITER,
    CATALOGUE,
    CENTRES,
    DB,
    DOCUMENTS,
    FANOUT,
    LINK_LIMITER,
    LOCATOR,
    LOGIN_LIMITER,
    OWNERSHIP,
    PATIENT_SOCKETS,
    REGISTRY,
    REMOTE_CONTROL,
    ROOMS,
    SCREEN_SHARES,
    SESSION_SERVICE,
    SETTINGS,
    STILLS,
    TELEPHONY,
    TEST_LIMITER,
    TEST_PEERS,
    TEXTS,
    UPLOADS,
)
from ..authorization import Principal
from ..oidc import RelyingParty
from ..shared_ratelimit import Limiter
from .console_login import LiveConsoles, LoginCookieCodec
from .notifier import Notifier

__all__ = [
    "CAD_LINK_LIMITER",
    "CATALOGUE",
    "CENTRES",
    "CONSOLES",
    "DB",
    "DOCUMENTS",
    "FANOUT",
    "LINK_LIMITER",
    "LOCATOR",
    "LOGIN_COOKIES",
    "LOGIN_LIMITER",
    "NOTIFIER",
    "OWNERSHIP",
    "PATIENT_SOCKETS",
    "PRINCIPAL",
    "PSC_LIMITER",
    "REGISTRY",
    "RELYING_PARTY",
    "REMOTE_CONTROL",
    "ROOMS",
    "SCREEN_SHARES",
    "SESSION_SERVICE",
    "SETTINGS",
    "STILLS",
    "TELEPHONY",
    "TEST_LIMITER",
    "TEST_PEERS",
    "TEXTS",
    "UPLOADS",
]

NOTIFIER = web.AppKey("notifier", Notifier)
"""Call and session events out to the consoles and the CAD."""
LOGIN_COOKIES = web.AppKey("login_cookies", LoginCookieCodec)
"""The console login cookie's codec."""
CONSOLES = web.AppKey("consoles", LiveConsoles)
"""Open console WebSockets per login, closed when the login is revoked."""
RELYING_PARTY = web.AppKey("relying_party", RelyingParty)
"""The service as Pro Santé Connect's client; absent when ``psc.enabled`` is false."""
PSC_LIMITER = web.AppKey("psc_limiter", Limiter)
"""Requests to Pro Santé Connect's routes per client address."""
PRINCIPAL = web.RequestKey("principal", Principal)
"""Who a request acts for (``request[PRINCIPAL]``), set by the authorization middleware once the
route's rule let it through; absent on routes whose credential is a link, a signature or none."""
