"""The tests' coturn itself: credentials from its secret allocate a relay over UDP and TCP, others
are refused, and it runs inside a network namespace at an address of that namespace."""

from __future__ import annotations

import asyncio
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aioice.stun
import aioice.turn
import pytest

from tests.turn_server import TurnServer, running_turn
from visioregul.media.ice import turn_credentials

pytestmark = [pytest.mark.timeout(60)]


async def allocate(turn: TurnServer, username: str, password: str, transport: str) -> None:
    """A TURN Allocate (and its release); raises when refused."""
    endpoint, _ = await aioice.turn.create_turn_endpoint(
        asyncio.DatagramProtocol,
        server_addr=(turn.address, turn.port),
        username=username,
        password=password,
        transport=transport,
    )
    endpoint.close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_given_credentials_from_the_secret_then_a_relay_else_refused(
    coturn: TurnServer, transport: str
) -> None:
    await allocate(coturn, *coturn.credentials("patient-s1"), transport)
    with pytest.raises(aioice.stun.TransactionFailed) as refused:
        await allocate(coturn, *turn_credentials("another secret", "patient-s1"), transport)
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401
    # Expired credentials are refused too: coturn checks the time in the username.
    with pytest.raises(aioice.stun.TransactionFailed):
        await allocate(
            coturn, *turn_credentials(coturn.secret, "patient-s1", ttl=1, now=1), transport
        )
    assert "ALLOCATE processed, success" in coturn.log


@pytest.fixture
def namespace() -> Iterator[str]:
    """A network namespace of this test's own, its loopback up; deleted after."""
    name = f"vrturn-{random.randint(0, 999_999)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


async def run(*command: str) -> str:
    """A command's output (it must succeed)."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_given_a_namespace_then_coturn_listens_on_its_address_there(
    namespace: str, tmp_path: Path
) -> None:
    address = "10.77.0.3"  # the namespace's own: the host's interfaces never see it
    await run("ip", "-n", namespace, "addr", "add", f"{address}/32", "dev", "lo")
    async with running_turn(address, tmp_path / "turn", netns=namespace) as turn:
        assert turn.netns == namespace
        assert turn.urls()[-1] == f"turns:{address}:443?transport=tcp"
        sockets = await run("ip", "netns", "exec", namespace, "ss", "-Htlun")
        assert f"{address}:443" in sockets and f"{address}:3478" in sockets
    # Stopped: nothing listens there any more.
    sockets = await run("ip", "netns", "exec", namespace, "ss", "-Htlun")
    assert address not in sockets
