"""Typed keys for what the application holds (``app[KEY]``), declared in one place.

The web layer's own objects (the consoles' notifier, the login cookies, the live consoles) have
their keys in :mod:`.web.appkeys`, which adds them to these: nothing here depends on the web
layer.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.media import NetworkTestPeers

from .centres import CentreDirectory
from .documents import Documents
from .i18n import Catalogue
from .login_throttle import LoginLimiter
from .room_ownership import RoomOwnership
from .screen_share import ScreenShares
from .sessions.fanout import SessionFanout
from .sessions.location import Locator
from .sessions.remote_control import RemoteControl
from .sessions.services import SessionService
from .sessions.texts import TextMessages
from .settings import Settings
from .shared_ratelimit import Limiter
from .stills import Stills
from .telephony.registry import LiveCallRegistry
from .telephony.service import Telephony
from .uploads import ResumableUploads
from .video import RoomRegistry

__all__ = [
    "CAD_LINK_LIMITER",
    "CATALOGUE",
    "CENTRES",
    "DB",
    "DOCUMENTS",
    "FANOUT",
    "LINK_LIMITER",
    "LOCATOR",
    "LOGIN_LIMITER",
    "OWNERSHIP",
    "PATIENT_SOCKETS",
    "REGISTRY",
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

SETTINGS = web.AppKey("settings", Settings)
CATALOGUE = web.AppKey("catalogue", Catalogue)
CENTRES = web.AppKey("centres", CentreDirectory)
"""Which centre a call, a line or a desk belongs to, and each centre's time zone; reloaded
(``await app[CENTRES].reload(db)``) after a centre's time zone or desks change."""
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
REGISTRY = web.AppKey("registry", LiveCallRegistry)
TELEPHONY = web.AppKey("telephony", Telephony)
SESSION_SERVICE = web.AppKey("session_service", SessionService)
FANOUT = web.AppKey("fanout", SessionFanout)
"""Session events to and from the other instances; absent on SQLite (one instance)."""
LOGIN_LIMITER = web.AppKey("login_limiter", LoginLimiter)
LINK_LIMITER = web.AppKey("link_limiter", Limiter)
ROOMS = web.AppKey("rooms", RoomRegistry)
TEST_PEERS = web.AppKey("test_peers", NetworkTestPeers)
"""The technical test page's throw-away peers."""
CAD_LINK_LIMITER = web.AppKey("cad_link_limiter", Limiter)
"""CAD deep-link attempts per client address."""
TEST_LIMITER = web.AppKey("test_limiter", Limiter)
"""Test page requests per client address."""
STILLS = web.AppKey("stills", Stills)
"""Screenshots of the sessions' videos."""
TEXTS = web.AppKey("texts", TextMessages)
SCREEN_SHARES = web.AppKey("screen_shares", ScreenShares)
"""The regulators' screens shared with the patients."""
DOCUMENTS = web.AppKey("documents", Documents)
"""Documents and photos exchanged in the sessions, both ways."""
UPLOADS = web.AppKey("uploads", ResumableUploads)
"""The patient's uploads in progress (resumable)."""
REMOTE_CONTROL = web.AppKey("remote_control", RemoteControl)
LOCATOR = web.AppKey("locator", Locator)
"""Requests for the caller's position, and follows in progress."""
"""The patient pages' camera states and the regulators' commands in flight."""
OWNERSHIP = web.AppKey("ownership", RoomOwnership)
"""Which instance holds each live room (every room here when the instance is alone)."""
PATIENT_SOCKETS = web.AppKey("patient_sockets", set[web.WebSocketResponse])
"""Open patient page WebSockets, closed with GOING_AWAY on shutdown."""
