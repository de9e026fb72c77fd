"""A console's messages about a session whose room another instance holds.

A console's socket serves every session of its desk, on whichever instance the load balancer
chose; each room lives on one instance (:mod:`visioregul.integration.room_ownership`). For a
session held elsewhere, the console's instance opens one socket of its own to the holder
(``/internal/sessions/<id>/console``, with the instances' secret), sends that session's messages
through it and hands the console what comes back: the video offers, the answers to commands.

The console's instance has checked who the console is and that the session is of its centre; the
holder acts for the identity it is given, for that one session only. When the holder goes (its
process killed, or the room moved on), the console is told its pictures left (``video.left``,
reason ``moved``): it watches again, and the room is found, or made, where it is now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import WSCloseCode, web

from ..authorization import CONSOLE_SOCKET, message_rule
from ..room_ownership import InstanceUnreachable, RoomThere
from ..video import ROOM_MOVED, SESSION_CLOSED
from . import appkeys
from .console_parts import ConsoleParts
from .forwarding import CLOSE_MOVED, Forwarder, TryAgain
from .notifier import Connection, send_queued

__all__ = ["ConsoleBridges", "routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

_USER = "X-VisioRegul-User"
_POSITION = "X-VisioRegul-Position"
_CENTRE = "X-VisioRegul-Centre"
_LANGUAGE = "X-VisioRegul-Language"
_MAX_MESSAGE = 64 * 1024


@dataclass(frozen=True, slots=True)
class ConsoleIdentity:
    """Who the console is, as its own instance established."""

    username: str
    position: str
    centre_id: int
    language: str


@dataclass
class _Bridge:
    instance: str
    socket: aiohttp.ClientWebSocketResponse
    reader: asyncio.Task[None] | None = None
    viewers: dict[str, str] = field(default_factory=dict)
    """The console's subscriptions made through it: viewer id to publisher id."""
    closing: bool = False


class ConsoleBridges:
    """One console socket's sockets to the instances holding its sessions' rooms."""

    def __init__(
        self,
        forwarder: Forwarder,
        connection: Connection,
        identity: ConsoleIdentity,
        public_url: str,
        client: str,
    ) -> None:
        """``client``: the console's address (the holder logs and limits by it)."""
        self._forwarder = forwarder
        self._client = client
        self._connection = connection
        self._identity = identity
        self._origin = public_url
        self._bridges: dict[str, _Bridge] = {}

    async def forward(self, there: RoomThere, session_id: str, data: dict[str, Any]) -> bool:
        """Send ``data`` to the holder of the session's room; False when nothing listens at
        its direct URL (it is gone). Raise :class:`TryAgain` when it no longer holds the room."""
        bridge = self._bridges.get(session_id)
        if bridge is not None and (bridge.instance != there.instance or bridge.socket.closed):
            await self._drop(session_id, bridge)
            bridge = None
        if bridge is None:
            opened = await self._open(there, session_id)
            if opened is None:
                return False
            bridge = opened
        try:
            await bridge.socket.send_str(json.dumps(data))
        except (ConnectionError, RuntimeError):
            await self._drop(session_id, bridge)
            return False
        return True

    async def close(self) -> None:
        """The console's socket closed: close every bridge."""
        for session_id, bridge in list(self._bridges.items()):
            await self._drop(session_id, bridge)

    async def _open(self, there: RoomThere, session_id: str) -> _Bridge | None:
        identity = self._identity
        headers = {
            **self._forwarder.relay_headers(self._client),
            "Origin": self._origin,
            _USER: identity.username,
            _POSITION: identity.position,
            _CENTRE: str(identity.centre_id),
            _LANGUAGE: identity.language,
        }
        url = f"{there.direct_url}/internal/sessions/{quote(session_id, safe='')}/console"
        try:
            socket = await self._forwarder.http.ws_connect(
                url, headers=headers, heartbeat=20, max_msg_size=_MAX_MESSAGE
            )
        except aiohttp.WSServerHandshakeError as error:
            log.info(
                "instance %s refused session %s's console: %s",
                there.instance,
                session_id,
                error.status,
            )
            if error.status == 503:
                raise TryAgain() from error  # it no longer holds the room: look again
            raise InstanceUnreachable() from error
        except aiohttp.ClientConnectorError:
            return None
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("instance %s did not answer: %s", there.instance, error)
            raise InstanceUnreachable() from error
        bridge = _Bridge(there.instance, socket)
        self._bridges[session_id] = bridge
        bridge.reader = asyncio.create_task(self._read(session_id, bridge))
        log.info(
            "console of %s reaches session %s at instance %s",
            identity.username,
            session_id,
            there.instance,
        )
        return bridge

    async def _read(self, session_id: str, bridge: _Bridge) -> None:
        """Hand the console what the holder sends; tell it its pictures left when it goes."""
        async for message in bridge.socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            if data.get("type") == "video.offer":
                bridge.viewers[str(data.get("viewer_id"))] = str(data.get("publisher_id"))
            elif data.get("type") == "video.left":
                bridge.viewers.pop(str(data.get("viewer_id")), None)
            self._connection.send(data)
        if self._bridges.get(session_id) is bridge:
            del self._bridges[session_id]
        if not bridge.closing:
            log.info("session %s's room left instance %s", session_id, bridge.instance)
            for viewer_id, publisher_id in bridge.viewers.items():
                self._connection.send(
                    {
                        "type": "video.left",
                        "session_id": session_id,
                        "viewer_id": viewer_id,
                        "publisher_id": publisher_id,
                        "reason": "moved",
                    }
                )
        bridge.viewers.clear()

    async def _drop(self, session_id: str, bridge: _Bridge) -> None:
        bridge.closing = True
        if self._bridges.get(session_id) is bridge:
            del self._bridges[session_id]
        await bridge.socket.close()
        if bridge.reader is not None:
            bridge.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bridge.reader


