"""Typed keys for everything the application holds (``app[KEY]``), declared in one place."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .i18n import Catalogue
from .login_throttle import LoginThrottle
from .ratelimit import RateLimiter
from .sessions.services import SessionService
from .settings import Settings
from .telephony.registry import LiveCallRegistry
from .telephony.service import Telephony
from .video import RoomRegistry
from .web.console_login import LiveConsoles, LoginCookieCodec
from .web.notifier import Notifier

__all__ = [
    "CATALOGUE",
    "CONSOLES",
    "DB",
    "LINK_LIMITER",
    "LOGIN_COOKIES",
    "LOGIN_LIMITER",
    "NOTIFIER",
    "PATIENT_SOCKETS",
    "REGISTRY",
    "ROOMS",
    "SESSION_SERVICE",
    "SETTINGS",
    "TELEPHONY",
]

SETTINGS = web.AppKey("settings", Settings)
CATALOGUE = web.AppKey("catalogue", Catalogue)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
REGISTRY = web.AppKey("registry", LiveCallRegistry)
TELEPHONY = web.AppKey("telephony", Telephony)
NOTIFIER = web.AppKey("notifier", Notifier)
LOGIN_COOKIES = web.AppKey("login_cookies", LoginCookieCodec)
CONSOLES = web.AppKey("consoles", LiveConsoles)
"""Open console WebSockets per login, closed when the login is revoked."""
SESSION_SERVICE = web.AppKey("session_service", SessionService)
LOGIN_LIMITER = web.AppKey("login_limiter", LoginThrottle)
LINK_LIMITER = web.AppKey("link_limiter", RateLimiter)
ROOMS = web.AppKey("rooms", RoomRegistry)
PATIENT_SOCKETS = web.AppKey("patient_sockets", set[web.WebSocketResponse])
"""Open patient page WebSockets, closed with GOING_AWAY on shutdown."""
