"""Several ``visioregul serve`` processes on one PostgreSQL, behind a private nginx from Debian.

Each instance is a real process started as an operator starts it (``python -m
visioregul.integration.cli --config <instance>.toml serve``), with its own ``instance_id``
(``visio-1``...), its own port on 127.0.0.1 and ``direct_url``; all share the database, the
``cluster_secret`` (given in the environment, as the deployment example does), the ``data_dir``
and the public URL, which is the load balancer's. The load balancer's configuration is made from
the shipped ``config/examples/cluster/nginx.conf``, only its addresses, ports and TLS changed, so
that the shipped file is the one under test.

Use :func:`cluster` (or the ``cluster`` fixture of ``tests/cluster/conftest.py``)::

    async with fresh_postgres_database() as url, cluster(tmp_path, url) as visio:
        await visio.kill("visio-2")
        async with aiohttp.ClientSession() as http:
            await http.get(f"{visio.lb_url}/healthz")
        await visio.start("visio-2")
        await visio.wait_ready("visio-2")

nginx's access log (:meth:`Cluster.served`) tells which instances each request was tried on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import secrets
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.sandbox import SandboxAsterisk
from tests.store.conftest import _postgres_base_url
from tests.web.nginx import NGINX, free_port

__all__ = [
    "PASSWORD",
    "SHIPPED_NGINX_CONF",
    "USERNAME",
    "Cluster",
    "ClusterError",
    "Instance",
    "Telephony",
    "cluster",
    "fresh_postgres_database",
    "nginx_site",
]

REPOSITORY = Path(__file__).resolve().parents[2]
SHIPPED_NGINX_CONF = REPOSITORY / "config" / "examples" / "cluster" / "nginx.conf"
"""The load balancer's configuration as shipped to centres."""

USERNAME = "regulateur"
"""The regulator account the cluster is started with (position ``PJSIP/1001``)."""
PASSWORD = "cluster password 15"
"""Its password."""

Telephony = Literal["none", "ami", "ari"]
"""How the instances reach the telephony: not at all, or the sandbox Asterisk's AMI or ARI."""

READY_TIMEOUT = 60.0
"""How long an instance may take to answer 200 on ``/readyz`` (three start on two cores)."""
STOP_TIMEOUT = 30.0
"""How long a stopped instance may take to exit after SIGTERM (it hands its rooms over)."""
_LOG_TAIL = 60

_PRCTL = ctypes.CDLL(None, use_errno=True).prctl
_PR_SET_PDEATHSIG = 1


class ClusterError(AssertionError):
    """An instance or the load balancer did not do what the harness waited for; the message
    holds the end of its log."""


def _die_with_parent() -> None:
    # Between fork and exec: a test run killed at once takes its instances with it.
    _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


