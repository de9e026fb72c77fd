"""The sandbox Asterisk: a real Asterisk 22 started from the project's own configuration.

``dialplan/sandbox/install.sh`` builds a minimal Debian sid root (a chroot) that holds Asterisk 22,
mounts ``/proc`` in it and binds the host's ``/tmp`` on its ``/tmp``. This module generates a
configuration under ``/tmp`` (so the same path is valid inside the root), copies the shipped
``dialplan/visioregul-*.conf`` files next to it verbatim, and runs Asterisk in the foreground in
the chroot, on the host's loopback network.

The process is managed with :class:`subprocess.Popen` and polled from asyncio rather than with an
asyncio subprocess: an asyncio process belongs to the loop that started it, and a session-wide
sandbox is shared by tests that each run on their own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .desks import IdleDesks

__all__ = [
    "DEFAULT_ROOT",
    "SandboxAsterisk",
    "SandboxError",
    "SandboxNotInstalled",
    "SandboxPorts",
    "SandboxStartError",
]

logger = logging.getLogger(__name__)

DEFAULT_ROOT = Path("/var/lib/visioregul-sandbox/root")
"""Where ``install.sh`` builds the root unless ``VISIOREGUL_SANDBOX_ROOT`` says otherwise."""

ROOT_ENV = "VISIOREGUL_SANDBOX_ROOT"
MARKER_NAME = ".visioregul-sandbox-complete"
"""Written by ``install.sh`` at the root's top once the build is complete."""

ASTERISK_BIN = "/usr/sbin/asterisk"
HOST = "127.0.0.1"
SHARED_TMP = Path("/tmp")
"""The only host folder visible inside the root (bind-mounted at the same path)."""

_PLACEHOLDER = re.compile(r"@@[A-Z_]+@@")
_STOP_GRACE_S = 5.0
_POLL_S = 0.1
_LOG_TAIL_LINES = 40

# Sandbox credentials: fixed, loopback only, never used outside the sandbox.
SERVICE_AMI_USER = "visioregul"
SERVICE_AMI_SECRET = "visioregul-sandbox-ami"
ADMIN_AMI_USER = "sandbox-admin"
ADMIN_AMI_SECRET = "sandbox-admin-secret"
ARI_USER = "visioregul"
ARI_PASSWORD = "visioregul-sandbox-ari"


def _default_phones() -> dict[str, int]:
    return {"1001": 5071, "1002": 5072, "1003": 5073}


@dataclass(frozen=True)
class SandboxPorts:
    """Loopback ports of the sandbox: Asterisk's, and the regulators' simulated phones'."""

    sip: int = 5060
    """PJSIP UDP transport on 127.0.0.1 (the operator trunk calls it from 127.0.0.2)."""
    ami: int = 5038
    """Asterisk Manager Interface."""
    http: int = 8088
    """Asterisk's HTTP server, which carries ARI under ``/ari``."""
    trunk: int = 5090
    """UDP port of the far end of the operator trunk at 127.0.0.2: calls out of the centre
    (``0XXXXXXXXX`` from a position) reach it."""
    phones: Mapping[str, int] = field(default_factory=_default_phones)
    """Position (PJSIP endpoint name) to the UDP port its phone listens on at 127.0.0.1.
    The queue ``samu15`` rings 1001 and 1002; 1003 is the doctor's position."""

    @classmethod
    def pick_free(cls, positions: tuple[str, ...] = ("1001", "1002", "1003")) -> SandboxPorts:
        """Ports free on 127.0.0.1 right now, all different, below the kernel's ephemeral range.

        Lets a test run's sandbox live beside a demo's, or another Asterisk, on the default ports.
        A phone listens only while its test runs: a port from the ephemeral range could be handed
        meanwhile to any client socket (an ICE candidate, a DNS query), which would then take the
        phone's calls; ports below that range are never handed out by the kernel.
        """
        with contextlib.ExitStack() as probes:
            candidates = list(range(_FIXED_PORTS_FROM, _ephemeral_low()))
            random.shuffle(candidates)

            def bind(kind: socket.SocketKind, host: str) -> int:
                while candidates:
                    port = candidates.pop()
                    sock = probes.enter_context(socket.socket(socket.AF_INET, kind))
                    try:
                        sock.bind((host, port))
                    except OSError:
                        continue
                    return port
                raise SandboxError("no free port below the ephemeral range")

            def probe(kind: socket.SocketKind) -> int:
                return bind(kind, HOST)

            def probe_trunk() -> int:
                return bind(socket.SOCK_DGRAM, "127.0.0.2")

            return cls(
                sip=probe(socket.SOCK_DGRAM),
                ami=probe(socket.SOCK_STREAM),
                http=probe(socket.SOCK_STREAM),
                trunk=probe_trunk(),
                phones={position: probe(socket.SOCK_DGRAM) for position in positions},
            )


