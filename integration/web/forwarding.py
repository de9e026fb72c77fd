"""What one instance passes to another: a room's sockets and requests, to the instance holding it.

A load balancer sends each request to any instance. A room lives in one of them (its media are
in that process): the patient's socket, the photos and documents sent to it and the consoles'
video of that session must reach that instance (:mod:`visioregul.integration.room_ownership`).
The instance that receives them passes them on, to the holder's ``service.direct_url``:

- a patient's (or third party's) socket is piped whole, both ways, close codes included;
- a request that acts on the room (a still, a document, an upload) is sent on and its response
  returned as it came;
- a console's messages about one session go through a socket of their own per session
  (:mod:`.console_bridge`), since a console's socket serves every session of its desk.

Browsers never see another address: cookies, ``Origin`` and the content policy stay those of the
public URL. What is passed carries the instances' shared secret (``service.cluster_secret``), and
the client's real address, which the holder believes only with that secret. Nothing listening at
the holder's direct URL means its process is gone: its leases end, and this instance takes the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from ..client_address import RELAYED_CLIENT as RELAYED
from ..client_address import client_address
from ..room_ownership import InstanceUnreachable, RoomHere, RoomThere
from . import appkeys
from .errors import Forbidden

__all__ = [
    "CLIENT_HEADER",
    "FORWARDER",
    "RELAYED",
    "RELAY_HEADER",
    "Forwarder",
    "TryAgain",
    "forwarding_context",
    "relay_middleware",
    "room_routing_middleware",
]

log = logging.getLogger(__name__)

RELAY_HEADER = "X-VisioRegul-Relay"
"""Proof that another instance passed the request (derived from ``service.cluster_secret``)."""
CLIENT_HEADER = "X-VisioRegul-Client"
"""The real client's address, as the instance that received the request found it."""

_HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        hdrs.CONNECTION,
        hdrs.KEEP_ALIVE,
        hdrs.PROXY_AUTHENTICATE,
        hdrs.PROXY_AUTHORIZATION,
        hdrs.TE,
        hdrs.TRAILER,
        hdrs.TRANSFER_ENCODING,
        hdrs.UPGRADE,
        hdrs.CONTENT_LENGTH,
        hdrs.X_FORWARDED_FOR,
        RELAY_HEADER,
        CLIENT_HEADER,
    )
)
_SOCKET_HEADERS = (
    hdrs.COOKIE,
    hdrs.ORIGIN,
    hdrs.USER_AGENT,
    hdrs.ACCEPT_LANGUAGE,
    hdrs.HOST,
    hdrs.AUTHORIZATION,
)
CLOSE_MOVED = 1012
"""Close code of a page's socket whose room left this instance (``service restart``): the page
reconnects at once, and the load balancer finds the room's new holder."""


def relay_token(secret: str) -> str:
    """The value of :data:`RELAY_HEADER` for ``secret`` (the secret itself never travels)."""
    return hmac.new(secret.encode(), b"visioregul relay v1", hashlib.sha256).hexdigest()


class Forwarder:
    """This instance's client to the others."""

    def __init__(self, secret: str, instance: str) -> None:
        self.token = relay_token(secret) if secret else ""
        self.instance = instance
        self._http: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        """The client session (made on first use, inside the running loop)."""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=2),
            )
        return self._http

    async def close(self) -> None:
        """Close the client session."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    def is_relayed(self, request: web.Request) -> bool:
        """Whether ``request`` carries a valid proof that another instance passed it."""
        seen = request.headers.get(RELAY_HEADER, "")
        return bool(self.token) and hmac.compare_digest(seen.encode(), self.token.encode())

    def relay_headers(self, client: str) -> dict[str, str]:
        """The proof and the real client's address, for what is passed on."""
        return {RELAY_HEADER: self.token, CLIENT_HEADER: client, "X-VisioRegul-Via": self.instance}

    async def socket(
        self, request: web.Request, there: RoomThere, max_msg_size: int
    ) -> web.WebSocketResponse | None:
        """Pipe this WebSocket to the holder; None when nothing listens there (it is gone).

        The holder's refusal of the handshake is returned as it came (a 403 stays a 403).
        """
        headers: dict[str, str] = {
            str(h): request.headers[h] for h in _SOCKET_HEADERS if h in request.headers
        }
        headers.update(self.relay_headers(client_address(request)))
        try:
            upstream = await self.http.ws_connect(
                there.direct_url + request.path_qs,
                headers=headers,
                heartbeat=20,
                max_msg_size=max_msg_size,
            )
        except aiohttp.WSServerHandshakeError as error:
            if error.status == 503:
                raise TryAgain() from error  # it does not hold the room (any more): look again
            raise _refused(error.status) from error
        except aiohttp.ClientConnectorError:
            return None
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("instance %s did not answer: %s", there.instance, error)
            raise InstanceUnreachable() from error
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=max_msg_size)
        await ws.prepare(request)
        sockets = request.app[appkeys.PATIENT_SOCKETS]
        sockets.add(ws)  # closed when this instance stops, like the pages' own
        try:
            await pipe(ws, upstream)
        finally:
            sockets.discard(ws)
        return ws

    async def request(self, request: web.Request, there: RoomThere) -> web.Response | None:
        """Send this request to the holder and return its response; None when nothing listens
        there (it is gone)."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers.update(self.relay_headers(client_address(request)))
        try:
            async with self.http.request(
                request.method,
                there.direct_url + request.path_qs,
                headers=headers,
                data=request.content if request.body_exists else None,
                allow_redirects=False,
            ) as upstream:
                body = await upstream.read()
                response = web.Response(status=upstream.status, body=body)
                for name, value in upstream.headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        response.headers.add(name, value)
                return response
        except aiohttp.ClientConnectorError:
            return None
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("instance %s did not answer: %s", there.instance, error)
            raise InstanceUnreachable() from error


class TryAgain(Exception):
    """The instance reached does not hold the room (it moved on, or it is stopping)."""


def _refused(status: int) -> web.HTTPException:
    """The holder's refusal of a handshake, as this instance's response."""
    response = web.HTTPException()
    response.set_status(status)
    return response


async def pipe(ws: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Carry messages both ways until either side closes, then close the other with its code.

    A holder that vanishes (its process killed) closes the page's socket with
    :data:`CLOSE_MOVED`: the page reconnects, and its room is made again elsewhere.
    """

    async def down() -> None:
        async for message in upstream:
            if message.type is WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        code = upstream.close_code
        # The holder's own words (a normal end, the link's refusals) pass; anything else (it
        # stopped, it vanished) tells the page to reconnect.
        passed = code is not None and (code == WSCloseCode.OK or code >= 3000)
        await ws.close(code=code if code is not None and passed else CLOSE_MOVED)

    async def up() -> None:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await upstream.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await upstream.send_bytes(message.data)
        await upstream.close(code=ws.close_code or WSCloseCode.OK)

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await task
        if not upstream.closed:
            await upstream.close()
        if not ws.closed:
            await ws.close(code=CLOSE_MOVED)


