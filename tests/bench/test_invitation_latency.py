"""Invitation latency: from the CAD's API call to the message leaving the service, and the event
loop's health while invitations go out.

The service runs in-process from ``create_app`` on its embedded defaults (SQLite file, telephony
off), with two backends in turn: the local outbox (SMS), and SMTP (e-mail) to a real aiosmtpd
server in a process of its own (:mod:`tests.bench.smtp_sink`). The load comes from an HTTP client
running in a thread and event loop of its own, so that its work does not count as the
service's (it still shares the interpreter lock).

Per invitation (``POST /api/v1/sessions``, one at a time, each to its own destination):

- *API*: until the 201 answer;
- *gateway*: until the sender's ``send`` is called (the benchmark wraps the sender objects the
  service holds: allowed here, never in tests);
- *arrived*: until the outbox row is committed (``send`` returned) or the SMTP server has the
  whole message.

Then a burst of invitations at once, while a ticker task on the service's loop wakes every 5 ms
and records how late it wakes (the loop's stall), and a client asks ``GET /healthz`` every
20 ms. Clock: ``time.monotonic()`` everywhere (Linux's monotonic clock, the same in every
process).

A benchmark: it prints its figures and asserts only that every invitation arrived, once.
Environment: ``VISIOREGUL_BENCH_INVITATIONS`` (200), ``VISIOREGUL_BENCH_BURST`` (20).
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from tests.web.helpers import free_port
from visioregul.integration import accounts, appkeys
from visioregul.integration.app import create_app
from visioregul.integration.messaging import MessageSender, OutgoingMessage, Senders, SendResult
from visioregul.integration.settings import (
    ApiKey,
    ConsoleSettings,
    DatabaseSettings,
    MessagingSettings,
    ServiceSettings,
    Settings,
    SmtpSettings,
    TelephonySettings,
)
from visioregul.integration.store.models import Role

INVITATIONS = int(os.environ.get("VISIOREGUL_BENCH_INVITATIONS", "200"))
BURST = int(os.environ.get("VISIOREGUL_BENCH_BURST", "20"))
WARM_UP = 5
TICK_S = 0.005
HEALTH_EVERY_S = 0.02
TARGET_GATEWAY_P99_MS = 100.0
TARGET_STALL_MS = 20.0
"""The goals, printed beside the figures: never asserted."""
CAD_KEY = "bench-cad-key-0123456789"
REPOSITORY = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(600)

T = TypeVar("T")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with ``fraction`` of the values at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class TimedSender:
    """Wraps a sender the service holds: when ``send`` is called, and when it returns."""

    inner: MessageSender
    called: dict[str, float] = field(default_factory=dict)
    returned: dict[str, float] = field(default_factory=dict)

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.called.setdefault(message.to, time.monotonic())
        result = await self.inner.send(message)
        self.returned.setdefault(message.to, time.monotonic())
        return result

    async def close(self) -> None:
        close: Callable[[], Awaitable[None]] | None = getattr(self.inner, "close", None)
        if close is not None:
            await close()


class LoadClient:
    """An HTTP client in a thread and an event loop of its own."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="load", daemon=True)
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.thread.start()

        async def open_session() -> None:
            self.http = aiohttp.ClientSession(self.base_url)

        await self.run(open_session())

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the client's loop; wait for it from the caller's."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    async def invite(self, destination: str) -> tuple[float, float]:
        """``POST /api/v1/sessions``: when it was sent and when the 201 came back."""
        assert self.http is not None
        started = time.monotonic()
        async with self.http.post(
            "/api/v1/sessions",
            json={"destination": destination, "requested_by": "bench", "position": "1001"},
            headers={"Authorization": f"Bearer {CAD_KEY}"},
        ) as response:
            if response.status != 201:
                raise RuntimeError(f"{destination}: {response.status} {await response.text()}")
            await response.read()
        return started, time.monotonic()

    async def health_until(self, stop: threading.Event) -> list[float]:
        """``GET /healthz`` every ``HEALTH_EVERY_S`` until ``stop``: the latencies (s)."""
        assert self.http is not None
        latencies = []
        while not stop.is_set():
            started = time.monotonic()
            async with self.http.get("/healthz") as response:
                await response.read()
                assert response.status == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(HEALTH_EVERY_S)
        return latencies

    async def close(self) -> None:
        if self.http is not None:
            await self.run(self.http.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join, 5)
        self.loop.close()


