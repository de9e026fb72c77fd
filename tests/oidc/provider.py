"""A real OpenID provider for the tests: ``provider.mjs`` (the certified ``oidc-provider``
package on Debian's Node.js, configured like Pro Santé Connect), started per test.

It fails, never skips, when Node.js or the npm package is missing (``make setup`` runs
``npm ci``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import unused_port

from visioregul.integration.settings import PscSettings

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("provider.mjs")
CLIENT_ID = "visioregul"
CLIENT_SECRET = "visioregul-test-client-secret-0123456789"


@dataclass(frozen=True)
class Provider:
    """A running provider."""

    issuer: str
    log: Path
    """Its standard error: warnings, back-channel logouts sent and failed."""


def client(
    service: str,
    client_id: str = CLIENT_ID,
    *,
    signed_userinfo: bool = True,
    auth_method: str = "client_secret_basic",
    jwks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The registration of a console at ``service`` (its public URL), as an administrator
    makes it at Pro Santé Connect."""
    registration: dict[str, Any] = {
        "client_id": client_id,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [f"{service}/console/psc/callback"],
        "post_logout_redirect_uris": [f"{service}/console/login"],
        "backchannel_logout_uri": f"{service}/console/psc/backchannel-logout",
        "backchannel_logout_session_required": True,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": auth_method,
    }
    if signed_userinfo:
        registration["userinfo_signed_response_alg"] = "RS256"
    if jwks is not None:  # private_key_jwt: the service's public key
        registration["jwks"] = jwks
        del registration["client_secret"]
    return registration


def settings_for(provider: Provider, client_id: str = CLIENT_ID, **changes: Any) -> PscSettings:
    """The ``[psc]`` settings that use ``provider`` with the registration of :func:`client`."""
    return PscSettings(
        enabled=True,
        issuer=provider.issuer,
        client_id=client_id,
        client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
        **changes,
    )


@asynccontextmanager
async def running_provider(
    clients: list[dict[str, Any]], host: str = "localhost"
) -> AsyncIterator[Provider]:
    """The provider on a free port of 127.0.0.1, its issuer at ``host`` (``localhost``: another
    site than the service's 127.0.0.1, as Pro Santé Connect is for a centre's console)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is missing: apt-get install nodejs (make setup needs it too)")
    if not (ROOT / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the npm package oidc-provider is missing: run `npm ci` (make setup does)")
    port = unused_port()
    issuer = f"http://{host}:{port}"
    # Its log in a file (never a pipe that nobody reads and that could fill up).
    log = tempfile.NamedTemporaryFile(prefix="oidc-provider-", suffix=".log", delete=False)  # noqa: SIM115
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        cwd=ROOT,
        env={
            **os.environ,
            "OIDC_PORT": str(port),
            "OIDC_ISSUER": issuer,
            "OIDC_CLIENTS": json.dumps(clients),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line.startswith(b"listening"):
            await asyncio.wait_for(process.wait(), 10)
            error = _read(log.name)
            pytest.fail(f"the OpenID provider did not start: {error}")
        yield Provider(issuer, Path(log.name))
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
        _remove(log.name)


def _read(path: str) -> str:
    return Path(path).read_text(errors="replace")


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)
