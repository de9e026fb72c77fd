"""The telephony link, composed: a source (AMI or ARI), the call tracker and the registry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from ..settings import TelephonySettings
from .ami import AmiSource
from .ari import AriSource
from .facts import ChannelFact, ChannelTagged, FeatureCodePressed, Resync
from .link import Backoff, LinkState, LinkStatus
from .positions import PositionDirectory
from .registry import LiveCallRegistry
from .tracker import CallTracker

__all__ = ["FeatureCodeListener", "Telephony"]

log = logging.getLogger(__name__)

FeatureCodeListener = Callable[[FeatureCodePressed], None]
"""Hears a phone key press; it must return at once (the phone waits 3 s at most for an answer)."""


class Telephony:
    """Feeds the live-call registry from the configured Asterisk interface.

    A regulator's phone key (``FeatureCodePressed``) changes no call: it goes to the listeners
    registered with :meth:`on_feature_code`, which decide what to do and answer the phone.
    """

    def __init__(
        self,
        settings: TelephonySettings,
        registry: LiveCallRegistry,
        positions: PositionDirectory | None = None,
    ) -> None:
        """``positions`` says which channels are positions (from ``position_pattern`` when
        not given)."""
        self.settings = settings
        self.registry = registry
        self.positions = positions or PositionDirectory(settings.position_pattern)
        self.tracker = CallTracker(self.positions)
        self._undeclared_lines: set[str] = set()
        self.status = LinkStatus(settings.source)
        self.source: AmiSource | AriSource | None = None
        self._feature_code_listeners: list[FeatureCodeListener] = []
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

    def on_feature_code(self, listener: FeatureCodeListener) -> Callable[[], None]:
        """Call ``listener`` on every phone key press; returns the function that unsubscribes it."""
        self._feature_code_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._feature_code_listeners:
                self._feature_code_listeners.remove(listener)

        return unsubscribe

    # -- FactSink ----------------------------------------------------------------------------

    def fact(self, fact: ChannelFact) -> None:
        """Apply one fact from the source."""
        if isinstance(fact, FeatureCodePressed):
            self._feature_code(fact)
            return
        if isinstance(fact, ChannelTagged) and fact.line not in self.settings.lines:
            self._undeclared(fact.line)
            return
        for event in self.tracker.apply(fact):
            self.registry.apply(event)

    def resync(self, snapshot: Resync) -> None:
        """Apply Asterisk's current channels after a (re)connection."""
        for channel in snapshot.channels:
            if channel.line is not None and channel.line not in self.settings.lines:
                self._undeclared(channel.line)
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

    def _undeclared(self, line: str) -> None:
        if line in self._undeclared_lines:
            return
        self._undeclared_lines.add(line)
        log.warning(
            "calls tagged on line %r are ignored: it is not in telephony.lines %s "
            "(add it in the [telephony] section of the configuration to offer video for them)",
            line,
            self.settings.lines,
        )

    def _feature_code(self, fact: FeatureCodePressed) -> None:
        if fact.call_id not in self.tracker.calls:
            # The phone's channel was not created from the call (it picked up a parked call,
            # or it was in a conference first): it names its own Linkedid. Find the call it
            # talks with instead.
            found = self.tracker.call_of_channel(fact.channel.uniqueid)
            if found is not None:
                fact = replace(fact, call_id=found)
        log.info("feature code pressed on %s for call %s", fact.channel.name, fact.call_id)
        if not self._feature_code_listeners:
            # Nobody answers: the phone hears the error tone when its 3 s are up.
            log.warning("no listener for the feature code of %s", fact.channel.name)
        for listener in list(self._feature_code_listeners):
            try:
                listener(fact)
            except Exception:  # one broken listener must not starve the others
                log.exception("feature code listener %r failed", listener)
