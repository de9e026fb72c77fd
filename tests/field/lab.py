"""The lab: two network namespaces joined by the shaped link of :mod:`labd`.

``vrlab-phone`` holds the patient's phone (10.77.0.2, or 10.77.2.2 after a handover), routed
entirely through the link; ``vrlab-svc`` holds the service (10.77.1.1), the relay's address
(10.77.1.2) and the lab's own probes (10.77.1.3). IPv6 is off in both; nothing is added to the
host's namespace. :meth:`Lab.use` applies a profile, :meth:`Lab.cut` takes the link down for a
while, :meth:`Lab.handover` moves the phone to another network.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .netns import NETNS_DIR, ip, socket_in
from .profiles import UNSHAPED, Profile, profile_named

PHONE_NS = "vrlab-phone"
SERVICE_NS = "vrlab-svc"
PHONE_TUN = "vrlab-tun-p"
SERVICE_TUN = "vrlab-tun-s"
PHONE_ADDRESS = "10.77.0.2"
"""The phone on its first network (Wi-Fi)."""
PHONE_ADDRESS_AFTER_HANDOVER = "10.77.2.2"
"""The phone on its second network (4G), after :meth:`Lab.handover`."""
SERVICE_ADDRESS = "10.77.1.1"
"""The service's web front."""
RELAY_ADDRESS = "10.77.1.2"
"""The relay's (coturn's) address: its TLS listens on 443 as the web front does."""
PROBE_ADDRESS = "10.77.1.3"
"""The lab's own probes (calibration, shaping checks), clear of the service and the relay."""
REPOSITORY = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 10.0
LOCK_PATH = Path("/run/vrlab.lock")
"""Held while a lab runs: a second one (a calibration during a test run) waits its turn instead of
removing the first one's namespaces."""
LOCK_TIMEOUT = 1800.0


class LabUnavailable(RuntimeError):
    """A tool the lab needs is missing on this machine."""


def missing_tools() -> list[str]:
    """What the lab needs and does not find (``ip``, ``nft``, ``/dev/net/tun``)."""
    missing = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
    if not Path("/dev/net/tun").exists():
        missing.append("/dev/net/tun")
    return missing


def remove_namespaces() -> None:
    """Remove the lab's namespaces and end the processes still running in them (a run that
    failed half-way leaves them: they are the lab's own)."""
    for namespace in (PHONE_NS, SERVICE_NS):
        if not Path(NETNS_DIR, namespace).exists():
            continue
        for pid in ip("netns", "pids", namespace, check=False).split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        ip("netns", "del", namespace, check=False)


def in_namespace_command(namespace: str) -> list[str]:
    """The prefix that runs a command in ``namespace``."""
    return ["ip", "netns", "exec", namespace]


def _sysctl(namespace: str, setting: str, value: str) -> None:
    path = "/proc/sys/" + setting.replace(".", "/")
    subprocess.run(
        [*in_namespace_command(namespace), "sh", "-c", f"echo {value} > {path}"], check=True
    )


