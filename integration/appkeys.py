"""Typed keys for everything the application holds (``app[KEY]``), declared in one place."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .i18n import Catalogue
from .ratelimit import RateLimiter
from .sessions.services import SessionService
from .settings import Settings
from .telephony.registry import LiveCallRegistry
from .telephony.service import Telephony
from .video import RoomRegistry
from .web.notifier import Notifier
from .web.sessions import SessionCodec

__all__ = [
    "CATALOGUE",
    "DB",
    "LINK_LIMITER",
    "LOGIN_LIMITER",
    "NOTIFIER",
    "PATIENT_SOCKETS",
    "REGISTRY",
    "ROOMS",
    "SESSIONS",
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
SESSIONS = web.AppKey("sessions", SessionCodec)
SESSION_SERVICE = web.AppKey("session_service", SessionService)
LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)
LINK_LIMITER = web.AppKey("link_limiter", RateLimiter)
ROOMS = web.AppKey("rooms", RoomRegistry)
PATIENT_SOCKETS = web.AppKey("patient_sockets", set[web.WebSocketResponse])
"""Open patient page WebSockets, closed with GOING_AWAY on shutdown."""
