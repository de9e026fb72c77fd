"""The demo (``make demo``): the service on its defaults, a real sandbox Asterisk, a 15 call.

Installs what is missing (the sandbox Asterisk and sipp, through ``dialplan/sandbox/install.sh``),
starts Asterisk and the service, creates two demo accounts (a regulator at position 1001 and a
doctor at 1003, for a second console), has the regulator's phone answer a simulated 15 call from
a French mobile, and prints where to look once the service has seen Asterisk answer it. Ctrl-C
stops all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from visioregul.integration import accounts, appkeys, audit
from visioregul.integration.app import create_app
from visioregul.integration.settings import Settings, SettingsError, load_settings
from visioregul.integration.store.models import Role
from visioregul.integration.telephony.events import CallAnswered
from visioregul.integration.telephony.link import LinkState
from visioregul.integration.telephony.registry import CallUpdate

from .asterisk import SandboxAsterisk, SandboxPorts
from .sipp import SippProcess, place_call, start_phone

__all__ = ["DEMO_DOCTOR", "DEMO_PASSWORD", "DEMO_USER", "main", "run_demo"]

DEMO_USER = "regulateur"
DEMO_PASSWORD = "demo-visioregul-15"
DEMO_POSITION = "1001"
DEMO_DOCTOR = "medecin"
"""The second account, a regulating doctor, to try a second console on the same visio."""
DEMO_DOCTOR_POSITION = "1003"
_CALL_MS = 30 * 60 * 1000
_ANSWER_TIMEOUT_S = 30.0
# Libraries that log every ICE check, DTLS step or request at INFO: a demo shows their warnings.
_CHATTY_LOGGERS = ("aioice", "aiortc", "aiohttp.access", "alembic", "panoramisk")


def _say(text: str) -> None:
    print(text, flush=True)


def _install(sandbox: SandboxAsterisk) -> None:
    script = sandbox.dialplan_dir / "sandbox" / "install.sh"
    _say(f"Installing the sandbox Asterisk and sipp ({script}), about a minute the first time...")
    subprocess.run(["bash", str(script)], check=True)


async def _wait_link_up(app: web.Application, timeout: float = 20.0) -> bool:
    status = app[appkeys.TELEPHONY].status
    up = asyncio.Event()
    status.listeners.append(lambda changed: up.set() if changed.state is LinkState.UP else None)
    if status.state is LinkState.UP:
        return True
    try:
        await asyncio.wait_for(up.wait(), timeout)
    except TimeoutError:
        return False
    return True


def _wait_answered(
    app: web.Application, position: str, timeout: float = _ANSWER_TIMEOUT_S
) -> asyncio.Future[CallUpdate]:
    """A future of the first ``call.answered`` at ``position`` that the service sees."""
    answered: asyncio.Future[CallUpdate] = asyncio.get_running_loop().create_future()

    def listen(update: CallUpdate) -> None:
        event = update.event
        if isinstance(event, CallAnswered) and event.position == position and not answered.done():
            answered.set_result(update)

    unsubscribe = app[appkeys.REGISTRY].subscribe(listen)
    answered.add_done_callback(lambda _: unsubscribe())
    return answered


def _banner(
    settings: Settings, *, answered: CallUpdate | None, caller: str, call_placed: bool
) -> str:
    base = settings.service.public_url
    lines = [
        "",
        "  VisioRegul demo is running.",
        f"  Console:  {base}/console",
        f"  Logins:   {DEMO_USER} / {DEMO_PASSWORD}   (regulator, position PJSIP/{DEMO_POSITION})",
        f"            {DEMO_DOCTOR} / {DEMO_PASSWORD}      (doctor, position"
        f" PJSIP/{DEMO_DOCTOR_POSITION}: a second console)",
    ]
    if answered is not None:
        call = answered.call
        lines.append(
            f"  Call:     {call.caller.e164 or caller} answered at {call.position}:"
            " its video invitation is waiting on the console."
        )
    elif call_placed:
        lines.append(
            f"  Call:     not answered at PJSIP/{DEMO_POSITION} within {_ANSWER_TIMEOUT_S:g} s"
            " (see the logs above)."
        )
    lines += [f"  CAD API:  {base}/api/v1/openapi.yaml", "  Ctrl-C stops everything.", ""]
    return "\n".join(lines)


async def run_demo(
    settings: Settings,
    *,
    caller: str,
    place_call_now: bool = True,
    sandbox: SandboxAsterisk | None = None,
    stop: asyncio.Event | None = None,
    say: Callable[[str], None] = _say,
) -> int:
    """Run until interrupted; returns the exit code.

    ``sandbox`` is an Asterisk already running (the tests'), neither started nor stopped here;
    without it the demo starts its own on the ports of ``settings``. ``stop`` ends the demo when
    set; without it, Ctrl-C or SIGTERM do. ``say`` prints the demo's messages.
    """
    own_sandbox = sandbox is None
    if sandbox is None:
        ari = urlsplit(settings.telephony.ari.url)
        sandbox = SandboxAsterisk(
            SandboxPorts(ami=settings.telephony.ami.port, http=ari.port or 8088)
        )
        if not sandbox.is_installed():
            try:
                _install(sandbox)
            except (subprocess.CalledProcessError, OSError) as exc:
                say(f"make demo: the sandbox could not be installed: {exc}")
                return 1
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if stop is None else ()
    stop = stop or asyncio.Event()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    processes: list[SippProcess] = []
    runner: web.AppRunner | None = None
    if own_sandbox:
        await sandbox.start()
    try:
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.service.host, settings.service.port).start()
        async with app[appkeys.DB].begin() as db:
            await accounts.ensure_account(
                db,
                DEMO_USER,
                DEMO_PASSWORD,
                display_name="Régulateur de démonstration",
                role=Role.REGULATOR,
                position=f"PJSIP/{DEMO_POSITION}",
            )
            await accounts.ensure_account(
                db,
                DEMO_DOCTOR,
                DEMO_PASSWORD,
                display_name="Médecin régulateur de démonstration",
                role=Role.DOCTOR,
                position=f"PJSIP/{DEMO_DOCTOR_POSITION}",
            )
            await audit.record(db, actor="system", action="demo.started")
        if not await _wait_link_up(app):
            say("Warning: the service did not reach the sandbox Asterisk (see the logs).")
        answered: CallUpdate | None = None
        if place_call_now:
            waiting = _wait_answered(app, f"PJSIP/{DEMO_POSITION}")
            processes.append(
                await start_phone(sandbox, DEMO_POSITION, answer_delay_ms=1500, calls=1)
            )
            processes.append(
                await place_call(sandbox, caller, f"15{DEMO_POSITION}", duration_ms=_CALL_MS)
            )
            # The banner tells what happened: wait for the service to see Asterisk answer.
            stopping = asyncio.ensure_future(stop.wait())
            either: list[asyncio.Future[Any]] = [waiting, stopping]
            await asyncio.wait(
                either,
                timeout=_ANSWER_TIMEOUT_S,
                return_when=asyncio.FIRST_COMPLETED,
            )
            stopping.cancel()
            if waiting.done():
                answered = waiting.result()
            waiting.cancel()
        if not stop.is_set():
            say(_banner(settings, answered=answered, caller=caller, call_placed=place_call_now))
        await stop.wait()
        say("Stopping...")
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            with contextlib.suppress(Exception):
                await process.wait(timeout=5)
        if runner is not None:
            await runner.cleanup()
        if own_sandbox:
            await sandbox.stop()
        for signum in signals:
            loop.remove_signal_handler(signum)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.sandbox.demo [--config FILE] [--caller NUMBER] [--no-call]``."""
    parser = argparse.ArgumentParser(
        prog="make demo",
        description="The service with the sandbox Asterisk and a simulated 15 call.",
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file (embedded defaults)")
    parser.add_argument("--caller", default="+33612345678", help="simulated caller's number")
    parser.add_argument("--no-call", action="store_true", help="start without placing a call")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in _CHATTY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"make demo: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(run_demo(settings, caller=args.caller, place_call_now=not args.no_call))


if __name__ == "__main__":
    sys.exit(main())