@dataclass
class Instance:
    """One service process of the cluster."""

    name: str
    """Its ``service.instance_id`` (``visio-1``...)."""
    port: int
    """Its own port on 127.0.0.1."""
    config_path: Path
    """Its TOML configuration file."""
    log_path: Path
    """Its standard output and error, kept across restarts."""
    process: asyncio.subprocess.Process | None = None
    """The running process, if started."""

    @property
    def url(self) -> str:
        """Its own URL (its ``service.direct_url``), bypassing the load balancer."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id, while it runs."""
        return self.process.pid if self.process and self.process.returncode is None else None

    def log_tail(self, lines: int = _LOG_TAIL) -> str:
        """The last ``lines`` of its log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    """The running instances and the load balancer in front of them."""

    lb_url: str
    """The load balancer's URL: every instance's ``service.public_url``."""
    instances: dict[str, Instance]
    """By name, in start order."""
    data_dir: Path
    """The ``service.data_dir`` the instances share."""
    database_url: str
    """The PostgreSQL database they share."""
    nginx_root: Path
    """nginx's folder: ``nginx.conf``, ``site.conf`` (from the shipped file), logs."""
    _env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The instances' names, in start order."""
        return list(self.instances)

    @property
    def access_log(self) -> Path:
        """nginx's access log: one line per request, ``<status>|<upstream_addr>|<request>``."""
        return self.nginx_root / "access.log"

    def instance(self, name: str) -> Instance:
        """The instance called ``name``."""
        return self.instances[name]

    def url(self, name: str) -> str:
        """The direct URL of the instance called ``name``."""
        return self.instances[name].url

    def name_of(self, upstream: str) -> str:
        """The instance behind ``127.0.0.1:<port>`` as nginx names an upstream."""
        port = int(upstream.rsplit(":", 1)[1])
        return next(i.name for i in self.instances.values() if i.port == port)

    def served(self) -> list[tuple[int, list[str], str]]:
        """The load balancer's requests so far: status, instances tried in order (the last one
        answered), request line. ``/p/`` requests are not logged (as shipped)."""
        served: list[tuple[int, list[str], str]] = []
        if not self.access_log.exists():
            return served
        for line in self.access_log.read_text().splitlines():
            status, upstreams, request = line.split("|", 2)
            tried = [self.name_of(u.strip()) for u in upstreams.split(",") if ":" in u]
            served.append((int(status), tried, request))
        return served

    async def served_since(
        self, since: int, count: int, timeout: float = 10.0
    ) -> list[tuple[int, list[str], str]]:
        """The ``count`` requests the load balancer served after its first ``since`` (see
        :meth:`served`), once it has logged them: nginx logs a request after its answer."""
        deadline = time.monotonic() + timeout
        while len(served := self.served()) < since + count:
            if time.monotonic() > deadline:
                raise ClusterError(f"nginx logged {len(served) - since} of {count} requests")
            await asyncio.sleep(0.05)
        return served[since : since + count]

    async def start(self, name: str) -> None:
        """Start the instance called ``name`` (again) with its configuration; returns at once
        (see :meth:`wait_ready`)."""
        instance = self.instances[name]
        if instance.pid is not None:
            raise ClusterError(f"{name} runs already (pid {instance.pid})")
        with instance.log_path.open("ab") as log:
            log.write(f"--- start {name} ---\n".encode())
            log.flush()
            instance.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "visioregul.integration.cli",
                "--config",
                str(instance.config_path),
                "serve",
                cwd=self.data_dir,
                env=self._env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )

    async def kill(self, name: str) -> None:
        """SIGKILL the instance called ``name``, as a crash would, and reap it."""
        process = self.instances[name].process
        if process is None or process.returncode is not None:
            return
        process.kill()
        await asyncio.wait_for(process.wait(), 10)

    async def stop(self, name: str, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM the instance called ``name``, as ``systemctl stop`` does, and wait for it to
        exit; returns its exit code (that of its end if it was not running; killed after
        ``timeout``, and :class:`ClusterError`)."""
        instance = self.instances[name]
        process = instance.process
        if process is None:
            raise ClusterError(f"{name} was never started")
        if process.returncode is not None:
            return process.returncode
        process.terminate()
        try:
            return await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ClusterError(
                f"{name} did not exit within {timeout} s of SIGTERM:\n{instance.log_tail()}"
            ) from None

    async def readyz(self, name: str) -> tuple[int, dict[str, Any]]:
        """``/readyz`` of the instance called ``name``, directly: status and body."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.url(name)}/readyz", timeout=aiohttp.ClientTimeout(total=5)) as reply,
        ):
            body: dict[str, Any] = await reply.json()
            return reply.status, body

    async def wait_ready(self, name: str, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """Poll ``/readyz`` of the instance called ``name`` until it answers 200; returns its
        body. :class:`ClusterError` with its log's end if it exits or is not ready in time."""
        instance = self.instances[name]
        deadline = time.monotonic() + timeout
        last: object = "no answer"
        while time.monotonic() < deadline:
            process = instance.process
            if process is None or process.returncode is not None:
                code = None if process is None else process.returncode
                raise ClusterError(f"{name} is not running (exit {code}):\n{instance.log_tail()}")
            try:
                status, body = await self.readyz(name)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last = exc
            else:
                if status == 200:
                    return body
                last = body
            await asyncio.sleep(0.2)
        raise ClusterError(
            f"{name} not ready after {timeout} s (last: {last}):\n{instance.log_tail()}"
        )

    async def visioregul(self, name: str, *args: str, stdin: str = "") -> str:
        """Run ``visioregul --config <name's file> <args>`` (the operator's command line);
        returns its output, :class:`ClusterError` when it fails."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "visioregul.integration.cli",
            "--config",
            str(self.instances[name].config_path),
            *args,
            cwd=self.data_dir,
            env=self._env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
        if process.returncode != 0:
            raise ClusterError(f"visioregul {' '.join(args)} failed: {err.decode()}")
        return out.decode()

    def logs(self) -> str:
        """Every instance's log end and nginx's error log, for a failed test's report."""
        parts = [
            f"=== {i.name} ({i.log_path}) ===\n{i.log_tail()}" for i in self.instances.values()
        ]
        error_log = self.nginx_root / "error.log"
        if error_log.exists():
            tail = "\n".join(error_log.read_text().splitlines()[-_LOG_TAIL:])
            parts.append(f"=== nginx ({error_log}) ===\n{tail}")
        return "\n\n".join(parts)

    async def close(self) -> None:
        """End every instance: SIGTERM, then SIGKILL for one that lingers."""
        running = [i for i in self.instances.values() if i.pid is not None]
        for instance in running:
            assert instance.process is not None
            instance.process.terminate()
        for instance in running:
            assert instance.process is not None
            try:
                await asyncio.wait_for(instance.process.wait(), 10)
            except TimeoutError:
                instance.process.kill()
                await instance.process.wait()


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """An empty database on the test PostgreSQL (``VISIOREGUL_TEST_POSTGRES_URL``), dropped
    at the end, connections and all."""
    base_url = make_url(_postgres_base_url())
    admin = create_async_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"visioregul_cluster_{uuid.uuid4().hex[:16]}"
    try:
        async with asyncio.timeout(30), admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base_url.set(database=name).render_as_string(hide_password=False)
        finally:
            async with asyncio.timeout(30), admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def cluster(
    root: Path,
    database_url: str,
    *,
    count: int = 3,
    telephony: Telephony = "none",
    sandbox: SandboxAsterisk | None = None,
    sections: dict[str, dict[str, Any]] | None = None,
    together: bool = True,
) -> AsyncIterator[Cluster]:
    """``count`` instances on ``database_url`` (empty or not) behind nginx, all files under
    ``root``; yields once every instance answers 200 on ``/readyz`` and the regulator account
    :data:`USERNAME` exists. ``telephony`` other than ``none`` needs the ``sandbox``.
    ``sections`` adds to every instance's settings, by section. ``together``: every instance
    starts at the same moment; else the first is ready before the others start (together).
    Every process ends with the block."""
    if telephony != "none" and sandbox is None:
        raise ValueError(f"telephony {telephony!r} needs the sandbox Asterisk")
    if not os.access(NGINX, os.X_OK):
        raise ClusterError(
            "nginx is missing: install it with `bash tests/services/nginx.sh` (make test does)"
        )
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    lb_port = free_port()
    lb_url = f"http://127.0.0.1:{lb_port}"
    instances = {}
    for number in range(1, count + 1):
        name = f"visio-{number}"
        port = free_port()
        config = _config(name, port, lb_url, data_dir, database_url, telephony, sandbox)
        for section, values in (sections or {}).items():
            config[section] = {**config.get(section, {}), **values}
        path = root / f"{name}.toml"
        path.write_text(_toml(config))
        instances[name] = Instance(name, port, path, root / f"{name}.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISIOREGUL_")}
    # As in the deployment example: the secret in the environment, not in the file.
    env["VISIOREGUL_SERVICE__CLUSTER_SECRET"] = secrets.token_urlsafe(32)
    visio = Cluster(lb_url, instances, data_dir, database_url, root / "nginx", env)
    try:
        # At once, on a database none has migrated yet: they take turns under its lock.
        first = [] if together else visio.names[:1]
        for name in first:
            await visio.start(name)
            await visio.wait_ready(name)
        rest = [name for name in visio.names if name not in first]
        for name in rest:
            await visio.start(name)
        await asyncio.gather(*(visio.wait_ready(name) for name in rest))
        await visio.visioregul(
            visio.names[0],
            "account",
            "add",
            USERNAME,
            "--display-name",
            "Dr Martin",
            "--position",
            "PJSIP/1001",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        async with _nginx(visio.nginx_root, [i.port for i in instances.values()], lb_port):
            yield visio
    finally:
        await visio.close()


def _config(
    name: str,
    port: int,
    lb_url: str,
    data_dir: Path,
    database_url: str,
    telephony: Telephony,
    sandbox: SandboxAsterisk | None,
) -> dict[str, dict[str, Any]]:
    telephony_section: dict[str, Any] = {
        "source": telephony,
        "reconnect_min": 0.2,
        "reconnect_max": 1.0,
    }
    if sandbox is not None:
        telephony_section["ami"] = {
            "host": "127.0.0.1",
            "port": sandbox.ports.ami,
            "username": sandbox.ami_user,
            "secret": sandbox.ami_secret,
        }
        telephony_section["ari"] = {
            "url": sandbox.ari_url,
            "username": sandbox.ari_user,
            "password": sandbox.ari_password,
        }
    return {
        "service": {
            "host": "127.0.0.1",
            "port": port,
            "public_url": lb_url,
            "data_dir": str(data_dir),
            "trusted_proxies": ["127.0.0.1"],
            "instance_id": name,
            "direct_url": f"http://127.0.0.1:{port}",
        },
        "database": {"url": database_url},
        "telephony": telephony_section,
        "messaging": {"sms": "outbox", "email": "outbox"},
    }


def _toml(sections: dict[str, dict[str, Any]]) -> str:
    """TOML for ``sections`` (strings, numbers, booleans, lists of them; one level of
    subtables). JSON's string syntax is TOML's basic string syntax."""
    lines: list[str] = []

    def table(header: str, values: dict[str, Any]) -> None:
        lines.append(f"[{header}]")
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in values.items() if k not in nested)
        for key, value in nested.items():
            table(f"{header}.{key}", value)

    for name, values in sections.items():
        table(name, values)
    return "\n".join(lines) + "\n"


