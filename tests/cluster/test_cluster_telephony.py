"""Instances of a cluster each watch the sandbox Asterisk, through AMI: each has its own link
up, which its ``/readyz`` counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_check_asterisk import ami_connections
from tests.sandbox import SandboxAsterisk

from .harness import cluster, fresh_postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.asterisk]


async def test_given_the_sandbox_asterisk_then_every_instance_has_its_own_link_up(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    before = await ami_connections(sandbox, sandbox.ami_user)
    async with (
        fresh_postgres_database() as url,
        cluster(tmp_path, url, count=2, telephony="ami", sandbox=sandbox, together=False) as visio,
    ):
        for name in visio.names:
            status, body = await visio.readyz(name)
            assert (status, body["telephony"], body["other_instances"]) == (200, "up", "heard")
        # Two AMI sessions more: one per instance (telephony off would say "up" too).
        assert await ami_connections(sandbox, sandbox.ami_user) >= before + 2