# -- the holder's side -------------------------------------------------------------------------


@routes.get("/internal/sessions/{session_id}/console")
async def bridged_console(request: web.Request) -> web.StreamResponse:
    """Another instance's console, for one session whose room this instance holds."""
    session_id = request.match_info["session_id"]
    if isinstance(await request.app[appkeys.OWNERSHIP].claim(session_id), RoomThere):
        raise InstanceUnreachable()  # moved on meanwhile: the console's instance looks again
    try:
        identity = ConsoleIdentity(
            request.headers[_USER],
            request.headers[_POSITION],
            int(request.headers[_CENTRE]),
            request.headers.get(_LANGUAGE, "fr"),
        )
    except (KeyError, ValueError) as error:
        raise web.HTTPBadRequest() from error
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=_MAX_MESSAGE)
    await ws.prepare(request)
    connection = Connection(identity.position, centre_id=identity.centre_id)
    parts = ConsoleParts.build(
        request.app, connection, identity.username, identity.position, identity.language
    )

    closing: set[asyncio.Task[bool]] = set()

    def on_room(kind: str, _details: object) -> None:
        # Moved: the console's instance finds the room where it is now. Ended: nothing more
        # to carry (the console was told by its video's ``video.left``).
        if kind in (ROOM_MOVED, SESSION_CLOSED):
            code = CLOSE_MOVED if kind == ROOM_MOVED else WSCloseCode.OK
            task = asyncio.ensure_future(ws.close(code=code))
            closing.add(task)
            task.add_done_callback(closing.discard)

    stop_listening = request.app[appkeys.ROOMS].listen(session_id, on_room)
    sockets = request.app[appkeys.PATIENT_SOCKETS]
    sockets.add(ws)  # closed at shutdown with the pages' sockets
    sender = asyncio.create_task(send_queued(ws, connection))
    try:
        async for message in ws:
            if message.type is not web.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(message.data)
            except (ValueError, RecursionError):
                continue
            if not isinstance(data, dict) or data.get("session_id") != session_id:
                continue  # this socket carries one session's messages
            rule = message_rule(CONSOLE_SOCKET, data.get("type"))
            if rule is None or not rule.session:
                continue
            await parts.handle(data)
    finally:
        stop_listening()
        sockets.discard(ws)
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        await parts.close()
    return ws