def nginx_site(shipped: str, upstreams: list[int], port: int) -> str:
    """The shipped load balancer's configuration for this machine: its upstream servers become
    ``127.0.0.1:<port>`` (their parameters kept), it listens on ``127.0.0.1:port`` in plain
    HTTP, and the TLS parts are left out. Every other line is the shipped one."""
    site = shipped
    servers = re.findall(r"^\s*server 10\.0\.0\.\d+:8015( [^;]*)?;\n", site, flags=re.M)
    if len(servers) < 2 or len(set(servers)) != 1:
        raise ClusterError(f"{SHIPPED_NGINX_CONF}: expected upstream servers with one set of "
                           f"parameters, found {servers}")  # fmt: skip
    parameters = servers[0]
    lines = "".join(f"    server 127.0.0.1:{p}{parameters};\n" for p in upstreams)
    site = _once(r"(^\s*server 10\.0\.0\.\d+:8015[^;]*;\n)+", lines, site)
    # The redirect from http, then TLS: a private test listener speaks plain HTTP.
    site = _once(r"^server \{\n\s*listen 80;.*?\n\}\n", "", site)
    site = _once(r"listen 443 ssl http2;", f"listen 127.0.0.1:{port};", site)
    for directive in ("ssl_certificate", "ssl_certificate_key", "ssl_protocols"):
        site = _once(rf"^\s*{directive} [^;]*;\n", "", site)
    return site


