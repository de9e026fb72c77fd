"""Offer latency: from Asterisk's answer to the offer on the regulator's console, AMI and ARI.

For each telephony source, ``visioregul serve`` runs as a real process against a sandbox
Asterisk, and real SIP calls (sipp) reach the 15 line at several positions at once, each answered
straight away by that position's phone. Per call, the delay runs from Asterisk's own timestamp of
the answer (the ``Timestamp`` header of the regulator's leg ``BridgeEnter``, read on the sandbox's
admin AMI connection; the sandbox sets ``timestampevents = yes``) to the moment the ``offer``
arrives on that position's console WebSocket (``time.time()``: same machine, same clock). The
consoles listen in a thread of their own, so that starting sipp processes from the main event
loop does not hold up their reading. The service's CPU time (user + system, from
``/proc/<pid>/stat``) over the measured calls is divided by their number.

One call per position first warms the service up; it is not counted.

A benchmark: it prints its figures and asserts only that every call went through and produced
exactly one offer, at the right position. Environment: ``VISIOREGUL_BENCH_CALLS`` (50 per source),
``VISIOREGUL_BENCH_CONCURRENCY`` (5: positions 1001, 1002... each with its own phone, the calls
spread among them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from panoramisk import Manager

from tests.sandbox.asterisk import (
    SandboxAsterisk,
    SandboxPorts,
    end_process,
    tail,
)
from tests.sandbox.sipp import SippProcess, place_call, start_phone

CALLS = int(os.environ.get("VISIOREGUL_BENCH_CALLS", "50"))
CONCURRENCY = int(os.environ.get("VISIOREGUL_BENCH_CONCURRENCY", "5"))
SOURCES = ("ami", "ari")
CALL_MS = 300
"""How long each call stays up once answered."""
TARGET_P99_MS = 50.0
"""The goal, printed beside the figures: never asserted."""
USERNAME = "bench"
PASSWORD = "bench password 15"
HEALTH_KEY = "bench-health-key"
"""The API key that reads /healthz's details (the telephony link's state)."""

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(240 + 4 * CALLS)]

T = TypeVar("T")


def positions() -> tuple[str, ...]:
    """The positions that take calls at the same time: 1001, 1002..."""
    if not 1 <= CONCURRENCY <= 99:
        raise ValueError(f"VISIOREGUL_BENCH_CONCURRENCY must be 1 to 99, not {CONCURRENCY}")
    return tuple(str(1001 + index) for index in range(CONCURRENCY))


def spread(total: int, parts: int) -> list[int]:
    """``total`` calls shared among ``parts`` positions, as evenly as possible."""
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def caller_number(source: str, position: str, serial: int) -> str:
    """A mobile number unique to one call (so that its offer is recognised)."""
    return f"+336{SOURCES.index(source) + 1}{position[-2:]}{serial:05d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with ``fraction`` of the values at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def poll(
    probe: Callable[[], T | None], timeout: float, what: str, explain: Callable[[], str]
) -> T:
    """Poll ``probe`` every 10 ms until it returns something; fail with ``explain()`` at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{explain()}")
        await asyncio.sleep(0.01)


# -- the service, as a real process -------------------------------------------------------------


class BenchService:
    """``visioregul serve`` as a real process, configured through its environment."""

    def __init__(self, sandbox: SandboxAsterisk, source: str, work_dir: Path) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = work_dir / "service.log"
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("VISIOREGUL_") or key == "VISIOREGUL_SANDBOX_ROOT"
        }
        self.env = {
            **inherited,
            "VISIOREGUL_SERVICE__PORT": str(self.port),
            "VISIOREGUL_SERVICE__PUBLIC_URL": self.base_url,
            "VISIOREGUL_SERVICE__DATA_DIR": str(work_dir),
            "VISIOREGUL_DATABASE__URL": f"sqlite+aiosqlite:///{work_dir}/service.sqlite",
            "VISIOREGUL_TELEPHONY__SOURCE": source,
            "VISIOREGUL_TELEPHONY__AMI__HOST": sandbox.host,
            "VISIOREGUL_TELEPHONY__AMI__PORT": str(sandbox.ports.ami),
            "VISIOREGUL_TELEPHONY__AMI__USERNAME": sandbox.ami_user,
            "VISIOREGUL_TELEPHONY__AMI__SECRET": sandbox.ami_secret,
            "VISIOREGUL_TELEPHONY__ARI__URL": sandbox.ari_url,
            "VISIOREGUL_TELEPHONY__ARI__USERNAME": sandbox.ari_user,
            "VISIOREGUL_TELEPHONY__ARI__PASSWORD": sandbox.ari_password,
            "VISIOREGUL_CONSOLE__API_KEYS": json.dumps([HEALTH_KEY]),
        }
        self.cwd = work_dir
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "visioregul.integration.cli", *args]

    async def add_account(self) -> None:
        """The regulators' console account (it logs in at every position)."""
        process = await asyncio.create_subprocess_exec(
            *self.command("account", "add", USERNAME, "--password-stdin"),
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(f"{PASSWORD}\n".encode()), 60)
        assert process.returncode == 0, output.decode(errors="replace")

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command("serve"),
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def wait_ready(self) -> None:
        """Until ``/healthz`` says the telephony link is up."""
        assert self.process is not None
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(
                        f"{self.base_url}/healthz",
                        headers={"Authorization": f"Bearer {HEALTH_KEY}"},
                    ) as reply:
                        body = await reply.json()
                        if body["telephony"]["state"] == "up":
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"the service is not ready:\n{tail(self.log)}")

    def cpu_seconds(self) -> float:
        """User + system CPU time the service has used so far."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        # Fields after the command name (which may hold spaces): state is field 3, utime 14,
        # stime 15, in clock ticks.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        if self.process is not None:
            await end_process(self.process)


# -- the consoles, in a thread of their own -----------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """An offer as a console received it."""

    console: str
    """The position the console is bound to."""
    call_id: str
    position: str
    """The position the call says it is at."""
    caller: str | None
    received_at: float
    """``time.time()`` when the console's WebSocket delivered it."""


