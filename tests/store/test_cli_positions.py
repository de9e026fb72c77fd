"""``visioregul position add|list|remove`` and ``account add --position``, as an admin runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from visioregul.integration import accounts
from visioregul.integration.settings import DatabaseSettings
from visioregul.integration.store.db import create_engine, make_sessionmaker
from visioregul.integration.store.models import Account

from .conftest import NewDatabase

PASSWORD = "correct horse battery"


def _run(url: str, tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VISIOREGUL_DATABASE__URL": url,
        "VISIOREGUL_SERVICE__DATA_DIR": str(tmp_path),
    }
    env.pop("VISIOREGUL_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "visioregul.integration.cli", "--log-level", "WARNING", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def _account_positions(url: str, username: str) -> tuple[str | None, list[str]]:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with make_sessionmaker(engine)() as db:
            account = await accounts.get_account_by_username(db, username)
            assert isinstance(account, Account)
            return account.position, await accounts.account_positions_of(db, account)
    finally:
        await engine.dispose()


async def test_given_the_commands_then_positions_are_declared_granted_and_withdrawn(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    url = await new_database()

    async def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(_run, url, tmp_path, *args, stdin=stdin)

    added = await run("position", "add", "PJSIP/1004")
    assert added.returncode == 0, added.stderr
    # The configured desks are declared too (as the service does at start).
    assert added.stdout.split() == ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003", "PJSIP/1004"]

    refused = await run("position", "add", "PJSIP/trunk-orange")
    assert refused.returncode == 2
    assert "does not match the position pattern" in refused.stderr

    saved = await run(
        "account",
        "add",
        "medecin",
        "--role",
        "doctor",
        "--position",
        "PJSIP/1004",
        "--position",
        "PJSIP/1002",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert saved.returncode == 0, saved.stderr
    assert "positions: PJSIP/1002, PJSIP/1004" in saved.stdout
    assert await _account_positions(url, "medecin") == ("PJSIP/1004", ["PJSIP/1002", "PJSIP/1004"])

    wrong = await run(
        "account", "add", "medecin", "--position", "Local/1001", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert wrong.returncode == 2
    assert "does not match the position pattern" in wrong.stderr
    assert await _account_positions(url, "medecin") == ("PJSIP/1004", ["PJSIP/1002", "PJSIP/1004"])

    removed = await run("position", "remove", "PJSIP/1004")
    assert removed.returncode == 0, removed.stderr
    assert "PJSIP/1004" not in removed.stdout.split()
    assert await _account_positions(url, "medecin") == (None, ["PJSIP/1002"])
    again = await run("position", "remove", "PJSIP/1004")
    assert again.returncode == 1
    assert "not declared" in again.stderr
    listed = await run("position", "list")
    assert listed.stdout.split() == ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"]
