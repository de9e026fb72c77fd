"""Account administration: from the command line (list, disable, remove) and by the centres'
administrators on the console (list, create, edit, reset a password, unlock, deactivate).

Disabling is the normal way to end someone's access: the account can no longer sign in, its live
console logins are revoked at once, and every history that names it stays readable. Removing is
for an account that never did anything (created by mistake): an account whose name appears in a
session's log or in the audit log beyond its own creation is refused, so that no history ends up
naming somebody unknown. Functions take the caller's ``AsyncSession`` and never commit.

On the console an administrator manages the accounts of the centres they manage
(:mod:`.centre_admin`): another centre's account is answered like an unknown one, a centre
administrator neither gives nor touches the platform administrator's role, and nobody
deactivates, demotes or resets themselves (their own password is changed on their own page). A
password an administrator sets is temporary: the account must choose its own at its next
sign-in. Every action goes to the audit log (actor, target, centre).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import accounts, console_logins
from .accounts import AccountError, get_account_by_username
from .authorization import Principal
from .centre_admin import (
    AccountNameTaken,
    AccountNotFound,
    AccountRefused,
    RoleNotAllowed,
    SelfChangeRefused,
    check_centre,
    check_declared,
    grantable_roles,
    record,
)
from .login_throttle import LoginLimiter
from .sessions.models import SessionEvent, VisioSession
from .store.models import Account, AuditEntry, Centre, Position, Role, account_positions

__all__ = [
    "AccountHasHistory",
    "ManagedAccount",
    "UnknownAccount",
    "centre_accounts",
    "create_centre_account",
    "disable_account",
    "list_accounts",
    "remove_account",
    "reset_password",
    "set_disabled",
    "unlock_account",
    "update_centre_account",
]

_ADMIN_ACTIONS = ("account.saved", "account.disabled")
"""Audit actions about an account that are not its history (what an admin did to it)."""


class UnknownAccount(AccountError):
    """No account has that name."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no account named {username!r}")


class AccountHasHistory(AccountError):
    """The account appears in session logs or in the audit log: it can only be disabled."""

    def __init__(self, username: str) -> None:
        super().__init__(
            f"account {username!r} has a history (sessions or audit entries name it) and cannot "
            f"be removed; disable it instead: visioregul account disable {username}"
        )


async def list_accounts(session: AsyncSession) -> list[Account]:
    """Every account, by username."""
    return list(await session.scalars(select(Account).order_by(Account.username)))


async def disable_account(session: AsyncSession, username: str) -> tuple[Account, int]:
    """Disable the account and revoke its live logins; return it and how many were revoked."""
    account = await get_account_by_username(session, username)
    if account is None:
        raise UnknownAccount(username)
    account.disabled = True
    revoked = await console_logins.revoke_account(session, account.id)
    await session.flush()
    return account, len(revoked)


async def remove_account(session: AsyncSession, username: str) -> Account:
    """Delete an account that has no history; raise ``AccountHasHistory`` otherwise."""
    account = await get_account_by_username(session, username)
    if account is None:
        raise UnknownAccount(username)
    name = account.username
    named = await session.scalar(
        select(
            or_(
                exists().where(AuditEntry.actor == name, AuditEntry.action.not_in(_ADMIN_ACTIONS)),
                exists().where(or_(VisioSession.created_by == name, VisioSession.ended_by == name)),
                exists().where(SessionEvent.actor == name),
            )
        )
    )
    if named:
        raise AccountHasHistory(name)
    await console_logins.revoke_account(session, account.id)
    await session.delete(account)
    await session.flush()
    return account


# -- the centres' administrators, on the console -------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManagedAccount:
    """An account as its administrators see it."""

    id: int
    username: str
    display_name: str
    role: Role
    positions: list[str]
    """The positions it was given; empty: every position of its centre."""
    disabled: bool
    must_change_password: bool
    last_login_at: datetime | None
    locked_out: bool
    """Its sign-ins are delayed after failures (an administrator may unlock it)."""