FORWARDER = web.AppKey("forwarder", Forwarder)


async def forwarding_context(app: web.Application) -> AsyncIterator[None]:
    """The forwarder's life (an ``aiohttp`` cleanup context)."""
    service = app[appkeys.SETTINGS].service
    forwarder = Forwarder(service.cluster_secret.get_secret_value(), service.instance)
    app[FORWARDER] = forwarder
    yield
    await forwarder.close()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def relay_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Believe another instance's relay header only with the instances' secret (403 otherwise)."""
    if RELAY_HEADER in request.headers:
        if not request.app[FORWARDER].is_relayed(request):
            log.warning("refused a request on %s with a forged relay header", request.path)
            raise Forbidden()
        request[RELAYED] = request.headers.get(CLIENT_HEADER, "") or "unknown"
    return await handler(request)


_ROOM_ROUTES: dict[tuple[str, str], bool] = {
    # (method, route): whether a missing holder is claimed by this instance (a page's socket
    # makes the room) or the request is served here (nothing of the room to reach).
    ("GET", "/p/{token}/ws"): True,
    ("POST", "/p/{token}/documents"): False,
    ("POST", "/p/{token}/uploads"): False,
    ("GET", "/p/{token}/uploads/{upload_id}"): False,
    ("PATCH", "/p/{token}/uploads/{upload_id}"): False,
    ("POST", "/console/api/sessions/{session_id}/stills"): False,
    ("POST", "/console/api/sessions/{session_id}/documents"): False,
}
"""Routes that act on a live room: served by the instance holding it."""
_MAX_SOCKET_MESSAGE = 64 * 1024


@web.middleware
async def room_routing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve a route of :data:`_ROOM_ROUTES` where its room is (see the module's docstring).

    What another instance passed is served here: it found this instance holding the room.
    """
    ownership = request.app[appkeys.OWNERSHIP]
    route = request.match_info.route.resource
    claims = _ROOM_ROUTES.get((request.method, route.canonical if route else ""))
    if claims is None or not ownership.shared:
        return await handler(request)
    session_id = await _session_of(request)
    if session_id is None:
        return await handler(request)  # the handler refuses it as usual
    if RELAYED in request:
        if claims and isinstance(await ownership.claim(session_id), RoomThere):
            raise InstanceUnreachable()  # moved again meanwhile: the page tries again
        return await handler(request)
    for _attempt in range(2):
        there = await (ownership.claim(session_id) if claims else ownership.find(session_id))
        if there is None or isinstance(there, RoomHere):
            return await handler(request)
        forwarder = request.app[FORWARDER]
        response: web.StreamResponse | None
        try:
            if claims:
                response = await forwarder.socket(request, there, _MAX_SOCKET_MESSAGE)
            else:
                response = await forwarder.request(request, there)
        except TryAgain:
            continue
        if response is not None:
            return response
        await ownership.holder_gone(there)
    raise InstanceUnreachable()


async def _session_of(request: web.Request) -> str | None:
    """The session a room route is about."""
    session_id = request.match_info.get("session_id")
    if session_id is not None:
        return session_id
    token = request.match_info.get("token", "")
    return await request.app[appkeys.SESSION_SERVICE].links.session_of(token)
