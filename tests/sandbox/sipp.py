"""Real SIP calls against the sandbox Asterisk, with sipp (Debian package ``sip-tester``).

A caller comes in through the simulated operator trunk (sipp as a UAC on 127.0.0.2, the address the
trunk endpoint is identified by); a regulator's phone is sipp as a UAS on 127.0.0.1, at the port of
its position's PJSIP contact. The scenarios are ``dialplan/sandbox/sipp/*.xml``.

Each sipp process writes its standard output, its unexpected messages, the SIP messages it sent
and received, and its final statistics screen to its own folder: :meth:`SippProcess.report`
puts them together to explain a failed call.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType

from .asterisk import HOST, SandboxAsterisk, SandboxError, end_process, spawn, tail, wait_process

__all__ = [
    "TRUNK_HOST",
    "SippError",
    "SippProcess",
    "place_call",
    "start_far_end",
    "start_phone",
    "stop_leftovers",
]

logger = logging.getLogger(__name__)

TRUNK_HOST = "127.0.0.2"
"""The operator trunk's address: Asterisk identifies the trunk endpoint by it."""

SIPP_BIN = "sipp"
_RING_ALLOWANCE_S = 60.0
"""How long a caller may wait for an answer before its own global timeout ends it."""
_LISTEN_TIMEOUT_S = 5.0
DEFAULT_FEATURE_CODE = "*8"
"""The key of ``dialplan/visioregul-features.conf``."""
_FEATURE_KEYS = re.compile(r"[0-9*#A-D]{1,8}")
DEFAULT_HOLD_FOR_MS = 2000
"""How long a holding phone keeps the caller on hold."""


class SippError(SandboxError):
    """sipp could not be started or did not come up."""


_STARTED: weakref.WeakSet[SippProcess] = weakref.WeakSet()
"""Every sipp started and not yet collected: what :func:`stop_leftovers` ends."""


async def stop_leftovers() -> list[str]:
    """Stop every sipp still running (a test that failed half-way leaves its phones behind, and
    a phone left listening answers the next test's calls); return their names."""
    running = [process for process in list(_STARTED) if process.returncode is None]
    for process in running:
        await process.stop()
    return [process.name for process in running]


class SippProcess:
    """One running sipp (a caller or a phone), its exit code and its trace files.

    sipp's exit code: 0 when every call of the run succeeded, 1 when at least one failed, 97 when
    it was asked to stop, 99 when no call was processed, 255 (-1) on a fatal error.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        *,
        name: str,
        command: list[str],
        log_dir: Path,
        local_port: int,
    ) -> None:
        """Wrap a started sipp; use :func:`place_call` or :func:`start_phone` to create one."""
        self._process = process
        self._name = name
        self._command = command
        self._log_dir = log_dir
        self._local_port = local_port
        _STARTED.add(self)

    @property
    def name(self) -> str:
        """Its log folder's name, such as ``caller-k3j2x9ab`` or ``phone-1001-0f8sd2lq``."""
        return self._name

    @property
    def pid(self) -> int:
        """The sipp process id."""
        return self._process.pid

    @property
    def local_port(self) -> int:
        """The UDP port sipp sends from and listens on."""
        return self._local_port

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The sipp process itself."""
        return self._process

    @property
    def returncode(self) -> int | None:
        """sipp's exit code, or None while it runs."""
        return self._process.poll()

    @property
    def command(self) -> list[str]:
        """The command line sipp was started with."""
        return list(self._command)

    @property
    def log_dir(self) -> Path:
        """The folder of this process's output and trace files."""
        return self._log_dir

    async def wait(self, timeout: float) -> int:
        """Wait for sipp to end and return its exit code (0: every call succeeded).

        Raises :class:`TimeoutError` if it still runs after ``timeout`` seconds; it is left running
        (call :meth:`stop`).
        """
        code = await wait_process(self._process, timeout)
        if code is None:
            raise TimeoutError(f"{self._name} still running after {timeout:.1f} s")
        return code

    def terminate(self) -> None:
        """Ask sipp to stop (SIGTERM); a call in progress is abandoned, not hung up."""
        if self._process.poll() is None:
            self._process.terminate()

    def kill(self) -> None:
        """Kill sipp (SIGKILL)."""
        if self._process.poll() is None:
            self._process.kill()

    async def stop(self) -> int:
        """Terminate if still running, then kill after 2 s; return the exit code. Idempotent."""
        return await end_process(self._process, grace=2.0)

    def report(self, lines: int = 30) -> str:
        """The command, the exit code and the end of each trace file: why a call failed."""
        parts = [f"=== {self._name}: exit code {self.returncode}", " ".join(self._command)]
        for label, filename in (
            ("unexpected messages", "errors.log"),
            ("statistics", "screen.log"),
            ("SIP messages", "messages.log"),
            ("output", "output.log"),
        ):
            path = self._log_dir / filename
            if path.exists() and path.stat().st_size:
                parts.append(f"--- {label} ({path})\n{tail(path, lines)}")
        return "\n".join(parts)

    async def __aenter__(self) -> SippProcess:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<SippProcess {self._name} pid={self.pid} returncode={self.returncode}>"


