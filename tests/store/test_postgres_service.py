"""The test command's PostgreSQL helper, as the Makefile calls it: inside "$(...)".

A server started by the script must not hold the command substitution's pipe open, or the test
command waits forever before pytest even starts. This starts a second, private cluster (its own
folder and port) so the suite's server is left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "services" / "postgres.sh"

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_cluster() -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.fail("the PostgreSQL helper runs as root (as the test command does)")
    # Under /var/lib: every parent must be searchable by the postgres user (not the case of /root).
    folder = Path("/var/lib") / f"visioregul-test-pg-helper-{os.getpid()}"
    env = dict(
        os.environ,
        VISIOREGUL_TEST_PG_DIR=str(folder),
        VISIOREGUL_TEST_PG_PORT=str(_free_port()),
    )
    try:
        yield env
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=90)
        shutil.rmtree(folder, ignore_errors=True)


def test_starting_inside_command_substitution_returns_the_url(
    private_cluster: dict[str, str],
) -> None:
    # Exactly the Makefile's form. Before the fix this never returned: the server kept fd 3.
    shell = 'url="$(bash "$1")"; status=$?; printf "%s" "$url"; exit $status'
    try:
        done = subprocess.run(
            ["bash", "-c", shell, "bash", str(SCRIPT)],
            env=private_cluster,
            capture_output=True,
            text=True,
            timeout=90,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("postgres.sh started the server but never returned inside $(...)")
    assert done.returncode == 0, done.stderr
    port = private_cluster["VISIOREGUL_TEST_PG_PORT"]
    assert done.stdout == f"postgresql+asyncpg://postgres@127.0.0.1:{port}/visioregul_test"

    # A second call finds it running and prints the same URL: the helper is idempotent.
    again = subprocess.run(
        ["bash", "-c", shell, "bash", str(SCRIPT)],
        env=private_cluster,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == done.stdout
    assert "already running" in again.stderr
