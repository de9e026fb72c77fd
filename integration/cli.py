"""The ``visioregul`` command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from .settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .store.models import Account

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
    add.add_argument(
        "--role", default="regulator", choices=["regulator", "doctor", "admin", "platform_admin"]
    )
    add.add_argument(
        "--position",
        action="append",
        default=[],
        help="a desk phone the account may take, e.g. PJSIP/1001 (repeat for several; the first "
        "is its default; none: any position of the centre)",
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    account_commands.add_parser("list", help="list the accounts")
    disable = account_commands.add_parser(
        "disable", help="disable an account: no more sign-in, its console logins revoked"
    )
    disable.add_argument("username")
    remove = account_commands.add_parser(
        "remove", help="delete an account that has no history (else: disable it)"
    )
    remove.add_argument("username")
    practitioner = account_commands.add_parser(
        "practitioner",
        help="link the account to a practitioner's national identifier (RPPS/ADELI, as Pro "
        "Santé Connect gives it) for signing in with a CPS card",
    )
    practitioner.add_argument("username")
    practitioner.add_argument(
        "national_id", nargs="?", metavar="IDENTIFIER", help="e.g. 810012345678"
    )
    practitioner.add_argument(
        "--clear", action="store_true", help="unlink: the account signs in with its password only"
    )

    position = commands.add_parser("position", help="the centre's declared positions")
    position_commands = position.add_subparsers(
        dest="position_command", required=True, metavar="ACTION"
    )
    position_add = position_commands.add_parser("add", help="declare desk phones")
    position_add.add_argument("endpoints", nargs="+", metavar="ENDPOINT", help="e.g. PJSIP/1004")
    position_commands.add_parser("list", help="list the declared positions")
    position_remove = position_commands.add_parser(
        "remove",
        help="withdraw a position (accounts lose it; one listed in console.positions comes back "
        "at the next start: remove it there too)",
    )
    position_remove.add_argument("endpoint", metavar="ENDPOINT")
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
    if settings.service.log_format == "json":
        from .log_format import use_json_logs

        use_json_logs(settings.service.instance)
    if args.command == "serve":
        return _serve(settings)
    if args.command == "db":
        return asyncio.run(_db(settings, args.db_command))
    if args.command == "check-asterisk":
        return asyncio.run(_check(settings, args.wait_call))
    if args.command == "account":
        if args.account_command == "add":
            return asyncio.run(_account_add(settings, args))
        return asyncio.run(_account_admin(settings, args.account_command, args))
    if args.command == "position":
        return asyncio.run(_position(settings, args))
    return 2


def _serve(settings: Settings) -> int:
    from .app import create_app
    from .production_checks import advisories, production_problems
    from .store.instance_lock import AnotherInstance

    problems = asyncio.run(production_problems(settings))
    if problems:
        print(
            f"visioregul: refusing to start with the public URL {settings.service.public_url}:",
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    for advice in advisories(settings):
        log.warning("%s", advice)
    log.info(
        "VisioRegul on http://%s:%s (public URL %s), telephony source %s",
        settings.service.host,
        settings.service.port,
        settings.service.public_url,
        settings.telephony.source,
    )
    try:
        web.run_app(
            create_app(settings),
            host=settings.service.host,
            port=settings.service.port,
            print=None,
            access_log=None,
        )
    except AnotherInstance as exc:
        print(f"visioregul: {exc}", file=sys.stderr)
        return 2
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
    from .centres import declare_centres
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
            # The configured centres and desks first, as the service declares them at start.
            await declare_centres(session, settings)
            account = await accounts.ensure_account(
                session,
                args.username,
                password,
                display_name=args.display_name or args.username,
                role=Role(args.role),
                positions=args.position,
                position_pattern=settings.telephony.position_pattern,
            )
            granted = await accounts.account_positions_of(session, account)
            await audit.record(
                session,
                actor="system",
                action="account.saved",
                target=account.username,
                details={"positions": args.position},
            )
    except accounts.AccountError as exc:
        print(f"visioregul: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    print(f"account {account.username} ({account.role}) saved, positions: {', '.join(granted)}")
    return 0


async def _position(settings: Settings, args: argparse.Namespace) -> int:
    from . import audit
    from .centres import declare_centres
    from .positions import (
        InvalidPosition,
        declare_positions,
        declared_positions,
        remove_position,
    )
    from .store.db import create_engine, make_sessionmaker, upgrade

    await upgrade(settings.database.url)
    engine = create_engine(settings.database)
    try:
        async with make_sessionmaker(engine).begin() as session:
            # The configured centres and desks first, as the service declares them at start.
            await declare_centres(session, settings)
            if args.position_command == "add":
                added = await declare_positions(
                    session, args.endpoints, pattern=settings.telephony.position_pattern
                )
                for position in added:
                    await audit.record(
                        session,
                        actor="system",
                        action="position.declared",
                        target=position.endpoint,
                    )
            elif args.position_command == "remove":
                if not await remove_position(session, args.endpoint):
                    print(f"visioregul: position {args.endpoint} is not declared", file=sys.stderr)
                    return 1
                await audit.record(
                    session, actor="system", action="position.removed", target=args.endpoint
                )
            for endpoint in await declared_positions(session):
                print(endpoint)
    except InvalidPosition as exc:
        print(f"visioregul: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    return 0


async def _account_admin(settings: Settings, action: str, args: argparse.Namespace) -> int:
    from . import account_admin, accounts, audit
    from .store.db import create_engine, make_sessionmaker, upgrade

    await upgrade(settings.database.url)
    engine = create_engine(settings.database)
    try:
        async with make_sessionmaker(engine).begin() as session:
            if action == "list":
                for account in await account_admin.list_accounts(session):
                    print(_account_line(account))
                return 0
            if action == "practitioner":
                return await _account_practitioner(session, args)
            if action == "disable":
                account, revoked = await account_admin.disable_account(session, args.username)
                await audit.record(
                    session,
                    actor=audit.ACTOR_SYSTEM,
                    action="account.disabled",
                    target=account.username,
                    details={"logins_revoked": revoked},
                )
                print(f"account {account.username} disabled ({revoked} console logins revoked)")
                return 0
            account = await account_admin.remove_account(session, args.username)
            await audit.record(
                session, actor=audit.ACTOR_SYSTEM, action="account.removed", target=account.username
            )
            print(f"account {account.username} removed")
            return 0
    except accounts.AccountError as exc:
        print(f"visioregul: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()


async def _account_practitioner(session: AsyncSession, args: argparse.Namespace) -> int:
    from . import audit, practitioners

    if args.clear == (args.national_id is not None):
        print("visioregul: give either an IDENTIFIER or --clear", file=sys.stderr)
        return 2
    account = await practitioners.set_practitioner_id(session, args.username, args.national_id)
    await audit.record(
        session,
        actor=audit.ACTOR_SYSTEM,
        action="account.practitioner",
        target=account.username,
        details={"practitioner_id": account.practitioner_id},
    )
    if account.practitioner_id is None:
        print(f"account {account.username}: no practitioner identifier (password only)")
    else:
        name, national_id = account.username, account.practitioner_id
        print(f"account {name} signs in with Pro Santé Connect as {national_id}")
    return 0


def _account_line(account: Account) -> str:
    last = account.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if account.last_login_at else "-"
    state = "disabled" if account.disabled else "enabled"
    return (
        f"{account.username:<20} {account.role.value:<10} {state:<9} "
        f"{account.position or '-':<14} last login {last}  {account.display_name}"
        + (f"  [PSC {account.practitioner_id}]" if account.practitioner_id else "")
    )


if __name__ == "__main__":
    sys.exit(main())