async def ticker(stop: asyncio.Event, lateness: list[float]) -> None:
    """Wake every ``TICK_S`` on the service's loop; record how late each wake-up is."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        planned = loop.time() + TICK_S
        await asyncio.sleep(TICK_S)
        lateness.append(max(0.0, loop.time() - planned))


@dataclass
class Backend:
    """Where the invitations go, and how to tell they arrived."""

    name: str
    messaging: MessagingSettings
    destination: Callable[[int], str]
    arrived: Callable[[TimedSender, str], float | None]


@dataclass
class Figures:
    backend: str
    api_ms: list[float] = field(default_factory=list)
    gateway_ms: list[float] = field(default_factory=list)
    arrived_ms: list[float] = field(default_factory=list)
    burst_gateway_ms: list[float] = field(default_factory=list)
    burst_arrived_ms: list[float] = field(default_factory=list)
    stall_ms: list[float] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)
    burst_wall_ms: float = 0.0
    burst_cpu_ms: float = 0.0
    """The process's CPU time (every thread: the service's, SQLite's, the client's)."""


def settings_for(tmp_path: Path, messaging: MessagingSettings) -> Settings:
    messaging.per_regulator_per_hour = messaging.global_per_minute = 100_000
    return Settings(
        service=ServiceSettings(data_dir=tmp_path, public_url="http://127.0.0.1:8015"),
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"),
        telephony=TelephonySettings(source="none"),
        console=ConsoleSettings(api_keys=[ApiKey(key=SecretStr(CAD_KEY), account="bench")]),
        messaging=messaging,
    )


async def wait_arrived(backend: Backend, sender: TimedSender, destination: str) -> float:
    deadline = time.monotonic() + 30
    while (at := backend.arrived(sender, destination)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{backend.name}: {destination} never arrived")
        await asyncio.sleep(0.001)
    return at


async def run_backend(backend: Backend, tmp_path: Path) -> Figures:
    figures = Figures(backend.name)
    app = create_app(settings_for(tmp_path, backend.messaging))
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    async with app[appkeys.DB].begin() as db:
        # The regulator the CAD's key acts for.
        await accounts.ensure_account(
            db,
            "bench",
            "bench-password-0123",
            display_name="Bench",
            role=Role.REGULATOR,
            position="PJSIP/1001",
        )
    client = LoadClient(str(server.make_url("")).rstrip("/"))
    await client.start()
    try:
        service = app[appkeys.SESSION_SERVICE]
        timed = TimedSender(service.senders.sms)
        if service.senders.email is service.senders.sms:
            service.use_senders(Senders(sms=timed, email=timed))
        else:
            timed = TimedSender(service.senders.email)
            service.use_senders(Senders(sms=service.senders.sms, email=timed))

        serial = 0
        for index in range(WARM_UP + INVITATIONS):
            serial += 1
            destination = backend.destination(serial)
            started, answered = await client.run(client.invite(destination))
            arrived = await wait_arrived(backend, timed, destination)
            if index >= WARM_UP:
                figures.api_ms.append((answered - started) * 1000)
                figures.gateway_ms.append((timed.called[destination] - started) * 1000)
                figures.arrived_ms.append((arrived - started) * 1000)

        # The burst, with the ticker and the health checks running.
        stop_ticks, stop_health = asyncio.Event(), threading.Event()
        lateness: list[float] = []
        ticks = asyncio.create_task(ticker(stop_ticks, lateness))
        health = asyncio.ensure_future(client.run(client.health_until(stop_health)))
        await asyncio.sleep(0.1)
        destinations = [backend.destination(serial + 1 + n) for n in range(BURST)]

        async def burst() -> list[tuple[float, float]]:
            return list(await asyncio.gather(*(client.invite(d) for d in destinations)))

        wall, cpu = time.monotonic(), time.process_time()
        answers = await client.run(burst())
        for destination, (started, _) in zip(destinations, answers, strict=True):
            arrived = await wait_arrived(backend, timed, destination)
            figures.burst_gateway_ms.append((timed.called[destination] - started) * 1000)
            figures.burst_arrived_ms.append((arrived - started) * 1000)
        figures.burst_wall_ms = (time.monotonic() - wall) * 1000
        figures.burst_cpu_ms = (time.process_time() - cpu) * 1000
        await asyncio.sleep(0.1)
        stop_health.set()
        stop_ticks.set()
        await ticks
        figures.health_ms = [latency * 1000 for latency in await health]
        figures.stall_ms = [late * 1000 for late in lateness]
        assert len(timed.called) == WARM_UP + INVITATIONS + BURST, "each invitation sent once"
    finally:
        await client.close()
        await server.close()
    return figures


def line(name: str, values: Sequence[float]) -> str:
    return (
        f"  {name:<24} n={len(values):<4} p50 {percentile(values, 0.5):7.1f}  "
        f"p99 {percentile(values, 0.99):7.1f}  max {max(values):7.1f} ms"
    )


def report(all_figures: Sequence[Figures]) -> str:
    lines = [
        "",
        f"Invitation latency: {INVITATIONS} invitations one at a time (after {WARM_UP} not "
        f"counted), then {BURST} at once; service in-process on SQLite",
    ]
    for figures in all_figures:
        lines += [
            f"{figures.backend}:",
            line("API answer", figures.api_ms),
            line("to the gateway (send)", figures.gateway_ms),
            line("arrived", figures.arrived_ms),
            line("burst: to the gateway", figures.burst_gateway_ms),
            line("burst: arrived", figures.burst_arrived_ms),
            line("burst: loop stall", figures.stall_ms),
            line("burst: GET /healthz", figures.health_ms),
            f"  burst: {figures.burst_wall_ms:.0f} ms until the last arrived, process CPU "
            f"{figures.burst_cpu_ms:.0f} ms ({figures.burst_cpu_ms / BURST:.1f} ms per invitation)",
        ]
    lines.append(
        f"targets (not asserted): p99 to the gateway under {TARGET_GATEWAY_P99_MS:.0f} ms; "
        f"no loop stall over {TARGET_STALL_MS:.0f} ms; percentiles are nearest-rank"
    )
    return "\n".join(lines)


class SmtpSink:
    """:mod:`tests.bench.smtp_sink` running: when each recipient's message arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self.process: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bench.smtp_sink",
            str(self.port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPOSITORY,
        )
        assert self.process.stdout is not None
        ready = await asyncio.wait_for(self.process.stdout.readline(), 10)
        assert ready == b"ready\n", ready
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for line in self.process.stdout:
            at, _, address = line.decode().strip().partition(" ")
            self.arrived.setdefault(address, float(at))

    async def stop(self) -> None:
        if self.process is None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        finally:
            if self.process.returncode is None:
                self.process.kill()
            if self.reader is not None:
                await asyncio.gather(self.reader, return_exceptions=True)


async def test_invitation_latency(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert INVITATIONS >= 1 and BURST >= 1
    smtp = SmtpSink()
    await smtp.start()

    def smtp_arrived(_sender: TimedSender, destination: str) -> float | None:
        return smtp.arrived.get(destination)

    backends = [
        Backend(
            "outbox (SMS)",
            MessagingSettings(),
            lambda n: f"+3361{n:07d}",
            lambda sender, destination: sender.returned.get(destination),
        ),
        Backend(
            "SMTP (e-mail) to aiosmtpd (own process)",
            MessagingSettings(
                email="smtp", smtp=SmtpSettings(host="127.0.0.1", port=smtp.port, timeout=5)
            ),
            lambda n: f"appelant{n}@example.org",
            smtp_arrived,
        ),
    ]
    try:
        results = []
        for index, backend in enumerate(backends):
            folder = tmp_path / str(index)
            folder.mkdir()
            results.append(await run_backend(backend, folder))
    finally:
        await smtp.stop()
    with capsys.disabled():
        print(report(results))
