"""The ARI adapter: Asterisk REST Interface events over one WebSocket, turned into channel facts.

Client choice: the design card names ari-py, which is Python 2 only (as is its swaggerpy). Of the
asyncio clients, aioari (unmaintained since 2020) loads Asterisk's Swagger description at every
connection, hides the WebSocket's end and authenticates with aiohttp's deprecated ``BasicAuth``;
asyncari drags in anyio and renames ``Dial`` events; ari-client configures the root logger on
import. VisioRegul needs one events WebSocket and four GETs, so it uses aiohttp directly: the
link's life (connect, refused, lost) is then fully visible, which ``/healthz`` relies on.

Passive: the application subscribes to every channel and bridge (``subscribeAll``) but never takes
a call into Stasis. Asterisk refuses ARI writes (variables, hold...) on a channel outside Stasis
(409), so the pairing variable is written through AMI even when events come from ARI.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from ..settings import AriSettings
from .facts import (
    ChannelEnteredBridge,
    ChannelFact,
    ChannelHangup,
    ChannelHangupRequested,
    ChannelHold,
    ChannelLeftBridge,
    ChannelSnapshot,
    ChannelTagged,
    FeatureCodePressed,
    MalformedEvent,
    Resync,
)
from .link import Backoff, FactSink, LinkRefused, LinkState, LinkStatus, supervise

__all__ = ["AriSource", "fact_from_ari", "snapshot_from_ari"]

log = logging.getLogger(__name__)

TAG_EVENT = "VisioRegulCall"
INVITE_EVENT = "VisioRegulInvite"
LINE_VARIABLE = "VISIOREGUL_LINE"
CALLID_VARIABLE = "VISIOREGUL_CALLID"
_TIMEOUT = aiohttp.ClientTimeout(total=10)


def snapshot_from_ari(
    channel: Mapping[str, Any],
    *,
    linkedid: str | None = None,
    line: str | None = None,
    bridge_id: str | None = None,
    call_id: str | None = None,
    bridged_at: datetime | None = None,
) -> ChannelSnapshot:
    """The channel described by an ARI ``Channel`` object."""
    try:
        uniqueid = str(channel["id"])
        name = str(channel["name"])
    except (KeyError, TypeError) as exc:
        raise MalformedEvent(f"ARI channel without {exc}") from exc
    caller = channel.get("caller") or {}
    connected = channel.get("connected") or {}
    dialplan = channel.get("dialplan") or {}
    variables = channel.get("channelvars") or {}
    created = channel.get("creationtime")
    return ChannelSnapshot(
        uniqueid=uniqueid,
        linkedid=str(linkedid or channel.get("linkedid") or uniqueid),
        name=name,
        caller_number=str(caller.get("number") or ""),
        connected_number=str(connected.get("number") or ""),
        exten=str(dialplan.get("exten") or ""),
        context=str(dialplan.get("context") or ""),
        up=channel.get("state") == "Up",
        line=line or variables.get(LINE_VARIABLE) or None,
        bridge_id=bridge_id,
        call_id=call_id,
        created_at=_parse_time(created) if isinstance(created, str) else None,
        bridged_at=bridged_at,
    )


def _parse_time(value: str) -> datetime | None:
    # Asterisk writes "2026-11-29T06:12:01.123+0000".
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)
    except ValueError:
        return None


def fact_from_ari(event: Mapping[str, Any], at: datetime) -> ChannelFact | None:
    """The fact an ARI event states, or None when it says nothing VisioRegul needs."""
    kind = event.get("type")
    channel = event.get("channel")
    if kind == "ChannelUserevent":
        body = event.get("userevent") or {}
        if event.get("eventname") == INVITE_EVENT:
            call_id = str(body.get("CallId") or "")
            if not call_id or not isinstance(channel, Mapping):
                raise MalformedEvent(f"{INVITE_EVENT} without CallId or channel")
            snapshot = snapshot_from_ari(channel, linkedid=call_id)
            press_id = str(body.get("Press") or "") or None
            return FeatureCodePressed(channel=snapshot, call_id=call_id, at=at, press_id=press_id)
        if event.get("eventname") != TAG_EVENT:
            return None
        line = str(body.get("Line") or "")
        if not line or not isinstance(channel, Mapping):
            raise MalformedEvent(f"{TAG_EVENT} without Line or channel")
        call_id = str(body.get("CallId") or "")
        snapshot = snapshot_from_ari(channel, linkedid=call_id or None, line=line)
        return ChannelTagged(channel=snapshot, line=line, at=at, call_id=call_id)
    if kind in ("ChannelEnteredBridge", "ChannelLeftBridge"):
        bridge = event.get("bridge") or {}
        bridge_id = str(bridge.get("id") or "")
        if not bridge_id or not isinstance(channel, Mapping):
            raise MalformedEvent(f"{kind} without bridge or channel")
        snapshot = snapshot_from_ari(channel)
        if kind == "ChannelEnteredBridge":
            return ChannelEnteredBridge(channel=snapshot, bridge_id=bridge_id, at=at)
        return ChannelLeftBridge(channel=snapshot, bridge_id=bridge_id, at=at)
    if kind == "ChannelHangupRequest" and isinstance(channel, Mapping):
        return ChannelHangupRequested(channel=snapshot_from_ari(channel), at=at)
    if kind in ("ChannelHold", "ChannelUnhold") and isinstance(channel, Mapping):
        return ChannelHold(channel=snapshot_from_ari(channel), held=kind == "ChannelHold", at=at)
    if kind == "ChannelDestroyed" and isinstance(channel, Mapping):
        return ChannelHangup(channel=snapshot_from_ari(channel), at=at)
    return None


class AriSource:
    """Streams channel facts from ARI into a sink, forever, reconnecting with backoff."""

    def __init__(
        self,
        settings: AriSettings,
        sink: FactSink,
        *,
        status: LinkStatus | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.status = status or LinkStatus("ari")
        self.backoff = backoff or Backoff()
        self._http: aiohttp.ClientSession | None = None
        self._base = settings.url.rstrip("/") + "/ari"

    async def run(self) -> None:
        """Connect and stream until cancelled."""
        await supervise(self.status, self._connect_once, self.backoff, log)

    async def _connect_once(self) -> None:
        headers = {
            "Authorization": aiohttp.encode_basic_auth(
                self.settings.username, self.settings.password.get_secret_value()
            )
        }
        async with aiohttp.ClientSession(headers=headers, timeout=_TIMEOUT) as http:
            try:
                ws = await http.ws_connect(
                    f"{self._base}/events",
                    params={"app": self.settings.app, "subscribeAll": "true"},
                    heartbeat=10,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5),
                )
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):
                    raise LinkRefused(
                        f"ARI refused user {self.settings.username!r} (HTTP {exc.status}): "
                        "check ari.conf"
                    ) from exc
                raise ConnectionError(f"ARI WebSocket refused: HTTP {exc.status}") from exc
            except aiohttp.ClientConnectionError as exc:
                raise ConnectionError(str(exc)) from exc
            async with ws:
                self._http = http
                try:
                    await self._subscribe(http)
                    # Events that arrive meanwhile wait in the WebSocket's buffer and are read
                    # after the snapshot is applied, in order.
                    await self._resync(http)
                    self.status.set(LinkState.UP)
                    log.info("ARI link up (%s)", self.settings.url)
                    await self._read(ws)
                finally:
                    self._http = None

    async def _get(self, http: aiohttp.ClientSession, path: str, **params: str) -> Any:
        async with http.get(f"{self._base}{path}", params=params) as response:
            if response.status in (401, 403):
                raise LinkRefused(f"ARI refused GET {path}: HTTP {response.status}")
            if response.status == 404:
                return None
            if response.status >= 300:
                raise ConnectionError(f"ARI GET {path}: HTTP {response.status}")
            return await response.json()

    async def _subscribe(self, http: aiohttp.ClientSession) -> None:
        # subscribeAll covers it on Asterisk 16+; the explicit subscription keeps older ones
        # right. It is a write: a read-only user (the shipped template) is refused it, and
        # needs it not.
        async with http.post(
            f"{self._base}/applications/{self.settings.app}/subscription",
            params={"eventSource": "channel:,bridge:"},
        ) as response:
            if response.status == 401:
                raise LinkRefused(f"ARI refused the subscription: HTTP {response.status}")
            if response.status == 403:
                log.debug("ARI user is read-only: events come from subscribeAll alone")

    async def _resync(self, http: aiohttp.ClientSession) -> None:
        channels = await self._get(http, "/channels") or []
        bridges = await self._get(http, "/bridges") or []
        bridge_of = {
            channel_id: str(bridge["id"])
            for bridge in bridges
            for channel_id in bridge.get("channels", [])
        }
        bridge_created = {
            str(bridge["id"]): _parse_time(str(bridge.get("creationtime") or ""))
            for bridge in bridges
        }

        async def describe(channel: Mapping[str, Any]) -> ChannelSnapshot | None:
            channel_id = str(channel.get("id", ""))
            line = await self._variable(http, channel_id, LINE_VARIABLE)
            call_id = await self._variable(http, channel_id, CALLID_VARIABLE) if line else None
            linkedid = await self._variable(http, channel_id, "CHANNEL(linkedid)") if line else None
            bridge_id = bridge_of.get(channel_id)
            try:
                return snapshot_from_ari(
                    channel,
                    linkedid=linkedid,
                    line=line,
                    bridge_id=bridge_id,
                    call_id=call_id,
                    bridged_at=bridge_created.get(bridge_id) if bridge_id else None,
                )
            except MalformedEvent as exc:
                log.debug("ignored ARI channel: %s", exc)
                return None

        described = await asyncio.gather(*(describe(channel) for channel in channels))
        snapshots = [snapshot for snapshot in described if snapshot is not None]
        self.sink.resync(Resync(channels=snapshots, at=datetime.now(UTC)))

    async def _variable(
        self, http: aiohttp.ClientSession, channel_id: str, name: str
    ) -> str | None:
        reply = await self._get(http, f"/channels/{channel_id}/variable", variable=name)
        value = reply.get("value") if isinstance(reply, dict) else None
        return str(value) if value else None

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                if message.type is aiohttp.WSMsgType.ERROR:
                    raise ConnectionError(f"ARI WebSocket error: {ws.exception()}")
                continue
            try:
                event = json.loads(message.data)
                fact = fact_from_ari(event, datetime.now(UTC))
            except (ValueError, MalformedEvent) as exc:
                log.debug("ignored ARI event: %s", exc)
                continue
            if fact is not None:
                self.sink.fact(fact)
