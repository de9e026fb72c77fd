"""The AMI adapter: Asterisk Manager events through panoramisk, turned into channel facts.

Passive: it logs in with an event mask of ``call,user`` (channel, bridge and hold events, and the
``VisioRegulCall`` and ``VisioRegulInvite`` user events of the shipped dialplan), reads channels
with ``Status`` and the tagged ones' ``VISIOREGUL_CALLID`` with ``Getvar`` to resync after each
(re)connection, and sends nothing else but ``Setvar`` (the pairing variable, and the answer to
the phone key).

panoramisk reconnects by itself only after a first success and never reports a refused login;
this module owns the connection loop instead (one connection per attempt, see ``OneShotManager``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from panoramisk import Manager

from ..settings import AmiSettings
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

__all__ = ["AmiSource", "OneShotManager", "fact_from_ami", "setvar", "snapshot_from_ami"]

log = logging.getLogger(__name__)

TAG_EVENT = "VisioRegulCall"
"""Name of the user event the shipped ``visioregul-tag`` subroutine emits."""
INVITE_EVENT = "VisioRegulInvite"
"""Name of the user event the shipped ``visioregul-feature`` subroutine emits (the phone key)."""
LINE_VARIABLE = "VISIOREGUL_LINE"
CALLID_VARIABLE = "VISIOREGUL_CALLID"
"""Set by the tag on the caller's channel, inherited by every leg created from it: the call id."""
_UP = "6"
"""AMI ``ChannelState`` of an answered channel (``AST_STATE_UP``)."""
_EVENTS = (
    "UserEvent",
    "BridgeEnter",
    "BridgeLeave",
    "Hold",
    "Unhold",
    "HangupRequest",
    "SoftHangupRequest",
    "Hangup",
)
_TIMEOUT = 10.0


def snapshot_from_ami(event: Mapping[str, Any], at: datetime | None = None) -> ChannelSnapshot:
    """The channel described by an AMI event's channel fields (Newchannel, Status, Hangup...)."""
    try:
        uniqueid = str(event["Uniqueid"])
        linkedid = str(event.get("Linkedid") or uniqueid)
        name = str(event["Channel"])
    except KeyError as exc:
        raise MalformedEvent(f"AMI event without {exc.args[0]}") from exc
    line = None
    variables = event.get("Variable")
    for item in variables if isinstance(variables, list) else [variables] if variables else []:
        key, _, value = str(item).partition("=")
        if key == LINE_VARIABLE and value:
            line = value
    created_at = None
    seconds = _text(event.get("Seconds"))
    if at is not None and seconds.isdigit():
        # Status says how old the channel is, in whole seconds.
        created_at = at - timedelta(seconds=int(seconds))
    return ChannelSnapshot(
        uniqueid=uniqueid,
        linkedid=linkedid,
        name=name,
        created_at=created_at,
        caller_number=_text(event.get("CallerIDNum")),
        connected_number=_text(event.get("ConnectedLineNum")),
        exten=_text(event.get("Exten")),
        context=_text(event.get("Context")),
        up=str(event.get("ChannelState", "")) == _UP,
        line=line,
        bridge_id=_text(event.get("BridgeID")) or None,
    )


def _text(value: object) -> str:
    # Asterisk writes "<unknown>" for absent caller ids.
    text = "" if value is None else str(value)
    return "" if text == "<unknown>" else text


def fact_from_ami(event: Mapping[str, Any], at: datetime) -> ChannelFact | None:
    """The fact an AMI event states, or None when it says nothing VisioRegul needs."""
    name = event.get("Event")
    if name == "UserEvent":
        if event.get("UserEvent") == INVITE_EVENT:
            channel = snapshot_from_ami(event)
            # The event's own Linkedid says the same; CallId keeps AMI and ARI alike.
            call_id = _text(event.get("CallId")) or channel.linkedid
            press_id = _text(event.get("Press")) or None
            return FeatureCodePressed(channel=channel, call_id=call_id, at=at, press_id=press_id)
        if event.get("UserEvent") != TAG_EVENT:
            return None
        line = _text(event.get("Line"))
        if not line:
            raise MalformedEvent(f"{TAG_EVENT} without Line")
        channel = snapshot_from_ami(event)
        call_id = _text(event.get("CallId")) or channel.linkedid
        return ChannelTagged(channel=channel, line=line, at=at, call_id=call_id)
    if name in ("BridgeEnter", "BridgeLeave"):
        bridge_id = _text(event.get("BridgeUniqueid"))
        if not bridge_id:
            raise MalformedEvent(f"{name} without BridgeUniqueid")
        channel = snapshot_from_ami(event)
        if name == "BridgeEnter":
            return ChannelEnteredBridge(channel=channel, bridge_id=bridge_id, at=at)
        return ChannelLeftBridge(channel=channel, bridge_id=bridge_id, at=at)
    if name in ("Hold", "Unhold"):
        return ChannelHold(channel=snapshot_from_ami(event), held=name == "Hold", at=at)
    if name in ("HangupRequest", "SoftHangupRequest"):
        return ChannelHangupRequested(channel=snapshot_from_ami(event), at=at)
    if name == "Hangup":
        return ChannelHangup(channel=snapshot_from_ami(event), at=at)
    return None