class Lab:
    """The two namespaces and the link's process; :meth:`start` builds, :meth:`close` removes."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.control_path = workdir / "link.sock"
        self.process: subprocess.Popen[str] | None = None
        self._control: socket.socket | None = None
        self._reader: Any = None
        self.profile: Profile = UNSHAPED
        self.phone_address = PHONE_ADDRESS
        self._forwarded: set[int] = set()
        self._lock: Any = None

    def start(self) -> Lab:
        """Build the namespaces and the link (removing a previous run's leftovers first)."""
        missing = missing_tools()
        if missing:
            raise LabUnavailable(
                f"the network lab needs {', '.join(missing)}: run tests/services/netlab.sh "
                "(make system does)"
            )
        self._take_lock()
        remove_namespaces()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.control_path.unlink(missing_ok=True)
        for namespace in (PHONE_NS, SERVICE_NS):
            ip("netns", "add", namespace)
            _sysctl(namespace, "net.ipv6.conf.all.disable_ipv6", "1")
            _sysctl(namespace, "net.ipv6.conf.default.disable_ipv6", "1")
            ip("-n", namespace, "link", "set", "lo", "up")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "tests.field.labd",
                "--phone-ns", PHONE_NS, "--service-ns", SERVICE_NS,
                "--phone-tun", PHONE_TUN, "--service-tun", SERVICE_TUN,
                "--control", str(self.control_path),
            ],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], READY_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if line.strip() != "ready":
            self.close()
            raise LabUnavailable(f"the lab's link did not start (said {line!r})")
        ip("-n", PHONE_NS, "link", "set", PHONE_TUN, "up")
        ip("-n", PHONE_NS, "addr", "add", f"{PHONE_ADDRESS}/32", "dev", PHONE_TUN)
        # Everything the phone sends goes through the link, as on a real phone.
        ip("-n", PHONE_NS, "route", "add", "default", "dev", PHONE_TUN)
        ip("-n", SERVICE_NS, "link", "set", SERVICE_TUN, "up")
        for address in (SERVICE_ADDRESS, RELAY_ADDRESS, PROBE_ADDRESS):
            ip("-n", SERVICE_NS, "addr", "add", f"{address}/32", "dev", SERVICE_TUN)
        ip("-n", SERVICE_NS, "route", "add", "10.77.0.0/16", "dev", SERVICE_TUN)
        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        control.connect(str(self.control_path))
        self._control = control
        self._reader = control.makefile("r")
        return self

    def close(self) -> None:
        """Stop the link and remove the namespaces (and whatever still runs in them)."""
        if self._control is not None:
            self._reader.close()
            self._control.close()
            self._control = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        remove_namespaces()
        self.control_path.unlink(missing_ok=True)
        self._forwarded.clear()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _take_lock(self) -> None:
        lock = LOCK_PATH.open("w")
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    lock.close()
                    raise LabUnavailable(f"another lab holds {LOCK_PATH}") from None
                time.sleep(0.5)
        self._lock = lock

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """One request to the link's process; its answer (raises when it refuses)."""
        assert self._control is not None, "the lab is not started"
        self._control.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
        answer: dict[str, Any] = json.loads(self._reader.readline())
        if not answer.get("ok"):
            raise RuntimeError(f"the lab's link refused {op}: {answer.get('error')}")
        return answer

    def use(self, profile: Profile | str) -> Profile:
        """Shape the link as ``profile`` (the phone back on its first network)."""
        profile = profile_named(profile) if isinstance(profile, str) else profile
        self.request(
            "profile",
            up=profile.up.as_json(),
            down=profile.down.as_json(),
            tcp_443_only=profile.tcp_443_only,
        )
        self._move_phone(PHONE_ADDRESS)
        self._nat(profile.udp_only_from_relay)
        self.profile = profile
        return profile

    def _nat(self, udp_only_from_relay: bool) -> None:
        """nftables in the phone's namespace: inbound UDP only from the relay's address, so that
        the service cannot reach the phone directly, not even peer-reflexively."""
        nft = [*in_namespace_command(PHONE_NS), "nft"]
        subprocess.run([*nft, "flush", "ruleset"], check=True)
        if not udp_only_from_relay:
            return
        rules = (
            "table ip vrlab_nat {\n"
            "  chain inbound {\n"
            "    type filter hook input priority 0; policy accept;\n"
            f'    iifname "{PHONE_TUN}" ip protocol udp ip saddr != {RELAY_ADDRESS} drop\n'
            "  }\n"
            "}\n"
        )
        subprocess.run([*nft, "-f", "-"], input=rules, text=True, check=True)

    def _move_phone(self, address: str) -> None:
        if address == self.phone_address:
            return
        ip("-n", PHONE_NS, "addr", "add", f"{address}/32", "dev", PHONE_TUN)
        ip("-n", PHONE_NS, "addr", "del", f"{self.phone_address}/32", "dev", PHONE_TUN)
        self.phone_address = address

    def uplink(self, rate_bps: int | None) -> None:
        """The phone's uplink at ``rate_bps`` from now on (None: the profile's own rate), the
        rest of the profile unchanged: a dip and its end."""
        up = self.profile.up
        if rate_bps is not None:
            # As the profiles do: the queue bound grows so that a full-size packet can pass.
            up = replace(
                up, rate_bps=rate_bps, queue_ms=max(up.queue_ms, 3 * 1500 * 8e3 / rate_bps)
            )
        self.request(
            "profile",
            up=up.as_json(),
            down=self.profile.down.as_json(),
            tcp_443_only=self.profile.tcp_443_only,
        )

    def cut(self, seconds: float) -> None:
        """The link down for ``seconds`` in both directions, then back by itself."""
        self.request("cut", seconds=seconds)

    def handover(self, cut_seconds: float = 1.0) -> str:
        """The phone leaves its network for another (Wi-Fi to 4G): a short cut, and its address
        changes (its connections through the old one are dead). Returns the new address."""
        self.cut(cut_seconds)
        other = (
            PHONE_ADDRESS_AFTER_HANDOVER if self.phone_address == PHONE_ADDRESS else PHONE_ADDRESS
        )
        self._move_phone(other)
        return other

    def stats(self) -> dict[str, Any]:
        """Both directions' counters and the link process's CPU seconds so far."""
        return self.request("stats")

    def forward_to_host(self, port: int, target_port: int | None = None) -> None:
        """127.0.0.1:``port`` inside the service's namespace leads to the host's 127.0.0.1
        (``target_port``, the same by default): the sandbox Asterisk's AMI and ARI. Once per
        port: a second call keeps the first forwarder."""
        if port in self._forwarded:
            return
        self.request(
            "forward",
            namespace=SERVICE_NS,
            port=port,
            target_host="127.0.0.1",
            target_port=target_port or port,
        )
        self._forwarded.add(port)

    def phone_socket(
        self, kind: socket.SocketKind = socket.SOCK_STREAM, bind: tuple[str, int] | None = None
    ) -> socket.socket:
        """A socket on the phone."""
        return socket_in(PHONE_NS, kind, bind)

    def service_socket(
        self, kind: socket.SocketKind = socket.SOCK_STREAM, bind: tuple[str, int] | None = None
    ) -> socket.socket:
        """A socket in the service's namespace."""
        return socket_in(SERVICE_NS, kind, bind)