@dataclass
class Consoles:
    """One console per position, logged in and listening in a thread with its own event loop."""

    base_url: str
    positions: Sequence[str]
    offers: list[Offer] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)
    """Call ids a console was told have ended."""
    error: BaseException | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-consoles", daemon=True)
        self._thread.start()

    async def wait_ready(self) -> None:
        await poll(lambda: True if self._ready.is_set() else None, 30, "the consoles", str)
        if self.error is not None:
            raise AssertionError(f"the consoles could not start: {self.error!r}") from self.error

    async def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)

    def of(self, caller: str) -> list[Offer]:
        return [offer for offer in list(self.offers) if offer.caller == caller]

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with contextlib.AsyncExitStack() as stack:
            sockets = []
            for position in self.positions:
                http = await stack.enter_async_context(
                    aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
                )
                async with http.post(
                    f"{self.base_url}/console/login",
                    data={"username": USERNAME, "password": PASSWORD, "position": position},
                    headers={"Origin": self.base_url},
                    allow_redirects=False,
                ) as reply:
                    if reply.status != 303 or reply.headers.get("Location") != "/console":
                        raise RuntimeError(f"login at {position}: {reply.status} {reply.headers}")
                ws = await stack.enter_async_context(
                    http.ws_connect(f"{self.base_url}/console/ws", origin=self.base_url)
                )
                hello = await asyncio.wait_for(ws.receive_json(), 5)
                if hello.get("type") != "hello":
                    raise RuntimeError(f"console at {position}: {hello}")
                sockets.append((position, ws))
            readers = [asyncio.create_task(self._read(position, ws)) for position, ws in sockets]
            self._ready.set()
            await self._stop.wait()
            for _position, ws in sockets:
                await ws.close()
            await asyncio.gather(*readers, return_exceptions=True)

    async def _read(self, console: str, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            received_at = time.time()
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            call = data.get("call") or {}
            if data.get("type") == "offer":
                self.offers.append(
                    Offer(
                        console=console,
                        call_id=call["call_id"],
                        position=call["position"],
                        caller=call["caller"]["e164"],
                        received_at=received_at,
                    )
                )
            elif data.get("type") == "call.updated" and call.get("state") == "ended":
                self.ended.add(call["call_id"])


# -- Asterisk's own time of each answer ---------------------------------------------------------


class Answers:
    """The ``Timestamp`` of each regulator leg's ``BridgeEnter``, by call (``Linkedid``)."""

    def __init__(self, sandbox: SandboxAsterisk, positions: Sequence[str]) -> None:
        self.sandbox = sandbox
        self.prefixes = tuple(f"PJSIP/{position}-" for position in positions)
        self.at: dict[str, float] = {}
        self.missing_timestamp = False
        self.manager: Manager | None = None

    async def connect(self) -> None:
        # Class "call" only: the admin user would otherwise get every dialplan step too.
        self.manager = Manager(
            host=self.sandbox.host,
            port=self.sandbox.ports.ami,
            username=self.sandbox.admin_ami_user,
            secret=self.sandbox.admin_ami_secret,
            events="call",
            ping_delay=3600,
        )
        self.manager.register_event("BridgeEnter", self._on_bridge_enter)
        await self.manager.connect()
        manager = self.manager
        await poll(lambda: True if manager.authenticated else None, 5, "admin AMI login", str)

    def _on_bridge_enter(self, _manager: Manager, event: Any) -> None:
        if not str(event.get("Channel", "")).startswith(self.prefixes):
            return  # the caller's leg
        stamp = event.get("Timestamp")
        if stamp is None:
            self.missing_timestamp = True
            return
        self.at.setdefault(str(event["Linkedid"]), float(stamp))

    def close(self) -> None:
        if self.manager is not None:
            # panoramisk reconnects after any connection loss, even one asked for.
            self.manager.connection_lost = lambda _exc: None
            self.manager.close()


# -- the calls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One source's figures."""

    source: str
    latencies_ms: list[float]
    cpu_ms_per_call: float


async def call_once(
    sandbox: SandboxAsterisk, consoles: Consoles, answers: Answers, position: str, caller: str
) -> tuple[Offer, float]:
    """One call to ``position``: its offer, and the answer's Asterisk timestamp."""
    call = await place_call(sandbox, caller, f"15{position}", duration_ms=CALL_MS)
    try:
        code = await call.wait(30)
    finally:
        await call.stop()
    assert code == 0, call.report()
    offer = await poll(
        lambda: next(iter(consoles.of(caller)), None), 5, f"the offer of {caller}", call.report
    )
    answered_at = await poll(
        lambda: answers.at.get(offer.call_id), 5, f"the BridgeEnter of {offer.call_id}", str
    )
    assert offer.console == position and offer.position == f"PJSIP/{position}", offer
    return offer, answered_at


async def calls_at(
    sandbox: SandboxAsterisk,
    consoles: Consoles,
    answers: Answers,
    source: str,
    position: str,
    serials: range,
) -> list[tuple[Offer, float]]:
    """Calls to ``position`` one after the other (other positions take theirs meanwhile)."""
    return [
        await call_once(sandbox, consoles, answers, position, caller_number(source, position, n))
        for n in serials
    ]


async def run_source(
    sandbox: SandboxAsterisk, answers: Answers, source: str, work_dir: Path
) -> Result:
    """Warm-up, then the measured calls, with a fresh service on ``source``."""
    where = positions()
    shares = spread(CALLS, len(where))
    service = BenchService(sandbox, source, work_dir / source)
    await service.add_account()
    service.start()
    consoles = Consoles(service.base_url, where)
    phones: list[SippProcess] = []
    try:
        await service.wait_ready()
        consoles.start()
        await consoles.wait_ready()
        for position, share in zip(where, shares, strict=True):
            phones.append(
                await start_phone(sandbox, position, calls=1 + share, timeout_s=60 + 10 * share)
            )
        await asyncio.gather(
            *(calls_at(sandbox, consoles, answers, source, p, range(0, 1)) for p in where)
        )
        cpu_before = service.cpu_seconds()
        measured = await asyncio.gather(
            *(
                calls_at(sandbox, consoles, answers, source, position, range(1, 1 + share))
                for position, share in zip(where, shares, strict=True)
            )
        )
        results = [item for per_position in measured for item in per_position]
        # The service's work for a call ends with its end: wait for every one.
        await poll(
            lambda: True if {o.call_id for o, _ in results} <= consoles.ended else None,
            10,
            "the end of every call",
            lambda: tail(service.log),
        )
        cpu_after = service.cpu_seconds()
        for phone in phones:
            assert await phone.wait(30) == 0, phone.report()
        assert consoles.error is None, repr(consoles.error)
    finally:
        await consoles.stop()
        for phone in phones:
            await phone.stop()
        await service.stop()
    assert len(results) == CALLS
    for offer, _ in results:
        assert len(consoles.of(offer.caller or "")) == 1, f"one offer per call: {offer}"
    assert not answers.missing_timestamp, "BridgeEnter without Timestamp: timestampevents = yes?"
    return Result(
        source=source,
        latencies_ms=[(offer.received_at - at) * 1000 for offer, at in results],
        cpu_ms_per_call=(cpu_after - cpu_before) * 1000 / CALLS,
    )


def table(results: Sequence[Result]) -> str:
    """The figures, one line per source."""
    lines = [
        "",
        "Offer latency: Asterisk's answer (regulator leg's BridgeEnter Timestamp) -> offer "
        f"on the console WebSocket; {CONCURRENCY} positions at once, {CALL_MS} ms calls",
        f"{'source':<6} {'calls':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'CPU ms/call':>12}",
    ]
    for result in results:
        values = result.latencies_ms
        lines.append(
            f"{result.source:<6} {len(values):>5} {percentile(values, 0.50):>8.1f} "
            f"{percentile(values, 0.95):>8.1f} {percentile(values, 0.99):>8.1f} "
            f"{max(values):>8.1f} {result.cpu_ms_per_call:>12.2f}"
        )
    by_source = {result.source: result for result in results}
    if {"ami", "ari"} <= by_source.keys():
        ami = percentile(by_source["ami"].latencies_ms, 0.50)
        ari = percentile(by_source["ari"].latencies_ms, 0.50)
        lines.append(f"p50 ratio ARI/AMI: {ari / ami:.2f}" if ami > 0 else "p50 ratio: n/a")
    lines.append(
        f"target: p99 under {TARGET_P99_MS:.0f} ms (not asserted); percentiles are nearest-rank"
    )
    return "\n".join(lines)


async def test_offer_latency(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert CALLS >= 1, "VISIOREGUL_BENCH_CALLS must be at least 1"
    where = positions()
    work_dir = tmp_path / "asterisk" if tmp_path.is_relative_to("/tmp") else None
    if work_dir is not None:
        work_dir.mkdir()
    sandbox = SandboxAsterisk(SandboxPorts.pick_free(where), work_dir=work_dir)
    await sandbox.start()
    answers = Answers(sandbox, where)
    try:
        await answers.connect()
        results = [await run_source(sandbox, answers, source, tmp_path) for source in SOURCES]
    finally:
        answers.close()
        await sandbox.stop()
    with capsys.disabled():
        print(table(results))
