"""What the service counts for monitoring, in Prometheus' model (``prometheus-client``).

One registry per service (never the library's global one), so that several services in one
process (the tests) keep their own figures. Counters follow events as they happen (calls seen,
offers, session events, logged errors); gauges that describe the present (rooms, viewers, console
sockets, the telephony link) are read from the live objects when Prometheus scrapes, so they can
never drift. Nothing here names a caller, a number or a session: figures only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .sessions.journal import SessionUpdate
from .telephony.events import CallAnswered, CallRinging, CallTransferred
from .telephony.registry import CallUpdate

__all__ = ["LiveFigures", "ServiceMetrics", "watch_event_loop"]

log = logging.getLogger(__name__)

_INVITATION_OUTCOMES = frozenset(
    {
        "invitation.sent",
        "invitation.delivered",
        "invitation.undelivered",
        "invitation.failed",
        "invitation.simulated",
        "invitation.revoked",
    }
)
"""The session events that say what became of an invitation."""

LAG_INTERVAL = 0.5
"""How often the event loop's lag is measured, in seconds."""


@dataclass(frozen=True, slots=True)
class LiveFigures:
    """A snapshot of what is live now, taken when Prometheus scrapes."""

    rooms: int
    publishers: int
    viewers: int
    frames_relayed: int
    """Since the service started (closed rooms included): a counter."""
    bytes_relayed: int
    """Since the service started (closed rooms included): a counter."""
    console_sockets: int
    telephony_up: bool
    rooms_held: int = 0
    """Rooms this instance holds under a lease (several instances only)."""
    rooms_taken_over: int = 0
    """Rooms taken from an instance that was gone, since the service started: a counter."""
    rooms_lost: int = 0
    """Rooms another instance took from this one, since the service started: a counter."""


class _LiveCollector(Collector):
    """Reads :class:`LiveFigures` at each scrape."""

    def __init__(self, read: Callable[[], LiveFigures]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        figures = self._read()
        yield GaugeMetricFamily("visioregul_rooms", "Open video rooms.", value=figures.rooms)
        yield GaugeMetricFamily(
            "visioregul_publishers",
            "Cameras publishing into the rooms (patients, third parties).",
            value=figures.publishers,
        )
        yield GaugeMetricFamily(
            "visioregul_viewers", "Viewers subscribed to the rooms' video.", value=figures.viewers
        )
        yield CounterMetricFamily(
            "visioregul_relay_frames",
            "Video frames received from publishers and relayed.",
            value=figures.frames_relayed,
        )
        yield CounterMetricFamily(
            "visioregul_relay_bytes",
            "Video bytes received from publishers and relayed (rate() x 8: the relay's bitrate).",
            value=figures.bytes_relayed,
        )
        yield GaugeMetricFamily(
            "visioregul_console_sockets",
            "Regulators' consoles connected.",
            value=figures.console_sockets,
        )
        yield GaugeMetricFamily(
            "visioregul_rooms_held",
            "Rooms this instance holds under a lease, among several instances.",
            value=figures.rooms_held,
        )
        yield CounterMetricFamily(
            "visioregul_rooms_taken_over",
            "Rooms taken over from an instance that was gone (its pages reconnected here).",
            value=figures.rooms_taken_over,
        )
        yield CounterMetricFamily(
            "visioregul_rooms_lost",
            "Rooms this instance stopped holding because another took them (lease not renewed).",
            value=figures.rooms_lost,
        )
        yield GaugeMetricFamily(
            "visioregul_telephony_up",
            "1 while the link to Asterisk is up (or telephony is off), else 0.",
            value=1 if figures.telephony_up else 0,
        )


class _ErrorCounter(logging.Handler):
    """Counts every ERROR (and worse) the service logs, by the logger's top modules."""

    def __init__(self, counter: Counter) -> None:
        super().__init__(logging.ERROR)
        self._counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        source = ".".join(record.name.split(".")[:3])
        self._counter.labels(source=source).inc()


class ServiceMetrics:
    """The service's figures, and the hooks that feed them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls_seen = Counter(
            "visioregul_calls_seen",
            "Tagged calls seen ringing.",
            registry=self.registry,
        )
        self.offers = Counter(
            "visioregul_call_offers",
            "Calls that reached a regulator's position (offered on that console).",
            registry=self.registry,
        )
        self.session_events = Counter(
            "visioregul_session_events",
            "Session events written, by type.",
            ["type"],
            registry=self.registry,
        )
        self.invitations = Counter(
            "visioregul_invitations",
            "What became of invitations, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "visioregul_errors",
            "Errors logged, by module.",
            ["source"],
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "visioregul_event_loop_lag_seconds",
            "How late the event loop ran a timer (a busy or blocked loop delays every socket).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self._error_handler = _ErrorCounter(self.errors)

    def on_call(self, update: CallUpdate) -> None:
        """Call registry listener."""
        if isinstance(update.event, CallRinging) and update.previous is None:
            self.calls_seen.inc()
        elif isinstance(update.event, CallAnswered | CallTransferred):
            self.offers.inc()

    def on_session(self, update: SessionUpdate) -> None:
        """Session listener (events written here: each instance counts its own)."""
        if update.elsewhere:
            return
        kind = update.event.type
        self.session_events.labels(type=kind).inc()
        if kind in _INVITATION_OUTCOMES:
            self.invitations.labels(outcome=kind.removeprefix("invitation.")).inc()

    def read_live(self, read: Callable[[], LiveFigures]) -> None:
        """Read the live figures from ``read`` at each scrape."""
        self.registry.register(_LiveCollector(read))

    @contextlib.contextmanager
    def counting_errors(self, logger: logging.Logger) -> Iterator[None]:
        """Count the errors ``logger`` (and its children) log while inside."""
        logger.addHandler(self._error_handler)
        try:
            yield
        finally:
            logger.removeHandler(self._error_handler)


async def watch_event_loop(metrics: ServiceMetrics, interval: float = LAG_INTERVAL) -> None:
    """Measure, forever, how late the loop wakes a sleeping task (cancel to stop)."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        metrics.loop_lag.observe(max(0.0, loop.time() - started - interval))
