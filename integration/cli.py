"""The ``visioregul`` command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from pathlib import Path

from aiohttp import web

from .settings import Settings, SettingsError, load_settings

__all__ = ["main"]

log = logging.getLogger("visioregul")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visioregul",
        description="VisioRegul: video from the caller's phone to the SAMU regulator.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML configuration file (default: $VISIOREGUL_CONFIG, else the embedded defaults)",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING... (INFO)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("serve", help="run the service")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply pending migrations")
    db_commands.add_parser("current", help="show the database's revision")

    check = commands.add_parser(
        "check-asterisk", help="check the connection, permissions and dialplan in Asterisk"
    )
    check.add_argument(
        "--wait-call",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also wait this long for a test call to a tagged line and check its events",
    )

    account = commands.add_parser("account", help="console accounts")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    add = account_commands.add_parser("add", help="create an account (or reset its password)")
    add.add_argument("username")
    add.add_argument("--display-name", default=None)
    add.add_argument("--role", default="regulator", choices=["regulator", "doctor", "admin"])
    add.add_argument("--position", default=None, help="default desk phone, e.g. PJSIP/1001")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if logging.getLogger().level > logging.DEBUG:
        # Their INFO lines (migration plugins, AMI protocol version) say nothing to an operator.
        for noisy in ("alembic", "panoramisk"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"visioregul: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings)
    if args.command == "db":
        return asyncio.run(_db(settings, args.db_command))
    if args.command == "check-asterisk":
        return asyncio.run(_check(settings, args.wait_call))
    if args.command == "account":
        return asyncio.run(_account_add(settings, args))
    return 2


def _serve(settings: Settings) -> int:
    from .app import create_app

    log.info(
        "VisioRegul on http://%s:%s (public URL %s), telephony source %s",
        settings.service.host,
        settings.service.port,
        settings.service.public_url,
        settings.telephony.source,
    )
    web.run_app(
        create_app(settings),
        host=settings.service.host,
        port=settings.service.port,
        print=None,
        access_log=None,
    )
    return 0


async def _db(settings: Settings, action: str) -> int:
    from .store.db import current_revision, head_revision, upgrade

    if action == "upgrade":
        await upgrade(settings.database.url)
    revision = await current_revision(settings.database.url)
    print(f"database at revision {revision} (head: {head_revision()})")
    return 0


async def _check(settings: Settings, wait_call: float) -> int:
    from .telephony.check import check_asterisk

    if wait_call > 0:
        print(f"Waiting up to {wait_call:.0f} s: place a test call to a tagged line now.")
    report = await check_asterisk(settings, wait_call=wait_call)
    print(report.render())
    return 0 if report.ok else 1


async def _account_add(settings: Settings, args: argparse.Namespace) -> int:
    from . import accounts, audit
    from .store.db import create_engine, make_sessionmaker, upgrade
    from .store.models import Role

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.username}: ")
    await upgrade(settings.database.url)
    engine = create_engine(settings.database)
    try:
        async with make_sessionmaker(engine).begin() as session:
            account = await accounts.ensure_account(
                session,
                args.username,
                password,
                display_name=args.display_name or args.username,
                role=Role(args.role),
                position=args.position,
            )
            await audit.record(
                session, actor="system", action="account.saved", target=account.username
            )
    except accounts.AccountError as exc:
        print(f"visioregul: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    print(f"account {account.username} ({account.role}) saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
