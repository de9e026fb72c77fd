"""The composition root: ``create_app(settings)`` wires every part of the service.

Used by ``visioregul serve``, the demo and the tests alike. Each resource is opened in its own
cleanup context and closed in reverse order; background tasks are cancelled, then awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.media import NetworkTestPeers, rtc_configuration
from visioregul.patient_page import documents as patient_documents
from visioregul.patient_page import http as patient_http
from visioregul.patient_page import signalling as patient_signalling
from visioregul.patient_page import testpage as patient_testpage

from .cad_webhooks import WebhookDispatcher
from .centre_codes import configured_codes, resolve_codes
from .centres import CentreDirectory, all_positions, declare_centres
from .documents import Documents
from .geocoding import ReverseGeocoder
from .i18n import load_catalogue
from .login_throttle import LocalLoginThrottle, LoginLimiter, LoginThrottle
from .messaging import build_senders
from .metrics import ServiceMetrics
from .oidc import RelyingParty
from .ratelimit import RateLimiter
from .retention import purge_retained
from .room_ownership import RoomOwnership
from .screen_share import ScreenShares
from .sessions.fanout import SessionFanout
from .sessions.feature_code import FeatureCode
from .sessions.location import Locator
from .sessions.reminders import run_reminders
from .sessions.remote_control import RemoteControl
from .sessions.services import SessionService
from .sessions.texts import TextMessages
from .settings import Settings
from .shared_login_throttle import StoreLoginThrottle
from .shared_ratelimit import Limiter, LocalLimiter, StoreLimiter
from .stills import Stills
from .storage import DirectoryStorage
from .store.db import create_engine, is_postgresql, make_sessionmaker, upgrade
from .store.instance_lock import single_instance
from .telephony.pairing import Pairing
from .telephony.positions import PositionDirectory
from .telephony.registry import LiveCallRegistry
from .telephony.service import Telephony
from .uploads import ResumableUploads
from .video import RoomRegistry
from .web import (
    api,
    appkeys,
    console,
    console_admin,
    console_bridge,
    console_cad,
    console_pages,
    console_password,
    console_psc,
    documents_http,
    operations,
    reports_http,
    sessions_http,
    stills_http,
    twilio_callbacks,
)
from .web.authorization import authorization_middleware
from .web.console_login import LiveConsoles, LoginCookieCodec, load_secret_key
from .web.forwarding import forwarding_context, relay_middleware, room_routing_middleware
from .web.middleware import (
    errors_middleware,
    finish_middleware,
    security_headers_middleware,
    static_compression_middleware,
    websocket_origin_middleware,
)
from .web.notifier import Notifier
from .web.operations import Readiness
from .web.schemas import cad_payload
from .web.server_log import install_malformed_request_filter

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    """The whole service as an aiohttp application."""
    install_malformed_request_filter()
    app = web.Application(
        middlewares=[
            finish_middleware,
            security_headers_middleware,
            errors_middleware,
            relay_middleware,
            websocket_origin_middleware,
            authorization_middleware,
            room_routing_middleware,
            static_compression_middleware,
        ],
        client_max_size=1024**2,
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.CATALOGUE] = load_catalogue()
    registry = LiveCallRegistry(
        region=settings.telephony.region, trunk_format=settings.telephony.trunk_format
    )
    centres = CentreDirectory.from_settings(settings)
    app[appkeys.CENTRES] = centres
    notifier = Notifier(centres=centres)
    positions = PositionDirectory(settings.telephony.position_pattern)
    telephony = Telephony(settings.telephony, registry, positions)
    registry.subscribe(notifier.on_call)
    telephony.status.listeners.append(notifier.on_link)
    app[appkeys.REGISTRY] = registry
    app[appkeys.NOTIFIER] = notifier
    app[appkeys.TELEPHONY] = telephony
    app[appkeys.LOGIN_COOKIES] = LoginCookieCodec(
        load_secret_key(settings.service.data_dir), settings.console.session_max_age
    )
    app[appkeys.CONSOLES] = LiveConsoles()
    app[appkeys.LOGIN_LIMITER] = _login_limiter(app)
    app[appkeys.LINK_LIMITER] = _limiter(app, "link", 30, 60)
    # A CAD opens the console once per call taken: a few a minute from one desk at most.
    app[appkeys.CAD_LINK_LIMITER] = _limiter(app, "cad_link", 20, 60)
    # A whole test run makes two requests; a page reloaded a few times stays well within.
    app[appkeys.TEST_LIMITER] = _limiter(app, "test", 12, 60)
    # Each sign-in makes two requests here; a provider's logouts come one per session.
    app[appkeys.PSC_LIMITER] = _limiter(app, "psc", 30, 60)
    # Each account created or password reset hashes a password: a few dozen a minute at most.
    app[console_admin.ADMIN_LIMITER] = _limiter(app, "admin", 30, 60)
    if settings.psc.enabled:
        app[appkeys.RELYING_PARTY] = RelyingParty(
            settings.psc, settings.service.public_url.rstrip("/") + console_psc.CALLBACK_PATH
        )

    app.cleanup_ctx.append(_one_instance_on_sqlite)
    app.cleanup_ctx.append(_store)
    app.cleanup_ctx.append(_sessions)
    app.cleanup_ctx.append(_telephony)
    app.cleanup_ctx.append(forwarding_context)
    app.cleanup_ctx.append(_other_instances)
    app[operations.METRICS] = ServiceMetrics()
    app[operations.READINESS] = Readiness()
    app.cleanup_ctx.append(operations.operations_context)
    app.on_shutdown.append(operations.stop_taking_work)
    app[appkeys.PATIENT_SOCKETS] = set()
    app.on_shutdown.append(_close_notifier_queues)
    app.on_shutdown.append(_hand_rooms_over)
    app.on_shutdown.append(_close_patient_sockets)

    app.router.add_routes(api.routes)
    app.router.add_routes(operations.routes)
    app.router.add_routes(console.routes)
    app.router.add_routes(console_bridge.routes)
    app.router.add_routes(console_cad.routes)
    app.router.add_routes(console_password.routes)
    app.router.add_routes(console_admin.routes)
    app.router.add_routes(console_pages.routes)
    app.router.add_routes(console_psc.routes)
    app.router.add_routes(sessions_http.routes)
    app.router.add_routes(stills_http.routes)
    app.router.add_routes(documents_http.routes)
    app.router.add_routes(reports_http.routes)
    app.router.add_routes(twilio_callbacks.routes)
    # Before the landing page: its ``/p/{token:.+}`` would take ``/p/<token>/ws`` too.
    app.router.add_routes(patient_signalling.routes)
    app.router.add_routes(patient_testpage.routes)
    app.router.add_routes(patient_documents.routes)
    app.router.add_routes(patient_http.routes)
    app.router.add_static("/console/static", console.STATIC_DIR, follow_symlinks=False)
    app.router.add_static("/patient/static", patient_http.STATIC_DIR, follow_symlinks=False)
    app.router.add_get("/", _root)
    return app


def _limiter(app: web.Application, name: str, limit: int, period: int) -> Limiter:
    """A limit on a public route: counted in the store when instances share it (PostgreSQL),
    else in memory."""
    if is_postgresql(app[appkeys.SETTINGS].database.url):
        return StoreLimiter(name, limit, period, lambda: app[appkeys.DB])
    return LocalLimiter(RateLimiter(limit, period))


def _login_limiter(app: web.Application) -> LoginLimiter:
    """The console login throttle: counted in the store when instances share it (PostgreSQL),
    else in memory."""
    console = app[appkeys.SETTINGS].console
    if is_postgresql(app[appkeys.SETTINGS].database.url):
        return StoreLoginThrottle(
            lambda: app[appkeys.DB],
            free_failures=console.login_failures_before_delay,
            max_delay=console.login_max_delay,
        )
    return LocalLoginThrottle(
        LoginThrottle(
            free_failures=console.login_failures_before_delay, max_delay=console.login_max_delay
        )
    )


async def _root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console")


async def _one_instance_on_sqlite(app: web.Application) -> AsyncIterator[None]:
    with single_instance(app[appkeys.SETTINGS].database.url):
        yield


_DECLARE_LOCK = 0x5649_5349_4F00_0016
"""PostgreSQL advisory lock taken while an instance declares the configured centres and desks."""


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS].database
    if settings.auto_upgrade:
        await upgrade(settings.url)
    engine = create_engine(settings)
    app[appkeys.DB] = make_sessionmaker(engine)
    async with app[appkeys.DB].begin() as db:
        if is_postgresql(settings.url):
            # Instances starting together declare the same centres and desks: one at a time.
            await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DECLARE_LOCK})
        # The settings' centres and their desks, then what the store holds (the admin pages'
        # changes included) for the rest of the service.
        await declare_centres(db, app[appkeys.SETTINGS])
        positions = await all_positions(db)
        await app[appkeys.CENTRES].reload(db)
        # Keys, issuers and webhooks of a centre that does not exist: refuse to start.
        await resolve_codes(db, configured_codes(app[appkeys.SETTINGS]))
    _declare_to_telephony(app, positions)
    yield
    await engine.dispose()


def _declare_to_telephony(app: web.Application, positions: list[str]) -> None:
    """Hand the declared positions (the store's) to the telephony's position directory: the only
    desks a call may be at."""
    app[appkeys.TELEPHONY].positions.declare(positions)
    log.info("declared positions: %s", ", ".join(positions) or "none")


async def _sessions(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    telephony = app[appkeys.TELEPHONY]
    pairing = Pairing(settings.telephony.ami, telephony.source)
    # Out of every served folder: files leave only through routes that check who asks.
    storage = DirectoryStorage(settings.service.data_dir / "files")
    service = SessionService(
        db=app[appkeys.DB],
        settings=settings,
        senders=build_senders(settings.messaging, app[appkeys.DB]),
        registry=app[appkeys.REGISTRY],
        pairing=pairing,
        retry_key=load_secret_key(settings.service.data_dir),
        storage=storage,
        centres=app[appkeys.CENTRES],
    )
    await service.start()
    service.listeners.append(app[appkeys.NOTIFIER].on_session)
    async with app[appkeys.DB]() as db:
        centre_ids = await resolve_codes(db, configured_codes(settings))
    webhooks = WebhookDispatcher(settings.webhooks, cad_payload, centre_ids)
    await webhooks.start()
    service.listeners.append(webhooks.on_session)
    unsubscribe = app[appkeys.REGISTRY].subscribe(service.on_call)
    app[appkeys.SESSION_SERVICE] = service
    rooms = RoomRegistry(service, settings.video)
    rooms.start()
    service.listeners.append(rooms.on_session)
    app[appkeys.ROOMS] = rooms
    screens = ScreenShares(service, rooms.ice_servers)
    service.listeners.append(screens.on_session)
    app[appkeys.SCREEN_SHARES] = screens
    app[appkeys.TEST_PEERS] = NetworkTestPeers(
        lambda: rtc_configuration(rooms.ice_servers("network-test")), max_duration=15.0
    )
    app[appkeys.STILLS] = Stills(service, rooms, storage)
    app[appkeys.DOCUMENTS] = Documents(service, storage, settings.documents)
    app[appkeys.UPLOADS] = ResumableUploads(app[appkeys.DOCUMENTS], storage)
    texts = TextMessages(service, app[appkeys.CATALOGUE])
    service.listeners.append(texts.on_session)
    app[appkeys.TEXTS] = texts
    app[appkeys.REMOTE_CONTROL] = RemoteControl(service.record)
    geocoder = ReverseGeocoder(settings.geocoding)
    app[appkeys.LOCATOR] = Locator(
        service.record,
        service.record_with_rows,
        geocoder,
        timeout=settings.location.answer_timeout,
        follow_interval=settings.location.follow_interval,
        follow_distance=settings.location.follow_distance,
        imprecise_above=settings.location.imprecise_above,
    )
    # The desk phone's key (shipped [visioregul-feature]): opens a session for the call and
    # answers on the regulator's channel.
    feature_code = FeatureCode(
        service,
        app[appkeys.REGISTRY],
        app[appkeys.DB],
        pairing.set_variable,
        centres=app[appkeys.CENTRES],
        language=settings.service.language,
        instance=settings.service.instance,
    )
    unsubscribe_feature_code = telephony.on_feature_code(feature_code.on_pressed)
    housekeeping = asyncio.create_task(
        _housekeeping(service, app[appkeys.DB], settings), name="session-housekeeping"
    )
    reminders = asyncio.create_task(
        run_reminders(service.remind_unopened_links, settings.invitations.remind_after_minutes),
        name="link-reminders",
    )
    yield
    for task in (housekeeping, reminders):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    unsubscribe_feature_code()
    await feature_code.close()
    unsubscribe()
    await screens.close()
    await app[appkeys.TEST_PEERS].close()
    await rooms.close()
    await geocoder.close()
    await service.close()
    await webhooks.close()


async def _housekeeping(
    service: SessionService, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Expire idle sessions every minute; purge old ones, with the outbox, the audit log and
    expired console logins, every hour."""
    tick = 0
    while True:
        try:
            await service.expire_idle()
            await service.interrupted_elsewhere()
            if tick % 60 == 0:
                await service.purge()
                await purge_retained(db, settings)
        except Exception:  # the next round may do better; the service must not stop
            log.exception("session housekeeping failed")
        tick += 1
        await asyncio.sleep(60)


async def _other_instances(app: web.Application) -> AsyncIterator[None]:
    """On PostgreSQL, session events reach every instance (see ``sessions.fanout``), and each
    room is held by one instance (see ``room_ownership``)."""
    settings = app[appkeys.SETTINGS]
    service_settings = settings.service
    shared = is_postgresql(settings.database.url) and bool(service_settings.direct_url)
    ownership = RoomOwnership(
        app[appkeys.DB] if shared else None, service_settings.instance, service_settings.direct_url
    )
    app[appkeys.OWNERSHIP] = ownership
    rooms = app[appkeys.ROOMS]
    ownership.on_lost.append(rooms.move_out)
    ownership.on_taken.append(
        lambda session_id, previous: rooms.record_moved(
            session_id, previous, service_settings.instance
        )
    )
    app[appkeys.SESSION_SERVICE].listeners.append(ownership.on_session)
    await ownership.start()
    try:
        async with contextlib.AsyncExitStack() as stack:
            if is_postgresql(settings.database.url):
                await stack.enter_async_context(_session_fanout(app))
            yield
    finally:
        await ownership.close()


@contextlib.asynccontextmanager
async def _session_fanout(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    service = app[appkeys.SESSION_SERVICE]
    fanout = SessionFanout(
        settings.database.url,
        settings.service.instance,
        app[appkeys.DB],
        service.publish_from_elsewhere,
        on_gap=lambda: log.warning("session events of other instances may have been missed"),
        on_resync=app[appkeys.NOTIFIER].resync,
    )
    service.share_with_other_instances(fanout)
    fanout.start()
    with contextlib.suppress(TimeoutError):
        # Ready once it hears the others; the store was reachable a moment ago.
        await asyncio.wait_for(fanout.wait_connected(), 10)
    app[appkeys.FANOUT] = fanout
    yield
    await fanout.close()


async def _telephony(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[appkeys.TELEPHONY].run(), name="telephony")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _hand_rooms_over(app: web.Application) -> None:
    """Stopping: give every room up before the sockets close, so that the pages reconnecting
    through the load balancer find them free on another instance."""
    await app[appkeys.OWNERSHIP].close()


async def _close_patient_sockets(app: web.Application) -> None:
    open_sockets = app[appkeys.PATIENT_SOCKETS]
    sockets = list(open_sockets)
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY) for ws in sockets), return_exceptions=True
    )


async def _close_notifier_queues(app: web.Application) -> None:
    # A None wakes each WebSocket's sender, which closes its socket with GOING_AWAY.
    notifier = app[appkeys.NOTIFIER]
    for listeners in [*notifier.consoles.values(), notifier.cad]:
        for connection in list(listeners):
            with contextlib.suppress(asyncio.QueueFull):
                connection.queue.put_nowait(None)