def free_udp_port(host: str) -> int:
    """A UDP port free on ``host`` right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _udp_bound(host: str, port: int) -> bool:
    """Whether some process has bound UDP ``host:port`` (read from /proc/net/udp)."""
    wanted = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    try:
        with open("/proc/net/udp") as table:
            next(table)
            return any(line.split()[1] == wanted for line in table)
    except OSError:
        return False


def _log_dir(sandbox: SandboxAsterisk, role: str, log_dir: Path | None) -> Path:
    """A fresh folder for one sipp's files, named after its role (``caller-…``, ``phone-1001-…``).

    By default under the sandbox's work folder, so that it goes (or stays) with Asterisk's logs.
    """
    if log_dir is None and sandbox.work_dir is not None:
        log_dir = sandbox.work_dir / "sipp"
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{role}-", dir=log_dir))


def _scenario(sandbox: SandboxAsterisk, filename: str) -> Path:
    path = sandbox.sipp_dir / filename
    if not path.is_file():
        raise SippError(f"sipp scenario not found: {path}")
    return path


def _start(command: list[str], log_dir: Path, local_port: int) -> SippProcess:
    # sipp finds free media and control ports by itself (6000, 6002... and 8888, 8889...).
    if shutil.which(SIPP_BIN) is None:
        raise SippError(
            "sipp is not installed (Debian package sip-tester): run dialplan/sandbox/install.sh"
        )
    command = [
        SIPP_BIN,
        *command,
        # No terminal: no keyboard, statistics screen dumped to a file at the end.
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(log_dir / "errors.log"),
        "-trace_screen",
        "-screen_file",
        str(log_dir / "screen.log"),
        "-trace_msg",
        "-message_file",
        str(log_dir / "messages.log"),
    ]
    logger.debug("starting %s: %s", log_dir.name, " ".join(command))
    process = spawn(command, output=log_dir / "output.log")
    return SippProcess(
        process, name=log_dir.name, command=command, log_dir=log_dir, local_port=local_port
    )


async def place_call(
    sandbox: SandboxAsterisk,
    caller: str | None,
    exten: str,
    *,
    duration_ms: int,
    local_port: int | None = None,
    cancel_before_answer: bool = False,
    feature_code_after_ms: int | None = None,
    feature_code: str = DEFAULT_FEATURE_CODE,
    log_dir: Path | None = None,
) -> SippProcess:
    """Call ``exten`` through the operator trunk, as ``caller``; return the running sipp.

    ``caller`` is the number the operator presents (E.164, e.g. ``+33612345678``); None or an
    empty string place a withheld call (anonymous From, ``Privacy: id``, no P-Asserted-Identity).
    Once answered, the caller stays ``duration_ms`` milliseconds and hangs up. With
    ``cancel_before_answer`` the caller instead gives up ``duration_ms`` after the first 180
    Ringing (CANCEL); an answer before that fails the call. With ``feature_code_after_ms``, the
    caller presses ``feature_code`` that long after the answer (one SIP INFO per key), then stays
    ``duration_ms``. Each caller needs its own UDP port on 127.0.0.2: a free one is picked unless
    ``local_port`` is given.
    """
    withheld = not caller
    pressing = feature_code_after_ms is not None
    if withheld and (cancel_before_answer or pressing):
        raise ValueError("a withheld caller only talks and hangs up: no such scenario")
    if cancel_before_answer and pressing:
        raise ValueError("a caller who cancels before the answer presses no key")
    if pressing and not _FEATURE_KEYS.fullmatch(feature_code):
        raise ValueError(f"a feature code is keys 0-9, *, #, A-D: {feature_code!r}")
    if withheld:
        scenario = "caller_anonymous.xml"
    elif cancel_before_answer:
        scenario = "caller_cancel.xml"
    elif pressing:
        scenario = "caller_feature.xml"
    else:
        scenario = "caller.xml"
    port = local_port or free_udp_port(TRUNK_HOST)
    # sipp's own deadline: ringing, plus the call, plus a margin; the test's wait is shorter.
    lifetime_s = int((duration_ms + (feature_code_after_ms or 0)) / 1000 + _RING_ALLOWANCE_S)
    command = [
        f"{HOST}:{sandbox.ports.sip}",
        "-sf",
        str(_scenario(sandbox, scenario)),
        "-s",
        exten,
        "-i",
        TRUNK_HOST,
        "-p",
        str(port),
        "-m",
        "1",
        "-l",
        "1",
        "-d",
        str(duration_ms),
        "-timeout",
        f"{lifetime_s}s",
        "-timeout_error",
        # Answer 200 to an in-dialog INFO, NOTIFY, OPTIONS or UPDATE instead of failing.
        "-aa",
    ]
    if not withheld:
        command += ["-key", "cid", str(caller)]
    if pressing:
        command += [
            "-key",
            "feature_after",
            str(feature_code_after_ms),
            "-key",
            "feature_code",
            feature_code,
        ]
    return _start(command, _log_dir(sandbox, "caller", log_dir), port)


async def start_phone(
    sandbox: SandboxAsterisk,
    position: str,
    *,
    answer_delay_ms: int = 0,
    calls: int = 1,
    timeout_s: float = 120.0,
    feature_code_after_ms: int | None = None,
    feature_code: str = DEFAULT_FEATURE_CODE,
    hold_after_ms: int | None = None,
    hold_for_ms: int = DEFAULT_HOLD_FOR_MS,
    log_dir: Path | None = None,
) -> SippProcess:
    """Start the phone of ``position`` (e.g. ``"1001"``); return once it listens.

    It answers each INVITE after ``answer_delay_ms`` milliseconds and ends after ``calls`` calls
    (a call cancelled while ringing counts as one, and succeeds). It gives up after ``timeout_s``
    seconds, failing, so that a call that never comes cannot keep it running.

    With ``feature_code_after_ms``, the regulator presses ``feature_code`` (the shipped ``*8``)
    that long after the answer: one SIP INFO per key (``application/dtmf-relay``), then the phone
    stays in the call until the far end hangs up (``phone_feature.xml``; such a phone does not
    expect to be cancelled while ringing).

    With ``hold_after_ms``, the regulator puts the caller on hold that long after the answer (an
    in-dialog re-INVITE with ``a=sendonly``) and takes them back ``hold_for_ms`` later (re-INVITE
    ``a=sendrecv``), then the phone stays in the call until the far end hangs up
    (``phone_hold.xml``; not cancellable while ringing either). The far end must stay longer than
    both together: a BYE while on hold fails the phone's call.
    """
    holding = hold_after_ms is not None
    if holding and feature_code_after_ms is not None:
        raise ValueError("a phone either holds or presses a feature code: no such scenario")
    if hold_after_ms is not None and (hold_after_ms < 0 or hold_for_ms < 0):
        raise ValueError(f"hold delays are milliseconds >= 0: {hold_after_ms!r}, {hold_for_ms!r}")
    if feature_code_after_ms is not None and not _FEATURE_KEYS.fullmatch(feature_code):
        raise ValueError(f"a feature code is keys 0-9, *, #, A-D: {feature_code!r}")
    try:
        port = sandbox.ports.phones[position]
    except KeyError:
        raise SippError(
            f"no phone for position {position!r}: known {sorted(sandbox.ports.phones)}"
        ) from None
    sandbox.desks.lend(position)
    if _udp_bound(HOST, port):
        sandbox.desks.lent_to(position, None)
        raise SippError(f"UDP {HOST}:{port} of position {position} is already in use")
    if holding:
        scenario = "phone_hold.xml"
    elif feature_code_after_ms is not None:
        scenario = "phone_feature.xml"
    else:
        scenario = "phone.xml"
    command = [
        "-sf",
        str(_scenario(sandbox, scenario)),
        "-i",
        HOST,
        "-p",
        str(port),
        "-m",
        str(calls),
        "-key",
        "answer_delay",
        str(answer_delay_ms),
        "-timeout",
        f"{max(1, round(timeout_s))}s",
        "-timeout_error",
        "-aa",
    ]
    if feature_code_after_ms is not None:
        command += [
            "-key",
            "feature_after",
            str(feature_code_after_ms),
            "-key",
            "feature_code",
            feature_code,
        ]
    if hold_after_ms is not None:
        command += [
            "-key",
            "hold_after",
            str(hold_after_ms),
            "-key",
            "hold_for",
            str(hold_for_ms),
        ]
    try:
        phone = _start(command, _log_dir(sandbox, f"phone-{position}", log_dir), port)
    except BaseException:
        sandbox.desks.lent_to(position, None)
        raise
    sandbox.desks.lent_to(position, phone.process)
    deadline = time.monotonic() + _LISTEN_TIMEOUT_S
    while not _udp_bound(HOST, port):
        if phone.returncode is not None or time.monotonic() >= deadline:
            await phone.stop()
            raise SippError(f"{phone.name} did not listen on {HOST}:{port}\n{phone.report()}")
        await asyncio.sleep(0.02)
    return phone


async def start_far_end(
    sandbox: SandboxAsterisk, *, answer_delay_ms: int = 0, timeout_s: float = 120.0
) -> SippProcess:
    """Start the far end of the operator trunk (a number outside the centre); return once it
    listens on 127.0.0.2 at ``sandbox.ports.trunk``.

    A position that dials ``0XXXXXXXXX`` (or transfers the caller there) reaches it through the
    trunk. It answers one call after ``answer_delay_ms`` and waits for the other end's BYE.
    """
    port = sandbox.ports.trunk
    if _udp_bound(TRUNK_HOST, port):
        raise SippError(f"UDP {TRUNK_HOST}:{port} of the trunk's far end is already in use")
    command = [
        "-sf",
        str(_scenario(sandbox, "phone.xml")),
        "-i",
        TRUNK_HOST,
        "-p",
        str(port),
        "-m",
        "1",
        "-key",
        "answer_delay",
        str(answer_delay_ms),
        "-timeout",
        f"{max(1, round(timeout_s))}s",
        "-timeout_error",
        "-aa",
    ]
    far_end = _start(command, _log_dir(sandbox, "far-end", None), port)
    deadline = time.monotonic() + _LISTEN_TIMEOUT_S
    while not _udp_bound(TRUNK_HOST, port):
        if far_end.returncode is not None or time.monotonic() >= deadline:
            await far_end.stop()
            where = f"{TRUNK_HOST}:{port}"
            raise SippError(f"{far_end.name} did not listen on {where}\n{far_end.report()}")
        await asyncio.sleep(0.02)
    return far_end
