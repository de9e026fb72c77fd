"""The CAD-facing HTTP API (``/api/v1``) and the health endpoint.

Authenticated by an API key in ``Authorization: Bearer``. Keys are configured in
``console.api_keys``; an entry written ``sha256:<hex>`` is compared by hash, so the configuration
file need not hold the key itself. A key configured with an ``account`` acts for that account,
in its centre; a key naming no account belongs to the centre its ``centre`` names and reads that
centre's live calls only (see :mod:`visioregul.integration.authorization`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from pathlib import Path

from aiohttp import web
from sqlalchemy import text

from ..settings import ApiKey
from ..telephony.link import LinkState
from ..telephony.registry import LiveCall
from . import appkeys
from .errors import NotFound, Unauthorized
from .notifier import Connection, send_queued
from .schemas import call_json, link_json

__all__ = ["OPENAPI_FILE", "api_key_account", "api_key_of", "check_api_key", "routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


def check_api_key(request: web.Request) -> str:
    """The id of the API key the request carries (its hash prefix); raise when invalid."""
    return api_key_account(request)[0]


def api_key_account(request: web.Request) -> tuple[str, str | None]:
    """The id of the API key the request carries and the username it acts for (None for a
    plain key); raise ``Unauthorized`` when the key is missing or unknown."""
    key_id, configured = api_key_of(request)
    return key_id, configured.account


def api_key_of(request: web.Request) -> tuple[str, ApiKey]:
    """The id of the API key the request carries and its settings (account, centre); raise
    ``Unauthorized`` when the key is missing or unknown."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized()
    digest = hashlib.sha256(key.strip().encode()).hexdigest()
    matched: ApiKey | None = None
    for configured in request.app[appkeys.SETTINGS].console.api_keys:
        value = configured.key.get_secret_value()
        expected = (
            value[7:] if value.startswith("sha256:") else hashlib.sha256(value.encode()).hexdigest()
        )
        # Compare every key, so the time taken says nothing about which one nearly matched.
        if hmac.compare_digest(digest, expected.lower()):
            matched = configured
    if matched is None:
        raise Unauthorized()
    return digest[:12], matched


def _ours(request: web.Request, call: LiveCall) -> bool:
    """Whether the principal may know of ``call``: one with a centre, that centre's calls only."""
    centre_id = request[appkeys.PRINCIPAL].centre_id
    return centre_id is None or request.app[appkeys.CENTRES].of_call(call) == centre_id


@routes.get("/healthz")
async def health(request: web.Request) -> web.Response:
    """Up (200) while the service can serve, down (503) when its store is unreachable.

    Publicly that is all it says: which Asterisk is watched, as which user, and the links'
    states are details for the CAD and monitoring, given only with an API key. A telephony link
    that is down makes the service ``degraded``, not down: calls go on regardless, and the
    console still works for manual invitations.
    """
    detailed = "Authorization" in request.headers
    if detailed:
        check_api_key(request)
    telephony = request.app[appkeys.TELEPHONY].status
    database = "up"
    try:
        async with request.app[appkeys.DB]() as db:
            await asyncio.wait_for(db.execute(text("SELECT 1")), 5)
    except Exception as exc:
        log.warning("health: database check failed: %s", exc)
        database = "down"
    code = 503 if database == "down" else 200
    if not detailed:
        return web.json_response({"status": "down" if database == "down" else "up"}, status=code)
    healthy_link = telephony.state in (LinkState.UP, LinkState.DISABLED)
    status = "ok" if database == "up" and healthy_link else "degraded"
    if database == "down":
        status = "unavailable"
    return web.json_response(
        {"status": status, "database": database, "telephony": link_json(telephony)}, status=code
    )


@routes.get("/api/v1/openapi.yaml")
async def openapi(request: web.Request) -> web.FileResponse:
    """The API's OpenAPI description."""
    return web.FileResponse(OPENAPI_FILE, headers={"Content-Type": "application/yaml"})


@routes.get("/api/v1/calls")
async def list_calls(request: web.Request) -> web.Response:
    """Live (and recently ended) tagged calls; ``?position=`` and ``?state=`` filter them."""
    check_api_key(request)
    registry = request.app[appkeys.REGISTRY]
    position = request.query.get("position")
    state = request.query.get("state")
    calls = [
        call_json(call)
        for call in registry.calls(position=position)
        if (state is None or call.state.value == state) and _ours(request, call)
    ]
    return web.json_response({"calls": calls})


@routes.get("/api/v1/calls/{call_id}")
async def get_call(request: web.Request) -> web.Response:
    """One call by id (Asterisk's ``Linkedid``)."""
    check_api_key(request)
    call = request.app[appkeys.REGISTRY].get(request.match_info["call_id"])
    if call is None or not _ours(request, call):
        # Another centre's call is answered as an unknown one.
        raise NotFound("call_not_found")
    return web.json_response(call_json(call))


@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Every call event, live, as JSON messages; starts with a snapshot of the calls."""
    check_api_key(request)
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    notifier = request.app[appkeys.NOTIFIER]
    principal = request[appkeys.PRINCIPAL]
    # Every key listens within its centre; session updates only for a key acting for a regulator
    # or doctor (of that account's centre): a plain key reads calls.
    connection = Connection(
        None, centre_id=principal.centre_id, sessions=principal.username is not None
    )
    notifier.attach(connection)
    try:
        await ws.send_json(
            {
                "type": "snapshot",
                "telephony": link_json(request.app[appkeys.TELEPHONY].status),
                "calls": [
                    call_json(call)
                    for call in request.app[appkeys.REGISTRY].calls()
                    if notifier.hears(connection, call)
                ],
            }
        )
        sender = asyncio.create_task(send_queued(ws, connection))
        try:
            async for _message in ws:
                pass  # the stream is one-way; reading keeps pings and the close handshake going
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    finally:
        notifier.detach(connection)
    return ws