def _refused(exc: AccountError) -> Exception:
    """The domain's refusal for an account rule broken."""
    if isinstance(exc, accounts.UsernameTaken):
        return AccountNameTaken(**exc.details)
    return AccountRefused(exc.error_id.replace("-", "_"), **exc.details)


def _check_password(password: str) -> None:
    if len(password) < accounts.PASSWORD_MIN_LENGTH:
        raise AccountRefused("weak_password", min_length=accounts.PASSWORD_MIN_LENGTH)
    if len(password) > accounts.PASSWORD_MAX_LENGTH:
        raise AccountRefused("password_too_long", max_length=accounts.PASSWORD_MAX_LENGTH)


def _check_role(admin: Principal, role: str) -> Role:
    try:
        wanted = Role(role)
    except ValueError:
        raise RoleNotAllowed(role=role) from None
    if wanted not in grantable_roles(admin):
        raise RoleNotAllowed(role=wanted.value)
    return wanted


async def _given(db: AsyncSession, account_ids: Sequence[int]) -> dict[int, list[str]]:
    rows = await db.execute(
        select(account_positions.c.account_id, Position.endpoint)
        .join(Position, Position.id == account_positions.c.position_id)
        .where(account_positions.c.account_id.in_(list(account_ids)))
        .order_by(Position.endpoint)
    )
    given: dict[int, list[str]] = {}
    for account_id, endpoint in rows.all():
        given.setdefault(account_id, []).append(endpoint)
    return given


async def _view(account: Account, positions: list[str], throttle: LoginLimiter) -> ManagedAccount:
    return ManagedAccount(
        id=account.id,
        username=account.username,
        display_name=account.display_name,
        role=Role(account.role),
        positions=positions,
        disabled=account.disabled,
        must_change_password=account.must_change_password,
        last_login_at=account.last_login_at,
        locked_out=await throttle.locked_out(f"user:{account.username}"),
    )


async def _managed(
    db: AsyncSession, admin: Principal, centre_id: int, account_id: int
) -> tuple[Centre, Account]:
    """The centre and the account ``admin`` may manage; another centre's is unknown."""
    centre = await check_centre(db, admin, centre_id)
    account = await db.get(Account, account_id)
    if account is None or account.centre_id != centre.id:
        raise AccountNotFound()
    if account.role is Role.PLATFORM_ADMIN and admin.role is not Role.PLATFORM_ADMIN:
        raise RoleNotAllowed(role=Role.PLATFORM_ADMIN.value)
    return centre, account


async def _grant(db: AsyncSession, account: Account, endpoints: Sequence[str]) -> list[str]:
    """Make ``endpoints`` (declared by the account's centre) exactly the account's positions."""
    wanted = await check_declared(db, account.centre_id, endpoints)
    ids = list(
        await db.scalars(
            select(Position.id).where(
                Position.centre_id == account.centre_id, Position.endpoint.in_(wanted)
            )
        )
    )
    await db.execute(delete(account_positions).where(account_positions.c.account_id == account.id))
    if ids:
        await db.execute(
            insert(account_positions),
            [{"account_id": account.id, "position_id": position_id} for position_id in ids],
        )
    if account.position not in wanted:
        account.position = wanted[0] if wanted else None
    return sorted(wanted)


async def centre_accounts(
    db: AsyncSession, admin: Principal, centre_id: int, throttle: LoginLimiter
) -> list[ManagedAccount]:
    """The centre's accounts, by username."""
    await check_centre(db, admin, centre_id)
    rows = list(
        await db.scalars(
            select(Account).where(Account.centre_id == centre_id).order_by(Account.username)
        )
    )
    given = await _given(db, [account.id for account in rows])
    return [await _view(account, given.get(account.id, []), throttle) for account in rows]


