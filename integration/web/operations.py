"""For the load balancer and monitoring: ``/readyz`` and ``/metrics``.

``/healthz`` (in ``api``) says whether the process lives and reaches its store. ``/readyz`` says
whether it should get new work: its store answers, its telephony link is up (or telephony is
off), it hears the other instances' session events (on PostgreSQL), and it has finished
starting and is not stopping. A load balancer takes an instance out on
503 before a restart closes its sockets. ``/metrics`` is Prometheus' text format, readable from
the addresses in ``service.metrics_allow`` only: the figures name nobody, but they tell how busy a
centre is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_address

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from ..client_address import client_address
from ..metrics import LiveFigures, ServiceMetrics, watch_event_loop
from ..telephony.link import LinkState
from . import appkeys
from .errors import Forbidden

__all__ = ["METRICS", "READINESS", "Readiness", "operations_context", "routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

_CHECK_TIMEOUT = 3.0
"""How long the store may take to answer ``SELECT 1`` before the instance is not ready."""


@dataclass
class Readiness:
    """Whether this instance has started and is not stopping."""

    started: bool = False
    stopping: bool = False


READINESS = web.AppKey("readiness", Readiness)
METRICS = web.AppKey("metrics", ServiceMetrics)


@routes.get("/readyz")
async def ready(request: web.Request) -> web.Response:
    """200 when the instance should get new work, else 503; each check's state either way."""
    app = request.app
    readiness = app[READINESS]
    instance = "stopping" if readiness.stopping else "ready" if readiness.started else "starting"
    link = app[appkeys.TELEPHONY].status.state
    telephony = "up" if link in (LinkState.UP, LinkState.DISABLED) else "down"
    database = await _database_state(app)
    # On PostgreSQL, an instance that no longer hears the others' session events would show
    # stale sessions: it takes no new work until it hears them again.
    fanout = app.get(appkeys.FANOUT)
    others = "alone" if fanout is None else "heard" if fanout.connected else "unheard"
    ok = instance == "ready" and telephony == "up" and database == "up" and others != "unheard"
    body = {
        "status": "ready" if ok else "not_ready",
        "instance": instance,
        "instance_id": app[appkeys.SETTINGS].service.instance,
        "database": database,
        "telephony": telephony,
        "other_instances": others,
    }
    return web.json_response(body, status=200 if ok else 503)


async def _database_state(app: web.Application) -> str:
    # Shielded: a slow store must not leave a transaction cancelled halfway (see
    # ``finish_middleware``); the check answers "down" and lets the query end by itself.
    query = asyncio.ensure_future(_select_one(app))
    try:
        await asyncio.wait_for(asyncio.shield(query), _CHECK_TIMEOUT)
    except Exception as exc:  # unreachable, refused, too slow: not ready, whatever the cause
        query.add_done_callback(_ignore_outcome)
        log.warning("readiness: database check failed: %r", exc)
        return "down"
    return "up"


async def _select_one(app: web.Application) -> None:
    async with app[appkeys.DB]() as db:
        await db.execute(text("SELECT 1"))


def _ignore_outcome(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """The service's figures in Prometheus' text format, for the allowed addresses only."""
    allowed = request.app[appkeys.SETTINGS].service.metrics_allow
    try:
        address = ip_address(client_address(request))
    except ValueError:
        address = None
    if address is None or not any(address in network for network in allowed):
        raise Forbidden()
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def operations_context(app: web.Application) -> AsyncIterator[None]:
    """Count what happens, watch the event loop; ready once everything before has started.

    Appended last to the application's cleanup contexts, so "started" means every other part
    has; ``on_shutdown`` (see :func:`stop_taking_work`) runs before any of them stops.
    """
    figures = app[METRICS]
    app[appkeys.REGISTRY].subscribe(figures.on_call)
    app[appkeys.SESSION_SERVICE].listeners.append(figures.on_session)
    figures.read_live(lambda: _live(app))
    lag = asyncio.create_task(watch_event_loop(figures), name="event-loop-lag")
    with figures.counting_errors(logging.getLogger("visioregul")):
        app[READINESS].started = True
        yield
    lag.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await lag


async def stop_taking_work(app: web.Application) -> None:
    """The instance is stopping: ``/readyz`` says so at once."""
    app[READINESS].stopping = True


def _live(app: web.Application) -> LiveFigures:
    relay = app[appkeys.ROOMS].figures()
    link = app[appkeys.TELEPHONY].status.state
    ownership = app.get(appkeys.OWNERSHIP)
    return LiveFigures(
        rooms=relay.rooms,
        publishers=relay.publishers,
        viewers=relay.viewers,
        frames_relayed=relay.frames_relayed,
        bytes_relayed=relay.bytes_relayed,
        console_sockets=app[appkeys.CONSOLES].count(),
        telephony_up=link in (LinkState.UP, LinkState.DISABLED),
        rooms_held=len(ownership.held) if ownership else 0,
        rooms_taken_over=ownership.taken_over if ownership else 0,
        rooms_lost=ownership.lost if ownership else 0,
    )
