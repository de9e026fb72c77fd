"""A private nginx from Debian in front of the service, configured as ``config/examples/nginx.conf``
(TLS left out: the proxy directives are the ones under test)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

NGINX = "/usr/sbin/nginx"

CONFIG = """
daemon off;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;

    upstream visioregul {{
        server 127.0.0.1:{upstream};
        keepalive 16;
    }}

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 20m;

        location /p/ {{
            access_log off;
            proxy_pass http://visioregul;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
        }}

        location / {{
            proxy_pass http://visioregul;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 12h;
        }}
    }}
}}
"""


def free_port() -> int:
    """A TCP port free on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def nginx(root: Path, upstream: int, port: int) -> AsyncIterator[None]:
    """nginx on ``127.0.0.1:port`` proxying to ``127.0.0.1:upstream``, until the block ends."""
    if not (os.access(NGINX, os.X_OK) or shutil.which("nginx")):
        pytest.fail(
            "nginx is missing: install it with `bash tests/services/nginx.sh` (make test does)",
            pytrace=False,
        )
    # As root, nginx's workers would run as nobody, who cannot enter the test's private folder.
    user = "user root;" if os.geteuid() == 0 else ""
    config = root / "nginx.conf"
    text = CONFIG.format(root=root, upstream=upstream, port=port, user=user)
    await asyncio.to_thread(_write, config, text)
    process = await asyncio.create_subprocess_exec(
        NGINX, "-p", str(root), "-c", str(config), "-e", str(root / "error.log")
    )
    try:
        await _until_listening(port, process, root)
        yield
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def _until_listening(port: int, process: asyncio.subprocess.Process, root: Path) -> None:
    async with asyncio.timeout(10):
        while True:
            if process.returncode is not None:
                log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
                pytest.fail(f"nginx exited with {process.returncode}:\n{log}", pytrace=False)
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return