class SandboxError(Exception):
    """The sandbox Asterisk could not be used."""


class SandboxNotInstalled(SandboxError):
    """The chroot is missing, half-built, or not mounted (e.g. after a reboot)."""


class SandboxStartError(SandboxError):
    """Asterisk did not start; the message carries the tail of its log."""


def _load_prctl() -> Callable[..., int] | None:
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask the kernel to end the child if the thread that started it dies.

    Runs in the child between fork and exec (so it only calls a function resolved beforehand);
    the setting survives the exec of chroot and Asterisk. It keeps a killed test run from leaving
    Asterisk or sipp behind.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def spawn(command: list[str], *, output: Path) -> subprocess.Popen[bytes]:
    """Start a background program in its own session, its output appended to ``output``.

    Its own session (as ``setsid`` does) keeps a terminal's Ctrl-C from reaching it directly,
    and lets the whole group be killed at once.
    """
    with output.open("ab") as sink:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


async def wait_process(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Wait up to ``timeout`` seconds for ``process`` to end; its exit code, or None if running."""
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None or time.monotonic() >= deadline:
            return code
        await asyncio.sleep(0.05)


async def end_process(process: subprocess.Popen[bytes], grace: float = _STOP_GRACE_S) -> int:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL the process group. Idempotent."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        if await wait_process(process, grace) is None:
            logger.warning("pid %d ignored SIGTERM for %.0f s, killing it", process.pid, grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await wait_process(process, grace)
    code = process.poll()
    return code if code is not None else -signal.SIGKILL


def tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a text file, or a note when it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"({path}: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:])


class SandboxAsterisk:
    """One sandbox Asterisk process, its generated configuration, and its credentials.

    Usage::

        sandbox = SandboxAsterisk()
        await sandbox.start()
        try:
            print(await sandbox.cli("core show version"))
        finally:
            await sandbox.stop()

    or ``async with SandboxAsterisk() as sandbox: ...``.

    Files (configuration, logs, Asterisk's database and control socket) live in ``work_dir``.
    When it is not given, a fresh folder under ``/tmp`` is created at the first start and removed
    by :meth:`stop`; a given folder is the caller's and is never removed.
    """

    def __init__(
        self,
        ports: SandboxPorts | None = None,
        *,
        root: Path | None = None,
        dialplan_dir: Path | None = None,
        work_dir: Path | None = None,
        boot_timeout: float = 30.0,
    ) -> None:
        """Describe a sandbox; nothing starts before :meth:`start`.

        ``root`` defaults to ``$VISIOREGUL_SANDBOX_ROOT`` or ``/var/lib/visioregul-sandbox/root``;
        ``dialplan_dir`` to the repository's ``dialplan/`` folder; ``work_dir`` must be under
        ``/tmp``, the only host folder the chroot sees.
        """
        self._ports = ports or SandboxPorts()
        self._desks: IdleDesks | None = None
        self._root = (root or Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)).resolve()
        self._dialplan_dir = (
            dialplan_dir or Path(__file__).resolve().parents[2] / "dialplan"
        ).resolve()
        self._owns_work_dir = work_dir is None
        self._work_dir = work_dir.resolve() if work_dir is not None else None
        self._boot_timeout = boot_timeout
        self._process: subprocess.Popen[bytes] | None = None
        if self._work_dir is not None:
            self._check_shared(self._work_dir)

    # --- description ----------------------------------------------------------------------------

    @property
    def ports(self) -> SandboxPorts:
        """The ports the sandbox listens on."""
        return self._ports

    @property
    def desks(self) -> IdleDesks:
        """The responders on the phone ports while no phone runs (see :mod:`.desks`)."""
        if self._desks is None:
            raise SandboxError("the sandbox Asterisk is not running")
        return self._desks

    @property
    def host(self) -> str:
        """Address of every sandbox service (SIP, AMI, HTTP)."""
        return HOST

    @property
    def root(self) -> Path:
        """The chroot holding Asterisk."""
        return self._root

    @property
    def dialplan_dir(self) -> Path:
        """The shipped ``dialplan/`` folder, whose ``visioregul-*.conf`` files are loaded as is."""
        return self._dialplan_dir

    @property
    def sipp_dir(self) -> Path:
        """The sipp scenarios that simulate the operator trunk and the regulators' phones."""
        return self._dialplan_dir / "sandbox" / "sipp"

    @property
    def work_dir(self) -> Path | None:
        """The folder of this run's files, once started."""
        return self._work_dir

    @property
    def config_dir(self) -> Path | None:
        """The generated configuration (``asterisk.conf`` and the rest), once started."""
        return self._work_dir / "etc" if self._work_dir else None

    @property
    def log_path(self) -> Path | None:
        """Asterisk's log file (notices, warnings, errors, verbose), once started."""
        return self._work_dir / "log" / "messages.log" if self._work_dir else None

    @property
    def pid(self) -> int | None:
        """The Asterisk process id while it runs."""
        return self._process.pid if self.is_running else None  # type: ignore[union-attr]

    @property
    def is_running(self) -> bool:
        """Whether the Asterisk process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def ami_user(self) -> str:
        """The service's AMI user, declared from the shipped ``visioregul-ami`` template."""
        return SERVICE_AMI_USER

    @property
    def ami_secret(self) -> str:
        """The service's AMI secret."""
        return SERVICE_AMI_SECRET

    @property
    def admin_ami_user(self) -> str:
        """A sandbox-only AMI user with every right (tests: transfers, inspection)."""
        return ADMIN_AMI_USER

    @property
    def admin_ami_secret(self) -> str:
        """The sandbox-only admin AMI user's secret."""
        return ADMIN_AMI_SECRET

    @property
    def ari_user(self) -> str:
        """The service's ARI user, declared from the shipped ``visioregul-ari`` template."""
        return ARI_USER

    @property
    def ari_password(self) -> str:
        """The service's ARI password."""
        return ARI_PASSWORD

    @property
    def ari_url(self) -> str:
        """Base URL of Asterisk's HTTP server; ARI lives under ``/ari`` (``/ari/events``...)."""
        return f"http://{HOST}:{self._ports.http}"

    def is_installed(self) -> bool:
        """Whether ``install.sh`` completed for :attr:`root` (mounts are checked at start)."""
        return (self._root / MARKER_NAME).is_file() and (
            self._root / ASTERISK_BIN.lstrip("/")
        ).is_file()

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Generate the configuration and start Asterisk; return once it is fully booted.

        Raises :class:`SandboxNotInstalled` when the root is missing or not mounted, and
        :class:`SandboxStartError` (with the tail of Asterisk's log) when it does not boot within
        ``boot_timeout`` seconds.
        """
        if self.is_running:
            raise SandboxError(f"the sandbox Asterisk already runs (pid {self.pid})")
        self._check_installed()
        work_dir = self._prepare_work_dir()
        self._write_config(work_dir)
        self._check_mounts(work_dir)
        conf = str(work_dir / "etc" / "asterisk.conf")
        stdout_log = work_dir / "log" / "asterisk.out"
        command = ["chroot", str(self._root), ASTERISK_BIN, "-f", "-n", "-C", conf]
        logger.info("starting the sandbox Asterisk (config %s)", conf)
        if self._desks is None:
            self._desks = IdleDesks(HOST, self._ports.phones)
            self._desks.start()
        self._process = spawn(command, output=stdout_log)
        try:
            await self._wait_fully_booted()
        except BaseException:
            await self._terminate()
            raise
        logger.info(
            "sandbox Asterisk ready: pid %d, SIP %d, AMI %d, HTTP %d",
            self._process.pid,
            self._ports.sip,
            self._ports.ami,
            self._ports.http,
        )

    async def stop(self) -> None:
        """Stop Asterisk (SIGTERM, SIGKILL after 5 s) and remove a work folder it created.

        Safe to call twice, or without a start.
        """
        await self._terminate()
        if self._desks is not None:
            self._desks.stop()
            self._desks = None
        if self._owns_work_dir and self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None

    async def restart(self) -> None:
        """Stop and start again on the same ports (clients see Asterisk go away and come back)."""
        await self._terminate()
        await self.start()

    async def cli(self, command: str, *, timeout: float = 10.0) -> str:
        """Run one Asterisk CLI command (``asterisk -rx``) and return its output."""
        if not self.is_running or self._work_dir is None:
            raise SandboxError("the sandbox Asterisk is not running")
        code, output = await self._remote(command, timeout=timeout)
        if code != 0:
            raise SandboxError(f"asterisk -rx {command!r} exited with {code}: {output.strip()}")
        return output

    async def hang_up_everything(self, timeout: float = 10.0) -> int:
        """Hang up every channel and wait until none is left; return how many there were.

        Between tests: a call a failed test left up (a queue still ringing the desks, a parked
        call) would otherwise ring the next test's phones.
        """
        count = _active_channels(await self.cli("core show channels count"))
        if count:
            await self.cli("channel request hangup all")
        deadline = time.monotonic() + timeout
        while _active_channels(await self.cli("core show channels count")):
            if time.monotonic() >= deadline:
                raise SandboxError(f"channels still up {timeout:.0f} s after hanging up all")
            await asyncio.sleep(0.1)
        return count

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The end of Asterisk's log and of its standard output, to explain a failure."""
        if self._work_dir is None:
            return "(no log: the sandbox was not started)"
        log_dir = self._work_dir / "log"
        return (
            f"--- {log_dir / 'messages.log'}\n{tail(log_dir / 'messages.log', lines)}\n"
            f"--- {log_dir / 'asterisk.out'}\n{tail(log_dir / 'asterisk.out', lines)}"
        )

    async def __aenter__(self) -> SandboxAsterisk:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- internals ------------------------------------------------------------------------------

    def _not_installed(self, why: str) -> SandboxNotInstalled:
        script = self._dialplan_dir / "sandbox" / "install.sh"
        return SandboxNotInstalled(
            f"{why}. Run, as root: bash {script} (idempotent: it builds the root the first "
            "time, in about a minute, and mounts what a reboot unmounted)"
        )

    def _check_installed(self) -> None:
        if not self.is_installed():
            raise self._not_installed(f"the sandbox Asterisk is not installed in {self._root}")

    def _check_mounts(self, work_dir: Path) -> None:
        # Mounts do not survive a reboot; install.sh puts them back.
        if not os.path.ismount(self._root / "proc"):
            raise self._not_installed(f"{self._root / 'proc'} is not mounted")
        if not (self._root / work_dir.relative_to("/") / "etc" / "asterisk.conf").is_file():
            raise self._not_installed(f"the host's /tmp is not bound on {self._root / 'tmp'}")

    @staticmethod
    def _check_shared(path: Path) -> None:
        if not path.is_relative_to(SHARED_TMP):
            raise SandboxError(f"{path} must be under {SHARED_TMP}: the chroot sees nothing else")

    def _prepare_work_dir(self) -> Path:
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="visioregul-asterisk-", dir=SHARED_TMP))
        work_dir = self._work_dir
        for sub in ("etc", "lib", "keys", "spool", "run", "log"):
            (work_dir / sub).mkdir(parents=True, exist_ok=True)
        # A stale control socket from a killed run would make -rx talk to nobody.
        with contextlib.suppress(FileNotFoundError):
            (work_dir / "run" / "asterisk.ctl").unlink()
        return work_dir

    def _write_config(self, work_dir: Path) -> None:
        templates = self._dialplan_dir / "sandbox" / "conf"
        shipped = sorted(self._dialplan_dir.glob("visioregul-*.conf"))
        if not templates.is_dir() or not shipped:
            raise SandboxError(f"no sandbox configuration found under {self._dialplan_dir}")
        etc = work_dir / "etc"
        phone_template = (templates / "pjsip-phone.conf.in").read_text()
        phones = "".join(
            _render(phone_template, {"POSITION": position, "PHONE_PORT": str(port)})
            for position, port in sorted(self._ports.phones.items())
        )
        values = {
            "CONF_DIR": str(etc),
            "WORK_DIR": str(work_dir),
            "SIP_PORT": str(self._ports.sip),
            "AMI_PORT": str(self._ports.ami),
            "HTTP_PORT": str(self._ports.http),
            "TRUNK_PORT": str(self._ports.trunk),
            "AMI_SECRET": SERVICE_AMI_SECRET,
            "ADMIN_USER": ADMIN_AMI_USER,
            "ADMIN_SECRET": ADMIN_AMI_SECRET,
            "ARI_PASSWORD": ARI_PASSWORD,
            "PHONES": phones,
        }
        for template in sorted(templates.glob("*.conf")):
            (etc / template.name).write_text(_render(template.read_text(), values))
        # The shipped files go in verbatim: the sandbox runs what the centres install.
        for path in shipped:
            shutil.copyfile(path, etc / path.name)

    async def _remote(self, command: str, *, timeout: float) -> tuple[int, str]:
        assert self._work_dir is not None
        conf = str(self._work_dir / "etc" / "asterisk.conf")
        process = await asyncio.create_subprocess_exec(
            "chroot",
            str(self._root),
            ASTERISK_BIN,
            "-C",
            conf,
            "-rx",
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return -1, f"(no answer within {timeout:.0f} s)"
        return process.returncode or 0, output.decode(errors="replace")

    async def _wait_fully_booted(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._boot_timeout
        last = ""
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise SandboxStartError(
                    f"Asterisk exited with {code} while starting.\n{self.log_tail()}"
                )
            remaining = max(deadline - time.monotonic(), 0.5)
            code, last = await self._remote("core waitfullybooted", timeout=min(remaining, 5.0))
            if code == 0 and "fully booted" in last:
                return
            await asyncio.sleep(_POLL_S)
        raise SandboxStartError(
            f"Asterisk was not fully booted after {self._boot_timeout:.0f} s "
            f"(last answer: {last.strip()!r}).\n{self.log_tail()}"
        )

    async def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        code = await end_process(process)
        logger.info("sandbox Asterisk (pid %d) stopped with %d", process.pid, code)


def _render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``@@NAME@@`` placeholders; any placeholder left unfilled is an error."""
    text = template
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    leftover = _PLACEHOLDER.search(text)
    if leftover:
        raise SandboxError(f"unknown placeholder {leftover.group()} in the sandbox configuration")
    return text


def _active_channels(output: str) -> int:
    """The count in ``core show channels count``'s "N active channel(s)" line."""
    match = re.search(r"(\d+) active channels?", output)
    if match is None:
        raise SandboxError(f"unexpected 'core show channels count' output: {output.strip()!r}")
    return int(match.group(1))


_FIXED_PORTS_FROM = 20000
"""Sandbox ports are picked from here up to the kernel's ephemeral range."""


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768 when it cannot be read)."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return max(_FIXED_PORTS_FROM + 1000, int(text.split()[0]))
    except (OSError, ValueError, IndexError):
        return 32768
