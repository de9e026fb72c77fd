"""The telephony link, composed: a source (AMI or ARI), the call tracker and the registry."""

from __future__ import annotations

import logging
from dataclasses import replace

from ..settings import TelephonySettings
from .ami import AmiSource
from .ari import AriSource
from .facts import ChannelFact, ChannelTagged, Resync
from .link import Backoff, LinkState, LinkStatus
from .registry import LiveCallRegistry
from .tracker import CallTracker

__all__ = ["Telephony"]

log = logging.getLogger(__name__)


class Telephony:
    """Feeds the live-call registry from the configured Asterisk interface."""

    def __init__(self, settings: TelephonySettings, registry: LiveCallRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.tracker = CallTracker()
        self.status = LinkStatus(settings.source)
        self.source: AmiSource | AriSource | None = None
        backoff = Backoff(settings.reconnect_min, settings.reconnect_max)
        if settings.source == "ami":
            self.source = AmiSource(settings.ami, self, status=self.status, backoff=backoff)
        elif settings.source == "ari":
            self.source = AriSource(settings.ari, self, status=self.status, backoff=backoff)
        else:
            self.status.set(LinkState.DISABLED, "telephony.source = none")

    async def run(self) -> None:
        """Stream from Asterisk until cancelled (returns at once when disabled)."""
        if self.source is not None:
            await self.source.run()

    # -- FactSink ----------------------------------------------------------------------------

    def fact(self, fact: ChannelFact) -> None:
        """Apply one fact from the source."""
        if isinstance(fact, ChannelTagged) and fact.line not in self.settings.lines:
            return
        for event in self.tracker.apply(fact):
            self.registry.apply(event)

    def resync(self, snapshot: Resync) -> None:
        """Apply Asterisk's current channels after a (re)connection."""
        channels = [
            channel if channel.line in self.settings.lines else replace(channel, line=None)
            for channel in snapshot.channels
        ]
        events = self.tracker.resync(Resync(channels=channels, at=snapshot.at))
        log.info(
            "resynced from Asterisk: %d channels, %d tagged calls",
            len(channels),
            len(self.tracker.calls),
        )
        for event in events:
            self.registry.apply(event)
