"""``visioregul serve`` refuses a public (https) service configured like a sandbox or a demo."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from visioregul.integration import accounts
from visioregul.integration.production_checks import DEMO_ACCOUNTS, advisories
from visioregul.integration.settings import DatabaseSettings, MessagingSettings, Settings
from visioregul.integration.store.db import create_engine, make_sessionmaker, upgrade
from visioregul.integration.store.models import Role

from .conftest import Visioregul, write_config

PRODUCTION = """
[service]
public_url = "https://visio.samu-99.fr"
data_dir = "{data}"
port = {port}
[database]
url = "sqlite+aiosqlite:///{data}/db.sqlite"
[telephony]
source = "{source}"
[telephony.ami]
secret = "{ami_secret}"
[console]
secure_cookies = {secure}
[messaging]
sms = "{sms}"
email = "{email}"
[messaging.twilio]
account_sid = "AC00000000000000000000000000000000"
from_number = "+33700000000"
auth_token = "twilio-token-of-the-test"
api_base_url = "http://127.0.0.1:9"
[messaging.smtp]
host = "127.0.0.1"
port = 9
"""


def _config(tmp_path: Path, **overrides: object) -> None:
    values: dict[str, object] = {
        "data": tmp_path,
        "port": _free_port(),
        "source": "ami",
        "ami_secret": "the-centres-own-ami-secret",
        "secure": "true",
        "sms": "twilio",
        "email": "smtp",
        **overrides,
    }
    write_config(tmp_path / "config.toml", PRODUCTION.format(**values))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_given_sandbox_secret_insecure_cookies_and_outbox_then_serve_refuses_naming_each(
    tmp_path: Path, visioregul: Visioregul
) -> None:
    _config(
        tmp_path,
        ami_secret="visioregul-sandbox-ami",
        secure="false",
        sms="outbox",
        email="outbox",
    )
    result = visioregul("serve")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "visioregul: refusing to start with the public URL https://visio.samu-99.fr:",
        "  - telephony.ami.secret is the sandbox's secret: set the centre's own "
        "(VISIOREGUL_TELEPHONY__AMI__SECRET)",
        "  - console.secure_cookies is false: set it to true behind TLS, or login cookies travel "
        "in clear",
        '  - messaging.sms is "outbox": invitations would never leave the service; use "twilio"',
        '  - messaging.email is "outbox": invitations would never leave the service; use "smtp"',
    ]


def test_given_the_ari_source_with_the_sandbox_password_then_serve_refuses(
    tmp_path: Path, visioregul: Visioregul
) -> None:
    _config(tmp_path, source="ari")
    result = visioregul("serve")
    assert result.returncode == 2
    assert result.stderr.splitlines()[1:] == [
        "  - telephony.ari.password is the sandbox's password: set the centre's own "
        "(VISIOREGUL_TELEPHONY__ARI__PASSWORD)"
    ]


def test_given_the_demo_account_in_the_database_then_serve_refuses_until_it_is_disabled(
    tmp_path: Path, visioregul: Visioregul
) -> None:
    _config(tmp_path)
    asyncio.run(_create_demo_account(tmp_path))
    result = visioregul("serve")
    assert result.returncode == 2
    assert result.stderr.splitlines()[1:] == [
        "  - the demo account 'regulateur' (published password) is enabled: "
        "visioregul account disable regulateur"
    ]
    assert visioregul("account", "disable", "regulateur").returncode == 0
    _serves(tmp_path)


def test_given_a_production_configuration_then_serve_starts(tmp_path: Path) -> None:
    _config(tmp_path)
    _serves(tmp_path)


async def _create_demo_account(tmp_path: Path) -> None:
    database = DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite")
    await upgrade(database.url)
    engine = create_engine(database)
    try:
        async with make_sessionmaker(engine).begin() as db:
            await accounts.ensure_account(
                db,
                "regulateur",
                DEMO_ACCOUNTS["regulateur"],
                display_name="Démo",
                role=Role.REGULATOR,
                position="PJSIP/1001",
            )
    finally:
        await engine.dispose()


def _serves(tmp_path: Path) -> None:
    """``serve`` starts and answers ``/healthz`` (then it is stopped)."""
    config = tmp_path / "config.toml"
    port = int(
        next(line for line in config.read_text().splitlines() if line.startswith("port")).split(
            "="
        )[1]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISIOREGUL_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "visioregul.integration.cli", "--config", str(config), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                    assert reply.status == 200
                    return
            except OSError:
                assert time.monotonic() < deadline, "the service did not answer within 30 s"
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_given_postgresql_with_the_outbox_over_http_then_a_warning_names_it() -> None:
    settings = Settings(
        database=DatabaseSettings(url="postgresql+asyncpg://visioregul@127.0.0.1/visioregul"),
        messaging=MessagingSettings(sms="outbox", email="smtp"),
    )
    assert advisories(settings) == [
        "messaging.sms uses the local outbox with PostgreSQL: invitations never leave the service "
        "(a staging service?)"
    ]
    assert advisories(Settings()) == []