async def setvar(manager: Manager, channel: str, name: str, value: str, timeout: float) -> None:
    """AMI ``Setvar`` on a logged-in manager; raise when Asterisk refuses it."""
    reply = await asyncio.wait_for(
        manager.send_action(
            {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
        ),
        timeout,
    )
    if not reply.success:
        raise RuntimeError(f"Setvar refused: {reply.get('Message', '')}")


class OneShotManager(Manager):
    """panoramisk's Manager, minus its own reconnection: each attempt is one instance."""

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        loop = asyncio.get_running_loop()
        self.logged_in: asyncio.Future[bool] = loop.create_future()
        self.lost: asyncio.Future[str] = loop.create_future()

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            if not self.logged_in.done():
                self.logged_in.set_exception(f.exception() or ConnectionError("cancelled"))
            return
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        try:
            ok = bool(super().login(future))
        except Exception as exc:  # the connection dropped while logging in
            if not self.logged_in.done():
                self.logged_in.set_exception(ConnectionError(str(exc)))
            return False
        if not self.logged_in.done():
            self.logged_in.set_result(ok)
        return ok

    def connection_lost(self, exc: object) -> None:
        self._connected = False
        pinger: asyncio.TimerHandle | None = getattr(self, "pinger", None)
        if pinger is not None:
            pinger.cancel()
            self.pinger = None
        if not self.lost.done():
            self.lost.set_result(str(exc) if exc else "closed")
        if not self.logged_in.done():
            self.logged_in.set_exception(ConnectionError("connection closed during login"))


class AmiSource:
    """Streams channel facts from AMI into a sink, forever, reconnecting with backoff."""

    def __init__(
        self,
        settings: AmiSettings,
        sink: FactSink,
        *,
        status: LinkStatus | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.status = status or LinkStatus("ami")
        self.backoff = backoff or Backoff()
        self._manager: OneShotManager | None = None
        self._pending: list[ChannelFact] | None = None

    async def run(self) -> None:
        """Connect and stream until cancelled."""
        await supervise(self.status, self._connect_once, self.backoff, log)

    async def set_variable(self, channel: str, name: str, value: str) -> None:
        """Set a channel variable (pairing, phone key answer); the only write this adapter makes."""
        manager = self._manager
        if manager is None or self.status.state is not LinkState.UP:
            raise ConnectionError("AMI link is not up")
        await setvar(manager, channel, name, value, _TIMEOUT)

    async def _connect_once(self) -> None:
        manager = OneShotManager(
            host=self.settings.host,
            port=self.settings.port,
            username=self.settings.username,
            secret=self.settings.secret.get_secret_value(),
            events="call,user",
            ping_delay=10,
            loop=asyncio.get_running_loop(),
            log=logging.getLogger("panoramisk"),
        )
        for name in _EVENTS:
            manager.register_event(name, self._on_event)
        manager.connect()
        try:
            if not await asyncio.wait_for(manager.logged_in, _TIMEOUT):
                raise LinkRefused(
                    f"login refused for AMI user {self.settings.username!r} "
                    "(check secret, permit/deny and manager.conf)"
                )
            self._manager = manager
            await self._resync(manager)
            self.status.set(LinkState.UP)
            log.info("AMI link up (%s:%s)", self.settings.host, self.settings.port)
            reason = await manager.lost
            log.debug("AMI connection lost: %s", reason)
        finally:
            self._manager = None
            self._pending = None
            manager.close()

    async def _resync(self, manager: OneShotManager) -> None:
        # Facts that arrive while Status is answered are replayed after the snapshot.
        self._pending = []
        replies = await asyncio.wait_for(
            # panoramisk detects the event list ("EventList: start") and returns every entry; an
            # error comes back alone.
            manager.send_action({"Action": "Status", "Variables": LINE_VARIABLE}),
            _TIMEOUT,
        )
        if not isinstance(replies, list):
            replies = [replies]
        if replies and replies[0].get("Response") == "Error":
            raise LinkRefused(f"AMI Status refused: {replies[0].get('Message', '')}")
        now = datetime.now(UTC)
        channels = []
        for reply in replies:
            if reply.get("Event") != "Status":
                continue
            try:
                channels.append(snapshot_from_ami(reply, now))
            except MalformedEvent as exc:
                log.debug("ignored Status entry: %s", exc)
        # The call's id is read back from the tagged channels themselves (Getvar): their
        # Linkedid may have changed since the tag.
        channels = [
            replace(channel, call_id=await self._getvar(manager, channel.name, CALLID_VARIABLE))
            if channel.line
            else channel
            for channel in channels
        ]
        self.sink.resync(Resync(channels=channels, at=now))
        pending, self._pending = self._pending, None
        for fact in pending:
            self.sink.fact(fact)

    @staticmethod
    async def _getvar(manager: OneShotManager, channel: str, name: str) -> str | None:
        reply = await asyncio.wait_for(
            manager.send_action({"Action": "Getvar", "Channel": channel, "Variable": name}),
            _TIMEOUT,
        )
        value = _text(reply.get("Value")) if reply.success else ""
        return value or None

    def _on_event(self, _manager: Manager, event: Mapping[str, Any]) -> None:
        try:
            fact = fact_from_ami(event, datetime.now(UTC))
        except MalformedEvent as exc:
            log.debug("ignored AMI event: %s", exc)
            return
        if fact is None:
            return
        if self._pending is not None:
            self._pending.append(fact)
        else:
            self.sink.fact(fact)