def _once(pattern: str, replacement: str, text: str) -> str:
    # Each change must apply exactly once: a shipped file that no longer matches stops the
    # harness rather than testing something else than what is shipped.
    result, count = re.subn(pattern, lambda _m: replacement, text, flags=re.M | re.S)
    if count != 1:
        raise ClusterError(f"{SHIPPED_NGINX_CONF}: {pattern!r} matched {count} times, not once")
    return result


_NGINX_MAIN = """
daemon off;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format upstreams '$status|$upstream_addr|$request';
    access_log {root}/access.log upstreams;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    include {root}/site.conf;
}}
"""
"""What Debian's ``/etc/nginx/nginx.conf`` does around a site, in a private folder: one worker
(so that round robin is one sequence), the upstream that served each request in the log."""


@asynccontextmanager
async def _nginx(root: Path, upstreams: list[int], port: int) -> AsyncIterator[None]:
    await asyncio.to_thread(_write_nginx_config, root, upstreams, port)
    process = await asyncio.create_subprocess_exec(
        NGINX,
        "-p",
        str(root),
        "-c",
        str(root / "nginx.conf"),
        "-e",
        str(root / "error.log"),
        preexec_fn=_die_with_parent,
    )
    try:
        await _until_listening(port, lambda: process.returncode, root)
        yield
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def _write_nginx_config(root: Path, upstreams: list[int], port: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    site = nginx_site(SHIPPED_NGINX_CONF.read_text(), upstreams, port)
    (root / "site.conf").write_text(site)
    # As root, nginx's workers would run as nobody, who cannot enter the test's private folder.
    user = "user root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(_NGINX_MAIN.format(root=root, user=user))


async def _until_listening(port: int, exited: Callable[[], int | None], root: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if exited() is not None:
            log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
            raise ClusterError(f"nginx exited with {exited()}:\n{log}")
        with contextlib.suppress(OSError):
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        await asyncio.sleep(0.05)
    raise ClusterError(f"nginx does not listen on {port} after 10 s")