async def create_centre_account(
    db: AsyncSession,
    admin: Principal,
    centre_id: int,
    *,
    username: str,
    display_name: str,
    role: str,
    positions: Sequence[str],
    password: str,
    throttle: LoginLimiter,
) -> ManagedAccount:
    """Create an account of the centre with a temporary password (to change at first sign-in)."""
    centre = await check_centre(db, admin, centre_id)
    wanted = _check_role(admin, role)
    endpoints = await check_declared(db, centre.id, positions)
    try:
        account = await accounts.create_account(
            db, username, password, display_name=display_name, role=wanted
        )
    except AccountError as exc:
        raise _refused(exc) from exc
    account.centre_id = centre.id
    account.must_change_password = True
    await db.flush()
    given = await _grant(db, account, endpoints)
    await db.flush()
    await record(
        db, admin, "account.created", centre, account.username, role=wanted.value, positions=given
    )
    return await _view(account, given, throttle)


async def update_centre_account(
    db: AsyncSession,
    admin: Principal,
    centre_id: int,
    account_id: int,
    *,
    display_name: str,
    role: str,
    positions: Sequence[str],
    throttle: LoginLimiter,
) -> ManagedAccount:
    """Change an account's name, role and positions (an administrator keeps their own role)."""
    centre, account = await _managed(db, admin, centre_id, account_id)
    wanted = _check_role(admin, role)
    if account.username == admin.username and wanted is not account.role:
        raise SelfChangeRefused("self_change_refused", action="role")
    try:
        name = accounts._check_display_name(display_name)
    except AccountError as exc:
        raise _refused(exc) from exc
    before = {"display_name": account.display_name, "role": Role(account.role).value}
    account.display_name, account.role = name, wanted
    given = await _grant(db, account, positions)
    await db.flush()
    await record(
        db,
        admin,
        "account.updated",
        centre,
        account.username,
        before=before,
        display_name=name,
        role=wanted.value,
        positions=given,
    )
    return await _view(account, given, throttle)


async def reset_password(
    db: AsyncSession,
    admin: Principal,
    centre_id: int,
    account_id: int,
    password: str,
    throttle: LoginLimiter,
) -> tuple[ManagedAccount, list[str]]:
    """Give an account a temporary password, to change at its next sign-in; its console logins
    are revoked and its sign-in failures forgotten. The account and the logins revoked."""
    centre, account = await _managed(db, admin, centre_id, account_id)
    if account.username == admin.username:
        raise SelfChangeRefused("self_change_refused", action="password")
    _check_password(password)
    account.password_hash = await asyncio.to_thread(accounts.hash_password, password)
    account.must_change_password = True
    revoked = await console_logins.revoke_account(db, account.id)
    await throttle.unlock(account.username)
    await db.flush()
    await record(
        db, admin, "account.password_reset", centre, account.username, revoked_logins=len(revoked)
    )
    given = (await _given(db, [account.id])).get(account.id, [])
    return await _view(account, given, throttle), revoked


async def unlock_account(
    db: AsyncSession, admin: Principal, centre_id: int, account_id: int, throttle: LoginLimiter
) -> ManagedAccount:
    """Forget the sign-in failures counted against an account (its growing delay ends)."""
    centre, account = await _managed(db, admin, centre_id, account_id)
    was_locked = await throttle.locked_out(f"user:{account.username}")
    await throttle.unlock(account.username)
    await record(db, admin, "account.unlocked", centre, account.username, was_locked=was_locked)
    given = (await _given(db, [account.id])).get(account.id, [])
    return await _view(account, given, throttle)


async def set_disabled(
    db: AsyncSession,
    admin: Principal,
    centre_id: int,
    account_id: int,
    disabled: bool,
    throttle: LoginLimiter,
) -> tuple[ManagedAccount, list[str]]:
    """Deactivate an account (its console logins revoked at once) or reactivate it; the account
    and the logins revoked. Nobody deactivates themselves."""
    centre, account = await _managed(db, admin, centre_id, account_id)
    if account.username == admin.username and disabled:
        raise SelfChangeRefused("self_change_refused", action="disable")
    account.disabled = disabled
    revoked = await console_logins.revoke_account(db, account.id) if disabled else []
    await db.flush()
    await record(
        db,
        admin,
        "account.disabled" if disabled else "account.enabled",
        centre,
        account.username,
        revoked_logins=len(revoked),
    )
    given = (await _given(db, [account.id])).get(account.id, [])
    return await _view(account, given, throttle), revoked
