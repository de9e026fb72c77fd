"""The VisioRegul service as its own process inside the lab's service namespace.

It listens on the lab's service address (``http://10.77.1.1:443``: the one port a firewall that
blocks UDP lets through) and on a Unix socket, by which the tests (in the host's namespace) reach
it. Its peers gather only the lab's service address. The sandbox Asterisk's AMI and ARI, on the
host's loopback, reach it through the lab's forwarders. ``python -m tests.field.service CONFIG``
is the process; :func:`start_service` starts it and waits until its telephony link is up.
"""

from __future__ import annotations

import asyncio
import json
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.sandbox.asterisk import SandboxAsterisk

from .lab import REPOSITORY, SERVICE_ADDRESS, SERVICE_NS, Lab, in_namespace_command

PORT = 443
USERNAME = "regulateur"
PASSWORD = "field password 15"
CAD_KEY = "field-cad-key"
START_TIMEOUT = 60.0


@dataclass
class FieldService:
    """The running service: its public URL, the Unix socket the tests use, its process."""

    process: subprocess.Popen[str]
    base_url: str
    socket_path: Path
    log_path: Path

    async def health(self) -> dict[str, Any]:
        """``/healthz`` with the CAD key (the telephony link's state included)."""
        connector = aiohttp.UnixConnector(path=str(self.socket_path))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.get(
                "http://service/healthz", headers={"Authorization": f"Bearer {CAD_KEY}"}
            ) as response,
        ):
            body: dict[str, Any] = await response.json()
            return body

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until the service answers ``ok`` (store and telephony link up)."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service stopped; its log: {self.log_path}")
            try:
                last = await self.health()
                if isinstance(last, dict) and last.get("status") == "ok":
                    return
            except (aiohttp.ClientError, OSError) as exc:
                last = exc
            await asyncio.sleep(0.2)
        raise AssertionError(f"the service is not ready after {timeout} s: {last}")

    def stop(self) -> None:
        """Terminate the process (killed if it does not end)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_service(
    lab: Lab,
    sandbox: SandboxAsterisk,
    workdir: Path,
    sections: dict[str, dict[str, Any]] | None = None,
) -> FieldService:
    """The service in the lab's service namespace, pointed at ``sandbox`` (AMI), its messages
    in the outbox; ``sections`` adds to its settings, by section (e.g. ``{"video":
    {"turn_urls": [...], "turn_secret": ...}}``). Returns once the process listens (see
    :meth:`FieldService.wait_ready`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    lab.forward_to_host(sandbox.ports.ami)
    lab.forward_to_host(sandbox.ports.http)
    socket_path = workdir / "service.sock"
    socket_path.unlink(missing_ok=True)
    base_url = f"http://{SERVICE_ADDRESS}:{PORT}"
    config = {
        "data_dir": str(workdir),
        "host": SERVICE_ADDRESS,
        "port": PORT,
        "public_url": base_url,
        "socket_path": str(socket_path),
        "ami": {
            "host": "127.0.0.1",
            "port": sandbox.ports.ami,
            "username": sandbox.ami_user,
            "secret": sandbox.ami_secret,
        },
        "sections": sections or {},
    }
    config_path = workdir / "service.json"
    config_path.write_text(json.dumps(config))
    log_path = workdir / "service.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*in_namespace_command(SERVICE_NS), sys.executable, "-m", "tests.field.service",
             str(config_path)],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )  # fmt: skip
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if line.strip() != "ready":
        process.kill()
        process.wait()
        raise RuntimeError(f"the service did not start (said {line!r}); its log: {log_path}")
    return FieldService(process, base_url, socket_path, log_path)


async def _serve(config: dict[str, Any]) -> None:
    """The service process: ready on stdout, until SIGTERM."""
    import aioice.ice
    from aiohttp import web

    from visioregul.integration import accounts, appkeys
    from visioregul.integration.app import create_app
    from visioregul.integration.settings import Settings
    from visioregul.integration.store.models import Role

    # The phone must see the lab's service address only (not the relay's, nor the probes').
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [config["host"]]
    data_dir = Path(config["data_dir"])
    sections: dict[str, dict[str, Any]] = {
        "service": {
            "data_dir": str(data_dir),
            "host": config["host"],
            "port": config["port"],
            "public_url": config["public_url"],
        },
        "database": {"url": f"sqlite+aiosqlite:///{data_dir}/db.sqlite"},
        "telephony": {
            "source": "ami",
            "ami": config["ami"],
            "reconnect_min": 0.2,
            "reconnect_max": 1.0,
        },
        "console": {"api_keys": [{"key": CAD_KEY}]},
        # A benchmark invites the same number many times an hour.
        "messaging": {
            "per_regulator_per_hour": 100_000,
            "per_destination_per_hour": 100_000,
            "global_per_minute": 100_000,
        },
    }
    for name, values in config.get("sections", {}).items():
        sections[name] = {**sections.get(name, {}), **values}
    settings = Settings.model_validate(sections)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config["host"], config["port"]).start()
    await web.UnixSite(runner, config["socket_path"]).start()
    async with app[appkeys.DB].begin() as db:
        await accounts.ensure_account(
            db, USERNAME, PASSWORD, display_name=USERNAME, role=Role.REGULATOR
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    """Entry point of ``python -m tests.field.service CONFIG``."""
    import ctypes
    import logging

    # Ends with the tests that started it, even when they are killed.
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_serve(json.loads(Path(sys.argv[1]).read_text())))


if __name__ == "__main__":
    main()
